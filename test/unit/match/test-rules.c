/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rule set: loading (defaults, pattern errors with their offsets as
 * written, lint findings and "lint = off"), matching records (the rule
 * and the address, the tag glob, the (?C"echo") check), the exclusion of
 * our own rejections, and the tag cache under many tags.
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
        const char *tag, *msg; /* the record a log source makes of the line */
        const char *rule; /* NULL: no match */
        const char *addr;
        int own;
} match_cases[] = {
        {"postfix/smtpd", "warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
         "sasl", "203.0.113.7", 0},
        {"postfix/submission/smtpd", "warning: x.example[2001:DB8::7]:587: SASL PLAIN authentication failed: x",
         "sasl", "2001:db8::7", 0},
        {"postfix-in/smtpd", "warning: unknown[::ffff:198.51.100.3]: SASL LOGIN authentication failed: x",
         "sasl", "198.51.100.3", 0},
        {"postfix/smtpd", "warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: Connection lost to authentication server",
         NULL, NULL, 0},
        /* the tag must match the program */
        {"postfix/smtp", "warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: x",
         NULL, NULL, 0},
        /* the address must be valid */
        {"postfix/smtpd", "warning: unknown[999.0.113.7]: SASL LOGIN authentication failed: x",
         NULL, NULL, 0},
        {"postfix/smtpd", "warning: unknown[2001:db8:::7]: SASL LOGIN authentication failed: x",
         NULL, NULL, 0},
        {"postfix/smtpd", "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <a@b>: Relay access denied; from=<> to=<a@b> proto=ESMTP helo=<x>",
         "reject", "192.0.2.9", 0},
        /* our own rejection, as smtpd logs it: never a hit */
        {"postfix/smtpd", "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Blocked by postfix-autoblacklist; from=<a@b> to=<c@d> proto=ESMTP helo=<x>",
         "reject", "192.0.2.9", 1},
        /* ... with the client's port, and with a login */
        {"postfix/smtpd", "NOQUEUE: reject: RCPT from unknown[192.0.2.9]:4711: 554 5.7.1 <unknown[192.0.2.9]:4711>: Client host rejected: Blocked by postfix-autoblacklist; from=<\"a b\"@b> to=<c@d> proto=ESMTP helo=<x> sasl_username=<u>",
         "reject", "192.0.2.9", 1},
        /* the text in a recipient does not make a line our own rejection */
        {"postfix/smtpd", "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <unknown[192.0.2.9]>: Client host rejected: Blocked by postfix-autoblacklist; y@b>: Relay access denied; from=<> to=<\"unknown[192.0.2.9]>: Client host rejected: Blocked by postfix-autoblacklist; y\"@b> proto=ESMTP helo=<x>",
         "reject", "192.0.2.9", 0},
        {"postfix/smtpd", "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <x>: Client host rejected: Blocked by postfix-autoblacklist; y@b>: Relay access denied; from=<> to=<\"x>: Client host rejected: Blocked by postfix-autoblacklist; y\"@b> proto=ESMTP helo=<x>",
         "reject", "192.0.2.9", 0},
        /* the text in the HELO name does not make a line our own rejection */
        {"postfix/smtpd", "NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 <a@b>: Relay access denied; from=<> to=<a@b> proto=ESMTP helo=<Client host rejected: Blocked by postfix-autoblacklist>",
         "reject", "192.0.2.9", 0},
        {"postfix/postscreen", "PREGREET 11 after 0.1 from [203.0.113.8]:4444: EHLO x\\r\\n",
         "ps", "203.0.113.8", 0},
        {"postfix/postscreen", "HANGUP after 2.1 from [2001:db8::8]:4444 in tests after SMTP handshake",
         "ps", "2001:db8::8", 0},
        /* (?C"echo"): the logged local part, unquoted, is the reply's */
        {"test/echo", "from [192.0.2.1]: <ab>: x; to=<ab>", "echo", "192.0.2.1", 0},
        {"test/echo", "from [192.0.2.1]: <a b>: x; to=<\"a b\">", "echo", "192.0.2.1", 0},
        {"test/echo", "from [192.0.2.1]: <a\"b\\c>: x; to=<\"a\\\"b\\\\c\">", "echo", "192.0.2.1", 0},
        {"test/echo", "from [192.0.2.1]: <>: x; to=<>", "echo", "192.0.2.1", 0},
        /* a local part the client quoted itself, as smtpd quotes it (found by test-prefilter-diff) */
        {"test/echo", "from [192.0.2.1]: <\"unknown[192.0.2.7]\">: x; to=<\"unknown[192.0.2.7]\">", "echo", "192.0.2.1", 0},
        {"test/echo", "from [192.0.2.1]: <\"ab\">: x; to=<\"ac\">", NULL, NULL, 0},
        {"test/echo", "from [192.0.2.1]: <ab>: x; to=<ac>", NULL, NULL, 0},
        {"test/echo", "from [192.0.2.1]: <a\"b>: x; to=<\"a\\\"c\">", NULL, NULL, 0},
        {"test/echo", "from [192.0.2.1]: <ab>: x; to=<\"abc\">", NULL, NULL, 0},
        {"test/echo", "from [192.0.2.1]: <abc>: x; to=<\"ab\">", NULL, NULL, 0},
        /* the disabled rule does not match */
        {"anything", "192.0.2.1", NULL, NULL, 0},
        /* benign */
        {"postfix/smtpd", "connect from unknown[203.0.113.7]", NULL, NULL, 0},
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
                        LogRecord rec = {.tag = match_cases[i].tag, .tag_len = strlen(match_cases[i].tag),
                                         .msg = match_cases[i].msg, .msg_len = strlen(match_cases[i].msg), .pid = 1};
                        int got = ruleset_match_record(rs, &rec, &m);
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
                /* An empty tag or message is just a record that matches nothing. */
                {
                        RuleMatch m;
                        CHECK_INT(ruleset_match_record(rs, &(LogRecord){.tag = "", .msg = ""}, &m), 0,
                                  "empty record");
                }
                /* Many distinct tags: the tag cache flushes and stays right. */
                for (int i = 0; i < 1000; i++) {
                        char tag[64], msg[128];
                        RuleMatch m;
                        LogRecord rec = {.tag = tag, .msg = msg, .pid = 1};
                        rec.tag_len = (size_t)snprintf(tag, sizeof(tag), "postfix%d/smtpd", i);
                        rec.msg_len = (size_t)snprintf(msg, sizeof(msg),
                                                       "warning: unknown[192.0.2.%d]: SASL LOGIN authentication failed: x",
                                                       i % 250);
                        CHECK(ruleset_match_record(rs, &rec, &m) == 1, "tag %d matches", i);
                }
                ruleset_free(rs);
        }
        diags_free(&errors);
        diags_free(&warnings);

        /* The rule files' problems (rulefile.c, tested there) fail the load before anything compiles. */
        {
                char want[4096];
                Buf got = {0};
                rs = load(dir, "[a]\nprogram = x\npattern = ^foo (<ADDR>\nmax_hits = 0\n", names, &errors, &warnings);
                CHECK(rs == NULL && errors.n == 1 && strstr(errors.items[0], "t.rules:4: max_hits: '0'"),
                      "a rule file problem: %s", errors.n ? errors.items[0] : "(none)");
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
