/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "source/logline.h"
#include "util/util.h"

/* The clock of every case: 2026-12-01T10:00:00Z (TZ=UTC unless a case says). */
#define NOW 1796119200000LL
#define T_NOV30 1796032801000LL /* 2026-11-30T10:00:01Z */

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

/* Times, pids and the newer formats. */
static const struct {
        const char *tz;
        const char *line;
        int ok;
        const char *tag, *msg;
        int64_t time_ms;
        int32_t pid;
} timed[] = {
        {"UTC", "Nov 30 10:00:01 mx postfix/smtpd[123]: m", 1, "postfix/smtpd", "m", T_NOV30, 123},
        {"UTC", "Nov 30 10:00:01.25 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", T_NOV30 + 250, 1},
        /* Postfix's maillog_file: zero-padded day */
        {"UTC", "Dec 01 07:39:25 mx postfix/smtpd[7]: m", 1, "postfix/smtpd", "m", NOW - (2 * 3600 + 20 * 60 + 35) * 1000LL, 7},
        /* no year: less than a day ahead is this year, more is last year */
        {"UTC", "Dec  2 09:00:00 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", 1796202000000LL, 1},
        {"UTC", "Dec  3 00:00:00 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", 1764720000000LL, 1},
        {"UTC", "Dec 31 23:59:59 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", 1767225599000LL, 1},
        /* local time: Berlin is UTC+1 in November, UTC+2 in June */
        {"Europe/Berlin", "Nov 30 11:00:01 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", T_NOV30, 1},
        {"Europe/Berlin", "Jun 30 12:00:01 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", 1782813601000LL, 1},
        {"Europe/Berlin", "2026-11-30T11:00:01 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", T_NOV30, 1},
        /* not a date (2026 is no leap year): the line stands, its time is unknown */
        {"UTC", "Feb 29 10:00:01 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", 0, 1},
        {"UTC", "Foo 29 10:00:01 mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", 0, 1},
        {"UTC", "2026-13-30T10:00:01Z mx postfix/smtpd[1]: m", 1, "postfix/smtpd", "m", 0, 1},
        /* RFC 3339 zones, whatever the local zone */
        {"Europe/Berlin", "2026-11-30T10:00:01Z mx postfix/smtpd[9]: m", 1, "postfix/smtpd", "m", T_NOV30, 9},
        {"UTC", "2026-11-30T10:00:01.123456+00:00 mx postfix/smtpd[9]: m", 1, "postfix/smtpd", "m", T_NOV30 + 123, 9},
        {"UTC", "2026-11-30T11:00:01+01:00 mx postfix/smtpd[9]: m", 1, "postfix/smtpd", "m", T_NOV30, 9},
        {"UTC", "2026-11-30T05:30:01-0430 mx postfix/smtpd[9]: m", 1, "postfix/smtpd", "m", T_NOV30, 9},
        {"UTC", "2026-11-30 10:00:01 mx postfix/smtpd[9]: m", 1, "postfix/smtpd", "m", T_NOV30, 9},
        /* a leading <PRI> */
        {"UTC", "<22>Nov 30 10:00:01 mx postfix/smtpd[5]: m", 1, "postfix/smtpd", "m", T_NOV30, 5},
        {"UTC", "<0>2026-11-30T10:00:01Z mx postfix/smtpd[5]: m", 1, "postfix/smtpd", "m", T_NOV30, 5},
        {"UTC", "<192>Nov 30 10:00:01 mx postfix/smtpd[5]: m", 0, NULL, NULL, 0, 0},
        {"UTC", "<22 Nov 30 10:00:01 mx postfix/smtpd[5]: m", 0, NULL, NULL, 0, 0},
        {"UTC", "<>Nov 30 10:00:01 mx postfix/smtpd[5]: m", 0, NULL, NULL, 0, 0},
        /* RFC 5424, as rsyslog's RSYSLOG_SyslogProtocol23Format writes it */
        {"UTC", "<22>1 2026-11-30T10:00:01.123456+00:00 mx postfix/smtpd 4242 - - connect from x[192.0.2.1]", 1,
         "postfix/smtpd", "connect from x[192.0.2.1]", T_NOV30 + 123, 4242},
        {"UTC", "<22>1 2026-11-30T10:00:01Z mx postfix/submission/smtpd 17 - [timeQuality tzKnown=\"1\"] m", 1,
         "postfix/submission/smtpd", "m", T_NOV30, 17},
        /* structured data whose value holds an escaped ']' and '"', two elements */
        {"UTC", "<22>1 2026-11-30T10:00:01Z mx dovecot - ID47 [a x=\"]\\\"\"][b y=\"1\"] imap-login: m", 1, "dovecot",
         "imap-login: m", T_NOV30, 0},
        {"UTC", "<22>1 - mx postfix/smtpd 3 - - m", 1, "postfix/smtpd", "m", 0, 3},
        {"UTC", "<22>1 2026-11-30T10:00:01Z mx postfix/smtpd 3 - - \xef\xbb\xbfm", 1, "postfix/smtpd", "m", T_NOV30, 3},
        {"UTC", "<22>1 2026-11-30T10:00:01Z mx postfix/smtpd 3 - -", 1, "postfix/smtpd", "", T_NOV30, 3},
        {"UTC", "<22>1 2026-11-30T10:00:01Z mx - 3 - - m", 0, NULL, NULL, 0, 0},
        {"UTC", "<22>1 2026-11-30T10:00:01Z mx postfix/smtpd 3 - [unclosed m", 0, NULL, NULL, 0, 0},
        {"UTC", "<22>1 2026-11-30T10:00:01Z mx postfix/smtpd 3 - x m", 0, NULL, NULL, 0, 0},
        {"UTC", "<22>1 2026-11-30T10:00:01Z mx postfix/smtpd", 0, NULL, NULL, 0, 0},
        {"UTC", "<22>1 junk", 0, NULL, NULL, 0, 0},
};

