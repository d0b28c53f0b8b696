/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Rules: loading and its diagnostics (golden), matching, the prefilter's
 * literal extraction, the self-rejection exclusion, and the lint.
 */
#include "check.h"
#include "backend/backend.h"
#include "match/rules.h"

/* own_reject: the access map's pattern (the backend says how smtpd logs our rejections) */
static RuleDefaults defs = {5, 600000, 3600000, "Blocked by postfix-autoblacklist", NULL};

static RuleSet *load(const char *dir, const char *text, Names *names, Diags *errors, Diags *warnings)
{
        char path[512];
        RuleSet *rs = NULL;

        snprintf(path, sizeof(path), "%s/t.rules", dir);
        check_write(path, text);
        if (ruleset_load(&rs, path, &defs, names, errors, warnings) < 0)
                return NULL;
        return rs;
}

static const char rules_text[] =
        "# test rules\n"
        "[sasl]\n"
        "program = postfix*/smtpd   # inline comment\n"
        "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\](?::\\d+)?: SASL \\S+ authentication failed:(?! Connection lost)\n"
        "max_hits = 3\n"
        "\n"
        "[reject]\n"
        "program = postfix*/smtpd\n"
        "pattern = ^(?:NOQUEUE|[0-9A-F]+): reject: [A-Z]+ from [-._A-Za-z0-9]+\\[<ADDR>\\](?::\\d+)?: 5\\d\\d \n"
        "find_time = 1h\n"
        "ban_time = 0\n"
        "\n"
        "[ps]\n"
        "program = postfix/postscreen\n"
        "pattern = ^PREGREET \\d+ after [0-9.]+ from \\[<ADDR>\\]:\\d+:\n"
        "pattern = ^HANGUP after [0-9.]+ from \\[<ADDR>\\]:\\d+\n"
        "\n"
        "[off]\n"
        "enabled = no\n"
        "program = *\n"
        "pattern = ^<ADDR>\n"
        "\n"
        "[echo]\n"
        "program = test/echo\n"
        "pattern = ^from \\[<ADDR>\\]: <(?<lp>.*?)>: x; to=<(?<echo>[^\"<>\\s@]*|\"(?:[^\"\\\\]|\\\\.)*\")>(?C\"echo\")$\n";

