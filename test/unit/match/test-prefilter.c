/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The prefilter: the literals it reads from a pattern (and where it
 * gives up), its literal search against memmem(), and the candidates it
 * hands back for records: by tag glob, prefix and required literals, in
 * the order the patterns were added, with nothing left over from the
 * previous record.  (test-prefilter-diff checks it against plain PCRE2
 * over the shipped rules and the corpora.)
 */
#include "check.h"
#include "match/prefilter.h"
#include "util/util.h"

/* The search with the anchor the prefilter would choose: tests call exactly what runs. */
#define FIND(hay, n, lit, m) prefilter_find((hay), (n), (lit), (m), prefilter_anchor((lit), (m)))

static const struct {
        const char *pattern;
        const char *prefix;
        const char *lits; /* joined with '|', longest first */
} literal_cases[] = {
        {"^warning: [^[]*\\[<ADDR>\\]: SASL \\S+ authentication failed", "warning: ", " authentication failed|]: SASL "},
        {"^(?:NOQUEUE|\\w+): reject: RCPT from [^[]*\\[<ADDR>\\]", NULL, ": reject: RCPT from "},
        {"^abc?d", "ab", ""},                 /* c? is optional */
        {"^abc+d", "abc", ""},                /* c+ needs one c; the run ends there */
        {"^ab{2}cd", "ab", ""},               /* b{2}: one b is surely there; the run ends */
        {"^x\\.y\\[z", "x.y[z", ""},          /* escaped punctuation is literal */
        {"^a|b", NULL, NULL},                 /* top-level alternation: nothing is required */
        {"^(?i)warning: x", NULL, ""},        /* case-insensitive from here: stop */
        {"^warn(?i)ing: x", "warn", ""},      /* ... but what came before holds */
        {"^(?i:abc)defgh", NULL, "defgh"},    /* a group with options is skipped */
        {"^\\Qa.b\\E", NULL, NULL},           /* quoting: give up */
        {"^foo\\x41bar", "foo", ""},          /* an escape with an argument stops it */
        {"^lost connection after (?!DATA)[A-Z]+ from [^[]*\\[<ADDR>\\]", "lost connection after ", " from "},
};

static const struct {
        const char *program, *pattern;
} scan_patterns[] = {
        {"postfix*/smtpd", "^(?:NOQUEUE|\\w+): reject: RCPT from [^[]*\\[<ADDR>\\]"},       /* 0 */
        {"postfix*/smtpd", "^(?:NOQUEUE|\\w+): reject: MAIL from x\\[<ADDR>\\]"},           /* 1 */
        {"postfix*/smtpd", "^warning: x\\[<ADDR>\\]: SASL \\S+ authentication failed"},       /* 2 */
        {"postfix/postscreen", "^PREGREET \\d+ after [0-9.]+ from \\[<ADDR>\\]"},            /* 3 */
        {"*", "^(?i)anything <ADDR>"},                                                      /* 4: no literals */
        {"postfix*/smtpd", "^lost connection after [A-Z]+ from x\\[<ADDR>\\]"},              /* 5 */
        /* 6: shares 0's literal, and has a second one of 8 bytes or more, which is checked too */
        {"postfix*/smtpd", "^(?:NOQUEUE|\\w+): reject: RCPT from [^[]*\\[<ADDR>\\]: 554 5\\.7\\.1"},
        /* 7: the queue-id form: ": lost connection after " is compared right after the leading word */
        {"postfix*/smtpd", "^(?:NOQUEUE|[0-9A-Za-z]+): lost connection after [A-Z]+ from x\\[<ADDR>\\]"},
        /* 8: not that form ([a-z]* can be empty): searched anywhere */
        {"postfix*/smtpd", "^(?:[a-z]*|X): gone x\\[<ADDR>\\]"},
        /* 9: after the first literal, a short one (" from=<", 7 bytes) is left to PCRE2 */
        {"postfix/pickup", "^uid=\\d+ from=<[^>]*> a long literal <ADDR>"},
};