static void check_timed(void)
{
        for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++) {
                LogLine ll;
                int r;

                setenv("TZ", timed[i].tz, 1);
                tzset();
                r = logline_parse_at(timed[i].line, strlen(timed[i].line), NOW, &ll);
                if (!timed[i].ok) {
                        CHECK(r < 0, "timed %zu '%s': got accepted, want rejected", i, timed[i].line);
                        continue;
                }
                CHECK(r == 0, "timed %zu '%s': got rejected, want accepted", i, timed[i].line);
                if (r < 0)
                        continue;
                CHECK(ll.tag_len == strlen(timed[i].tag) && !memcmp(ll.tag, timed[i].tag, ll.tag_len),
                      "timed %zu: tag got '%.*s' want '%s'", i, (int)ll.tag_len, ll.tag, timed[i].tag);
                CHECK(ll.msg_len == strlen(timed[i].msg) && !memcmp(ll.msg, timed[i].msg, ll.msg_len),
                      "timed %zu: msg got '%.*s' want '%s'", i, (int)ll.msg_len, ll.msg, timed[i].msg);
                CHECK(ll.time_ms == timed[i].time_ms, "timed %zu '%s': time got %lld want %lld", i, timed[i].line,
                      (long long)ll.time_ms, (long long)timed[i].time_ms);
                CHECK(ll.pid == timed[i].pid, "timed %zu: pid got %d want %d", i, ll.pid, timed[i].pid);
        }
        setenv("TZ", "UTC", 1);
        tzset();
        /* 31 December, a January line a little ahead of the clock: next year's */
        {
                LogLine ll;
                const char *l = "Jan  1 00:00:05 mx postfix/smtpd[1]: m";
                int64_t dec31 = 1798761590000LL; /* 2026-12-31T23:59:50Z */
                CHECK(logline_parse_at(l, strlen(l), dec31, &ll) == 0 && ll.time_ms == dec31 + 15000,
                      "Jan 1 read on Dec 31: got %lld want %lld", (long long)ll.time_ms, (long long)(dec31 + 15000));
        }
}

int main(void)
{
        check_timed();
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
        /*
         * Pids of 1 to 12 digits (leading zeros too), each followed by every
         * byte value, and cut at every length: as the plain rule says (the
         * digits' value, 0 beyond 9 digits; a ']' and a ':' must follow), in
         * buffers of the line's size (ASan sees any read past them).
         */
        {
                static const char *const pids[] = {"7",        "42",        "123",        "0",
                                                   "007",      "65535",     "1234567",    "99999999",
                                                   "12345678", "123456789", "4294967297", "000000000001"};
                for (size_t i = 0; i < ELEMENTSOF(pids); i++)
                        for (unsigned c = 0; c < 2 * 256 + 1; c++) {
                                char line[96];
                                /* "[PID]: m", and "[PID" with one byte and ": m" or "]: m" after it */
                                int len = c == 512 ? snprintf(line, sizeof(line),
                                                              "Nov 30 10:00:01 mx smtpd[%s]: m", pids[i])
                                                   : snprintf(line, sizeof(line),
                                                              "Nov 30 10:00:01 mx smtpd[%s%c%s: m", pids[i],
                                                              (char)(c % 256), c < 256 ? "" : "]");
                                size_t nd = 0; /* the digits after '[' (the byte after the pid may be one) */
                                uint32_t v = 0;
                                for (; line[25 + nd] >= '0' && line[25 + nd] <= '9'; nd++)
                                        v = v * 10 + (uint32_t)(line[25 + nd] - '0');
                                for (size_t cut = 24; cut <= (size_t)len; cut++) {
                                        char *b = xmemdup(line, cut);
                                        LogLine ll;
                                        int r = logline_parse(b, cut, &ll);
                                        /* "...smtpd[" is 25 bytes; then the digits, ']' and ':' */
                                        bool ok = cut >= 25 + nd + 2 && line[25 + nd] == ']' &&
                                                  line[26 + nd] == ':';
                                        if (r != (ok ? 0 : -EINVAL) ||
                                            (ok && ll.pid != (nd <= 9 ? (int32_t)v : 0)))
                                                CHECK(false, "'%.*s': got %d pid %d", (int)cut, line, r,
                                                      r ? 0 : ll.pid);
                                        free(b);
                                }
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