static const struct {
        const char *line;
        const char *rule; /* NULL: no match */
        const char *addr;
        int own;
} match_cases[] = {
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
         "sasl", "203.0.113.7", 0},
        {"Nov 30 10:00:01 mx postfix/submission/smtpd[1]: warning: x.example[2001:DB8::7]:587: SASL PLAIN authentication failed: x",
         "sasl", "2001:db8::7", 0},
        {"Nov 30 10:00:01 mx postfix-in/smtpd[1]: warning: unknown[::ffff:198.51.100.3]: SASL LOGIN authentication failed: x",
         "sasl", "198.51.100.3", 0},
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: Connection lost to authentication server",
         NULL, NULL, 0},
        /* the tag must match the program */
        {"Nov 30 10:00:01 mx postfix/smtp[1]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: x",
         NULL, NULL, 0},
        /* the address must be valid */
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: warning: unknown[999.0.113.7]: SASL LOGIN authentication failed: x",
         NULL, NULL, 0},
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: warning: unknown[2001:db8:::7]: SASL LOGIN authentication failed: x",
         NULL, NULL, 0},
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <a@b>: Relay access denied; from=<> to=<a@b> proto=ESMTP helo=<x>",
         "reject", "192.0.2.9", 0},
        /* our own rejection, as smtpd logs it: never a hit */
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Blocked by postfix-autoblacklist; from=<a@b> to=<c@d> proto=ESMTP helo=<x>",
         "reject", "192.0.2.9", 1},
        /* ... with the client's port, and with a login */
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]:4711: 554 5.7.1 <unknown[192.0.2.9]:4711>: Client host rejected: Blocked by postfix-autoblacklist; from=<\"a b\"@b> to=<c@d> proto=ESMTP helo=<x> sasl_username=<u>",
         "reject", "192.0.2.9", 1},
        /* the text in a recipient does not make a line our own rejection */
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Blocked by postfix-autoblacklist; y@b>: Relay access denied; from=<> to=<\"unknown[192.0.2.9]>: Client host rejected: Blocked by postfix-autoblacklist; y\"@b> proto=ESMTP helo=<x>",
         "reject", "192.0.2.9", 0},
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <x>: Client host rejected: Blocked by postfix-autoblacklist; y@b>: Relay access denied; from=<> to=<\"x>: Client host rejected: Blocked by postfix-autoblacklist; y\"@b> proto=ESMTP helo=<x>",
         "reject", "192.0.2.9", 0},
        /* the text in the HELO name does not make a line our own rejection */
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <a@b>: Relay access denied; from=<> to=<a@b> proto=ESMTP helo=<Client host rejected: Blocked by postfix-autoblacklist>",
         "reject", "192.0.2.9", 0},
        {"Nov 30 10:00:01 mx postfix/postscreen[1]: PREGREET 11 after 0.1 from [203.0.113.8]:4444: EHLO x\\r\\n",
         "ps", "203.0.113.8", 0},
        {"Nov 30 10:00:01 mx postfix/postscreen[1]: HANGUP after 2.1 from [2001:db8::8]:4444 in tests after SMTP handshake",
         "ps", "2001:db8::8", 0},
        /* (?C"echo"): the logged local part, unquoted, is the reply's */
        {"Nov 30 10:00:01 mx test/echo[1]: from [192.0.2.1]: <ab>: x; to=<ab>", "echo", "192.0.2.1", 0},
        {"Nov 30 10:00:01 mx test/echo[1]: from [192.0.2.1]: <a b>: x; to=<\"a b\">", "echo", "192.0.2.1", 0},
        {"Nov 30 10:00:01 mx test/echo[1]: from [192.0.2.1]: <a\"b\\c>: x; to=<\"a\\\"b\\\\c\">", "echo", "192.0.2.1", 0},
        {"Nov 30 10:00:01 mx test/echo[1]: from [192.0.2.1]: <>: x; to=<>", "echo", "192.0.2.1", 0},
        {"Nov 30 10:00:01 mx test/echo[1]: from [192.0.2.1]: <ab>: x; to=<ac>", NULL, NULL, 0},
        {"Nov 30 10:00:01 mx test/echo[1]: from [192.0.2.1]: <a\"b>: x; to=<\"a\\\"c\">", NULL, NULL, 0},
        {"Nov 30 10:00:01 mx test/echo[1]: from [192.0.2.1]: <ab>: x; to=<\"abc\">", NULL, NULL, 0},
        {"Nov 30 10:00:01 mx test/echo[1]: from [192.0.2.1]: <abc>: x; to=<\"ab\">", NULL, NULL, 0},
        /* the disabled rule does not match */
        {"Nov 30 10:00:01 mx anything: 192.0.2.1", NULL, NULL, 0},
        /* benign */
        {"Nov 30 10:00:01 mx postfix/smtpd[1]: connect from unknown[203.0.113.7]", NULL, NULL, 0},
};

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
        const char *pattern;
        int ok;
} lint_cases[] = {
        {"^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL", 0},
        {"^warning: (?:[-._A-Za-z0-9]+|unknown)\\[<ADDR>\\]: SASL", 0},
        /* holes 1 and 2 of issue 9: the SASL mechanism or a raw HELO name
         * ("x[192.0.2.1]: SASL ...") in a warning before the client field */
        {"^warning: [^[]*\\[<ADDR>\\]: SASL", -1},  /* free text, even if it stops at '[' */
        {"^warning: [^\\s[]+\\[<ADDR>\\]", -1},     /* likewise */
        {"^warning: [A-Za-z0-9 .:\"]+\\[<ADDR>\\]", -1}, /* a name with a space */
        {"^warning: [A-Za-z]+ [a-z]+\\[<ADDR>\\]", 0},   /* a literal space is a fixed field */
        /* hole 3: a Dovecot user field that takes the password's forgery */
        {"^auth: [a-z-]+\\([^[]*,<ADDR>,", -1},
        {"^auth: [a-z-]+\\([^,]{0,64},<ADDR>,", -1},       /* negated: free text */
        {"^auth: [a-z-]+\\([-.@_A-Za-z0-9]{0,64},<ADDR>,", 0}, /* a bounded class */
        {"^x [ -~]+ rip=<ADDR>", -1},                       /* a range over most of ASCII */
        {"^x (?:a|[^,])+ rip=<ADDR>", -1},                  /* free text in a group */
        {"^x (?:(?!rip=)[a-z =])* rip=<ADDR>", 0},          /* a lookahead is no run */
        {"^warning: .*\\[<ADDR>\\]", -1},            /* .* crosses '[' */
        {"^warning: \\S+\\[<ADDR>\\]", -1},          /* \S+ crosses '[' */
        {"^warning: [^\\]]*\\[<ADDR>\\]", -1},       /* a negated class that allows '[' */
        {"^warning: [A-z]+\\[<ADDR>\\]", -1},        /* A-z covers '[' */
        {"^warning: (?:x|.)+\\[<ADDR>\\]", -1},      /* a repeated group with a '.' */
        {"^x .{1,5} \\[<ADDR>\\]", 0},                /* bounded: cannot reach an attacker field */
        {"^x .{1,64} \\[<ADDR>\\]", -1},              /* ... but this can */
        {"^x .*? \\[<ADDR>\\]", -1},                  /* lazy runs count too */
        {"warning: [-.A-Za-z0-9]+\\[<ADDR>\\]", -1}, /* not anchored */
        {"^warning: no address", -1},
        {"^<ADDR> <ADDR>", -1},
        {"^x [a-z]*<ADDR>", -1},                      /* no literal before <ADDR> */
        {"^warning: [-.A-Za-z0-9]+\\[<ADDR>\\] then .*", 0}, /* runs after <ADDR> are fine */
        {"^rip=<ADDR>", 0},
};