static const struct {
        const char *tag, *msg;
        const char *want; /* the candidates, in order */
} scan_cases[] = {
        {"postfix/smtpd", "NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1", "0,4,6"},
        {"postfix/smtpd", "connect from x[192.0.2.1]", "4"},
        {"postfix/smtpd", "NOQUEUE: reject: MAIL from x[192.0.2.1]: 554 5.7.1", "1,4"},
        {"postfix/smtpd", "warning: x[192.0.2.1]: SASL LOGIN authentication failed: x", "2,4"},
        {"postfix/smtpd", "warning: x[192.0.2.1]: SASL LOGIN authentication succeeded", "4"},
        {"postfix/smtpd", "lost connection after EHLO from x[192.0.2.1]", "4,5"},
        {"postfix/smtpd", "lost connection afte", "4"},
        {"postfix-in/smtpd", "ABC123: reject: RCPT from x[192.0.2.1]: 450 4.1.1", "0,4"},
        {"postfix/postscreen", "PREGREET 11 after 0.1 from [192.0.2.1]:4711: EHLO", "3,4"},
        {"postfix/postscreen", "PREGREE", "4"},
        {"postfix/postscreen", "NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1", "4"},
        {"postfix/qmgr", "anything 192.0.2.1", "4"},
        {"postfix/smtpd", "", "4"},
        {"", "", "4"},
        /* the previous record's answers do not leak into this one */
        {"postfix/smtpd", "NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1", "0,4,6"},
        {"postfix/smtpd", "NOQUEUE: rejectx RCPT from x[192.0.2.1]: 554 5.7.1", "4"},
        {"postfix/smtpd", "ABC123: lost connection after EHLO from x[192.0.2.1]", "4,7"},
        {"postfix/smtpd", "NOQUEUE: lost connection after EHLO from x[192.0.2.1]", "4,7"},
        {"postfix/smtpd", "ABC_1: lost connection after EHLO from x[192.0.2.1]", "4"},
        {"postfix/smtpd", ": lost connection after EHLO from x[192.0.2.1]", "4"},
        {"postfix/smtpd", "connect from y: lost connection after EHLO from x[192.0.2.1]", "4"},
        {"postfix/smtpd", "ABC123: lost connection afte", "4"},
        {"postfix/smtpd", ": gone x[192.0.2.1]", "4,8"},
        {"postfix/smtpd", "abc: gone x[192.0.2.1]", "4,8"},
        {"postfix/smtpd", "abc: went x[192.0.2.1]", "4"},
        {"postfix/pickup", "uid=0 from=<a> a long literal 192.0.2.1", "4,9"},
        {"postfix/pickup", "uid=0 frm=<a> a long literal 192.0.2.1", "4,9"}, /* PCRE2 says no */
        {"postfix/pickup", "uid=0 from=<a> a short one 192.0.2.1", "4"},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(literal_cases) / sizeof(literal_cases[0]); i++) {
                char *prefix, **lits;
                Buf joined = {0};
                bool ok = prefilter_literals(literal_cases[i].pattern, &prefix, &lits);
                if (!literal_cases[i].lits) {
                        CHECK(!ok, "'%s': got literals, want none trusted", literal_cases[i].pattern);
                        continue;
                }
                CHECK(ok, "'%s': got untrusted, want literals", literal_cases[i].pattern);
                CHECK_STR(prefix, literal_cases[i].prefix, literal_cases[i].pattern);
                /* longest first, as the prefilter orders them */
                for (size_t a = 0; lits && lits[a]; a++)
                        for (size_t b = a + 1; lits[b]; b++)
                                if (strlen(lits[b]) > strlen(lits[a])) {
                                        char *t = lits[a];
                                        lits[a] = lits[b];
                                        lits[b] = t;
                                }
                for (size_t k = 0; lits && lits[k]; k++)
                        buf_printf(&joined, "%s%s", k ? "|" : "", lits[k]);
                buf_append(&joined, "", 0);
                CHECK_STR(joined.data, literal_cases[i].lits, literal_cases[i].pattern);
                buf_free(&joined);
                free(prefix);
                strv_free(lits);
        }

        /* The prefilter's literal search agrees with memmem() everywhere. */
        {
                uint64_t x = 12345;
                static const char alphabet[] = ": rejctj[]ab";
                int disagree = 0;
                for (int round = 0; round < 200000; round++) {
                        char hay[24], lit[6];
                        size_t n, m;
                        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                        n = (x >> 33) % sizeof(hay);
                        m = 1 + (x >> 40) % sizeof(lit);
                        for (size_t i = 0; i < n; i++) {
                                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                                hay[i] = alphabet[(x >> 35) % (sizeof(alphabet) - 1)];
                        }
                        for (size_t i = 0; i < m; i++) {
                                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                                lit[i] = alphabet[(x >> 35) % (sizeof(alphabet) - 1)];
                        }
                        if (FIND(hay, n, lit, m) != (memmem(hay, n, lit, m) != NULL) && disagree++ < 5)
                                CHECK(false, "find '%.*s' in '%.*s': got %d", (int)m, lit, (int)n, hay,
                                      FIND(hay, n, lit, m));
                }
                CHECK_INT(disagree, 0, "disagreements with memmem");
                CHECK(FIND(": reject: ", 10, ": reject: ", 10), "whole");
                CHECK(!FIND(": reject:", 9, ": reject: ", 10), "one short");
                CHECK(FIND("xx: reject: ", 12, ": reject: ", 10), "at the end");
                /* An empty literal, in a buffer that ends where the text ends
                   (ASan sees any read past it): found, and nothing read. */
                {
                        char *exact = xmemdup("abc", 3);
                        CHECK(FIND(exact, 3, "", 0), "empty literal");
                        CHECK(FIND(exact, 0, "", 0), "empty literal, empty text");
                        free(exact);
                }
        }


        {
                Prefilter *pf = prefilter_new();
                for (size_t i = 0; i < ELEMENTSOF(scan_patterns); i++)
                        prefilter_add(pf, scan_patterns[i].program, scan_patterns[i].pattern);
                prefilter_finish(pf);
                for (size_t i = 0; i < ELEMENTSOF(scan_cases); i++) {
                        PrefilterScan s;
                        Buf got = {0};
                        int p;
                        /* in buffers of their own size, so ASan sees any read past them */
                        char *tag = xmemdup(scan_cases[i].tag, strlen(scan_cases[i].tag) + 1);
                        char *msg = xmemdup(scan_cases[i].msg, strlen(scan_cases[i].msg));
                        prefilter_start(pf, &s, tag, strlen(tag), msg, strlen(scan_cases[i].msg));
                        while ((p = prefilter_next(pf, &s)) >= 0)
                                buf_printf(&got, "%s%d", got.len ? "," : "", p);
                        buf_append(&got, "", 0);
                        CHECK(streq(got.data, scan_cases[i].want), "case %zu (%s: %s): got %s want %s", i,
                              scan_cases[i].tag, scan_cases[i].msg, got.data, scan_cases[i].want);
                        buf_free(&got);
                        free(tag);
                        free(msg);
                }
                prefilter_free(pf);
        }
        return check_done();
}
