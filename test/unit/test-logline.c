/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "check.h"
#include "logline.h"

static const struct {
        const char *line;
        const char *tag; /* NULL: the line must be rejected */
        const char *msg;
} cases[] = {
        /* RFC 3164, space-padded and zero-padded day */
        {"Nov 30 10:00:01 mx postfix/smtpd[123]: connect from x[1.2.3.4]", "postfix/smtpd",
         "connect from x[1.2.3.4]"},
        {"Jan  1 00:00:01 mx postfix/smtpd[9]: hello", "postfix/smtpd", "hello"},
        {"Jan 01 00:00:01 mx postfix/postscreen[9]: PASS OLD [1.2.3.4]:5", "postfix/postscreen",
         "PASS OLD [1.2.3.4]:5"},
        {"Jan 1 00:00:01 mx postfix/smtpd[9]: single-digit day", "postfix/smtpd", "single-digit day"},
        /* RFC 3339, as rsyslog writes it on Debian */
        {"2026-11-30T10:00:01.123456+00:00 mx postfix/submission/smtpd[42]: warning: x",
         "postfix/submission/smtpd", "warning: x"},
        {"2026-11-30T10:00:01Z mx postfix-in/smtpd[42]: m", "postfix-in/smtpd", "m"},
        /* no pid */
        {"Nov 30 10:00:01 mx dovecot: imap-login: Disconnected", "dovecot", "imap-login: Disconnected"},
        /* empty message */
        {"Nov 30 10:00:01 mx postfix/smtpd[1]:", "postfix/smtpd", ""},
        /* fraction on an RFC 3164 stamp */
        {"Nov 30 10:00:01.5 mx postfix/smtpd[1]: m", "postfix/smtpd", "m"},
        /* garbage */
        {"", NULL, NULL},
        {"hello world", NULL, NULL},
        {"Nov 30 10:00:01", NULL, NULL},
        {"Nov 30 10:00:01 mx", NULL, NULL},
        {"Nov 30 10:00:01 mx postfix/smtpd[12", NULL, NULL},
        {"Nov 30 10:00:01 mx postfix/smtpd[x]: m", NULL, NULL},
        {"Nov 30 10:00:01 mx postfix/smtpd no colon", NULL, NULL},
        {"nov 30 10:00:01 mx postfix/smtpd[1]: lower-case month", NULL, NULL},
        {"2026-11-30 mx postfix/smtpd[1]: short stamp", NULL, NULL},
        {"Nov 30 1O:00:01 mx postfix/smtpd[1]: letter O", NULL, NULL},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                LogLine ll;
                int r = logline_parse(cases[i].line, strlen(cases[i].line), &ll);
                if (!cases[i].tag) {
                        CHECK(r < 0, "case %zu '%s': got accepted, want rejected", i, cases[i].line);
                        continue;
                }
                CHECK(r == 0, "case %zu '%s': got rejected, want accepted", i, cases[i].line);
                if (r < 0)
                        continue;
                CHECK(ll.tag_len == strlen(cases[i].tag) && !memcmp(ll.tag, cases[i].tag, ll.tag_len),
                      "case %zu: tag got '%.*s' want '%s'", i, (int)ll.tag_len, ll.tag, cases[i].tag);
                CHECK(ll.msg_len == strlen(cases[i].msg) && !memcmp(ll.msg, cases[i].msg, ll.msg_len),
                      "case %zu: msg got '%.*s' want '%s'", i, (int)ll.msg_len, ll.msg, cases[i].msg);
        }
        /* Tags of every length, ending at every offset of the 8-byte scan. */
        for (size_t n = 1; n < 40; n++) {
                char line[128], tag[64];
                LogLine ll;
                for (size_t i = 0; i < n; i++)
                        tag[i] = (char)('a' + i % 26);
                tag[n] = '\0';
                for (int pid = 0; pid < 2; pid++) {
                        int len = snprintf(line, sizeof(line), "Nov 30 10:00:01 mx %s%s: m", tag, pid ? "[12]" : "");
                        CHECK(logline_parse(line, (size_t)len, &ll) == 0 && ll.tag_len == n &&
                                      ll.msg_len == 1 && ll.msg[0] == 'm',
                              "tag of length %zu%s", n, pid ? " with pid" : "");
                        /* the same line cut right after the tag has no message separator */
                        CHECK(logline_parse(line, (size_t)(len - 3 - (pid ? 4 : 0)), &ll) < 0,
                              "cut tag of length %zu", n);
                }
        }
        /* Binary bytes and NULs: no crash, no read past the end. */
        {
                char bin[64];
                for (size_t i = 0; i < sizeof(bin); i++)
                        bin[i] = (char)(i * 37);
                LogLine ll;
                (void)logline_parse(bin, sizeof(bin), &ll);
                const char nul[] = "Nov 30 10:00:01 mx postfix/smtpd[1]: a\0b";
                CHECK(logline_parse(nul, sizeof(nul) - 1, &ll) == 0 && ll.msg_len == 3,
                      "a NUL in the message is kept: got %zu want 3", ll.msg_len);
        }
        return check_done();
}