int main(void)
{
        const char *dir = check_mktemp();
        Names *names = names_new();
        Diags errors = {0}, warnings = {0};
        RuleSet *rs;
        char *own = backends_own_reject(&(BackendConf){.reject_text = defs.reject_text});

        defs.own_reject = own;
        rs = load(dir, rules_text, names, &errors, &warnings);
        CHECK(rs != NULL, "test rules load");
        diags_print(stderr, &errors, "  unexpected: ");
        if (rs) {
                Rule *r = ruleset_find(rs, "sasl");
                CHECK_INT(ruleset_count(rs), 4, "enabled rules");
                CHECK(ruleset_find(rs, "off") == NULL, "disabled rule is left out");
                CHECK(r && r->max_hits == 3 && r->find_time_ms == 600000 && r->ban_time_ms == 3600000,
                      "sasl takes its max_hits and the defaults");
                r = ruleset_find(rs, "reject");
                CHECK(r && r->max_hits == 5 && r->find_time_ms == 3600000 && r->ban_time_ms == 0,
                      "reject takes its times and the default max_hits");
                CHECK_INT(ruleset_max_find_time(rs), 3600000, "max find_time");
                CHECK(ruleset_jit(rs), "JIT is available");

                for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
                        RuleMatch m;
                        char text[ADDR_STRLEN];
                        const char *line = match_cases[i].line;
                        int got = ruleset_match(rs, line, strlen(line), &m);
                        if (!match_cases[i].rule) {
                                CHECK(got == 0, "case %zu: got a match (%s), want none", i, got == 1 ? m.rule->name : "?");
                                continue;
                        }
                        CHECK(got == 1, "case %zu: got no match, want %s", i, match_cases[i].rule);
                        if (got != 1)
                                continue;
                        CHECK_STR(m.rule->name, match_cases[i].rule, "rule");
                        CHECK_STR(addr_format(&m.addr, text), match_cases[i].addr, "address");
                        CHECK_INT(m.own_reject, match_cases[i].own, "own rejection");
                }
                /* A line without a header is reported as such. */
                {
                        RuleMatch m;
                        CHECK_INT(ruleset_match(rs, "garbage", 7, &m), -22, "unparsable line");
                }
                /* Many distinct tags: the tag cache flushes and stays right. */
                for (int i = 0; i < 1000; i++) {
                        char line[256];
                        RuleMatch m;
                        int n = snprintf(line, sizeof(line),
                                         "Nov 30 10:00:01 mx postfix%d/smtpd[1]: warning: unknown[192.0.2.%d]: SASL LOGIN authentication failed: x",
                                         i, i % 250);
                        CHECK(ruleset_match(rs, line, (size_t)n, &m) == 1, "tag %d matches", i);
                }
                ruleset_free(rs);
        }
        diags_free(&errors);
        diags_free(&warnings);

        /* Diagnostics, all of them, with file:line (golden) */
        {
                char want[4096];
                Buf got = {0};
                rs = load(dir,
                          "program = x\n"
                          "[bad name!]\n"
                          "[a]\n"
                          "program = postfix/smtpd\n"
                          "pattern = ^foo (<ADDR>\n"
                          "max_hits = 0\n"
                          "find_time = soon\n"
                          "colour = blue\n"
                          "[b]\n"
                          "pattern = ^no address here\n"
                          "[a]\n"
                          "program = y\n"
                          "pattern = ^x <ADDR>\n"
                          "[c]\n"
                          "program = p\n"
                          "pattern = ^(?<addr>x) <ADDR>\n",
                          names, &errors, &warnings);
                CHECK(rs == NULL, "bad rules are rejected");
                for (size_t i = 0; i < errors.n; i++)
                        buf_printf(&got, "%s\n", errors.items[i]);
                snprintf(want, sizeof(want),
                         "%1$s/t.rules:1: 'program' outside of a [rule] block\n"
                         "%1$s/t.rules:2: bad rule name 'bad name!': use letters, digits, '_', '.', '-'\n"
                         "%1$s/t.rules:6: max_hits: '0' is not a number from 1 to 1000\n"
                         "%1$s/t.rules:7: find_time: 'soon' is not a duration (e.g. 90s, 10m, 1h, 7d)\n"
                         "%1$s/t.rules:8: unknown key 'colour'\n"
                         "%1$s/t.rules:9: rule b: no 'program ='\n"
                         "%1$s/t.rules:11: rule a: already defined at %1$s/t.rules:3\n",
                         dir);
                CHECK(got.data && streq(got.data, want), "diagnostics: got\n%s\nwant\n%s", got.data ? got.data : "", want);
                buf_free(&got);
                diags_free(&errors);
                diags_free(&warnings);

                /* Pattern errors come after the structure is right; offsets are in the pattern as written. */
                rs = load(dir,
                          "[a]\nprogram = x\npattern = ^foo <ADDR> (bar\n"
                          "[b]\nprogram = x\npattern = ^no address\n"
                          "[c]\nprogram = x\npattern = ^(?<addr>x) <ADDR>\n",
                          names, &errors, &warnings);
                CHECK(rs == NULL, "bad patterns are rejected");
                for (size_t i = 0; i < errors.n; i++)
                        buf_printf(&got, "%s\n", errors.items[i]);
                snprintf(want, sizeof(want),
                         "%1$s/t.rules:3: rule a: pattern error at offset 16: missing closing parenthesis\n"
                         "%1$s/t.rules:6: rule b: pattern has no <ADDR>\n"
                         "%1$s/t.rules:9: rule c: the group name 'addr' is reserved for <ADDR>\n",
                         dir);
                CHECK(got.data && streq(got.data, want), "pattern diagnostics: got\n%s\nwant\n%s",
                      got.data ? got.data : "", want);
                buf_free(&got);
                diags_free(&errors);
                diags_free(&warnings);
        }

        /* A lint finding is an error: the rule (and so the set) is not loaded. */
        rs = load(dir, "[a]\nprogram = x\npattern = ^w .*\\[<ADDR>\\]\n", names, &errors, &warnings);
        CHECK(rs == NULL, "a rule with a lint finding is not loaded");
        CHECK(errors.n == 1 && strstr(errors.items[0], "t.rules:3: rule a: '.*' before <ADDR> can run across a '['"),
              "lint error: %s", errors.n ? errors.items[0] : "(none)");
        CHECK_INT(warnings.n, 0, "no lint warnings");
        ruleset_free(rs);
        diags_free(&errors);
        diags_free(&warnings);

        /* "lint = off": the admin's own rule loads, with a warning at every load. */
        for (int round = 0; round < 2; round++) {
                rs = load(dir, "[a]\nprogram = x\nlint = off\npattern = ^w [^[]*\\[<ADDR>\\]\n", names, &errors,
                          &warnings);
                CHECK(rs != NULL, "round %d: a rule with lint = off loads", round);
                CHECK_INT(errors.n, 0, "no errors");
                CHECK(warnings.n == 2 && strstr(warnings.items[0], "t.rules:3: rule a: lint = off") &&
                              strstr(warnings.items[1], "t.rules:4: rule a: '[^[]*' before <ADDR> is a run of free text"),
                      "round %d: lint = off warnings: %s | %s", round, warnings.n > 0 ? warnings.items[0] : "(none)",
                      warnings.n > 1 ? warnings.items[1] : "(none)");
                ruleset_free(rs);
                diags_free(&errors);
                diags_free(&warnings);
        }
        /* "lint = on" is the default, and a bad value is an error */
        rs = load(dir, "[a]\nprogram = x\nlint = maybe\npattern = ^w [a-z]+\\[<ADDR>\\]\n", names, &errors, &warnings);
        CHECK(rs == NULL && errors.n == 1 && strstr(errors.items[0], "t.rules:3: lint: 'maybe' is not on or off"),
              "bad lint value: %s", errors.n ? errors.items[0] : "(none)");
        ruleset_free(rs);
        diags_free(&errors);
        diags_free(&warnings);

        for (size_t i = 0; i < sizeof(literal_cases) / sizeof(literal_cases[0]); i++) {
                char *prefix, **lits;
                Buf joined = {0};
                bool ok = rules_pattern_literals(literal_cases[i].pattern, &prefix, &lits);
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

        for (size_t i = 0; i < sizeof(lint_cases) / sizeof(lint_cases[0]); i++) {
                char *why = NULL;
                int r = rules_lint(lint_cases[i].pattern, &why);
                CHECK(r == lint_cases[i].ok, "lint '%s': got %d (%s) want %d", lint_cases[i].pattern, r,
                      why ? why : "ok", lint_cases[i].ok);
                free(why);
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
                        if (rules_find_literal(hay, n, lit, m) != (memmem(hay, n, lit, m) != NULL) && disagree++ < 5)
                                CHECK(false, "find '%.*s' in '%.*s': got %d", (int)m, lit, (int)n, hay,
                                      rules_find_literal(hay, n, lit, m));
                }
                CHECK_INT(disagree, 0, "disagreements with memmem");
                CHECK(rules_find_literal(": reject: ", 10, ": reject: ", 10), "whole");
                CHECK(!rules_find_literal(": reject:", 9, ": reject: ", 10), "one short");
                CHECK(rules_find_literal("xx: reject: ", 12, ": reject: ", 10), "at the end");
                /* An empty literal, in a buffer that ends where the text ends
                   (ASan sees any read past it): found, and nothing read. */
                {
                        char *exact = xmemdup("abc", 3);
                        CHECK(rules_find_literal(exact, 3, "", 0), "empty literal");
                        CHECK(rules_find_literal(exact, 0, "", 0), "empty literal, empty text");
                        free(exact);
                }
        }

        /* An empty reject text is refused: every rejection would look like ours. */
        {
                static const RuleDefaults empty = {5, 600000, 3600000, ""};
                char path[512];
                RuleSet *e = NULL;
                snprintf(path, sizeof(path), "%s/t.rules", dir);
                check_write(path, rules_text);
                CHECK(ruleset_load(&e, path, &empty, names, &errors, &warnings) < 0 && !e,
                      "an empty reject text fails the load");
                CHECK(errors.n == 1 && strstr(errors.items[0], "reject_text is empty"), "reason: %s",
                      errors.n ? errors.items[0] : "(none)");
                diags_free(&errors);
                diags_free(&warnings);
        }
        names_free(names);
        free(own);
        return check_done();
}
