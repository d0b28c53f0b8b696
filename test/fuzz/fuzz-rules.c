/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the rule-file loader and its lint: the input up to its first NUL
 * is a rule file, for ruleset_load() (which runs lint_pattern() and
 * prefilter_literals() on every pattern it compiles); the lines
 * after the NUL are log lines.  When the file loads, every log line must
 * get the same answer from ruleset_match_record() as from the reference matcher
 * (refmatch.h): a pattern's literal prefilter must never drop a line the
 * pattern matches.
 */
#include <errno.h>

#include "fuzz.h"
#include "refmatch.h"
#include "match/lint.h"
#include "match/prefilter.h"
#include "match/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        RuleDefaults defs = {.max_hits = 5, .find_time_ms = 600000, .ban_time_ms = 3600000,
                             .reject_text = "Blocked by postfix-autoblacklist"};
        Diags errors = {0}, warnings = {0};
        const char *nul = memchr(data, '\0', size), *p, *end = (const char *)data + size;
        size_t text_len = nul ? (size_t)(nul - (const char *)data) : size;
        _cleanup_free_ char *text = xstrndup((const char *)data, text_len);
        Names *names = names_new();
        RuleSet *rs = NULL;
        RefSet ref = {0};
        char *save, *line;
        int r;

        /* the lint and the literals on every value, loadable or not */
        save = xstrdup(text);
        for (char *s = save; (line = strsep(&s, "\n"));) {
                char *eq = strchr(line, '='), *why = NULL, *prefix = NULL, **lits = NULL;
                if (!eq)
                        continue;
                if (lint_pattern(strip(eq + 1), &why) < 0)
                        FUZZ_CHECK(why && *why, "lint_pattern failed without a reason");
                else
                        FUZZ_CHECK(!why, "lint_pattern passed with a reason");
                free(why);
                if (prefilter_literals(eq + 1, &prefix, &lits))
                        for (size_t i = 0; lits && lits[i]; i++)
                                FUZZ_CHECK(*lits[i], "an empty literal");
                free(prefix);
                strv_free(lits);
        }
        free(save);

        r = ruleset_load(&rs, fuzz_file(text, text_len), &defs, names, &errors, &warnings);
        FUZZ_CHECK((r == 0) == (errors.n == 0), "r=%d with %zu errors", r, errors.n);
        FUZZ_CHECK(r == 0 || r == -EINVAL, "r=%d", r);
        for (size_t i = 0; i < errors.n; i++)
                FUZZ_CHECK(*errors.items[i], "an empty error");
        if (r < 0)
                goto out;
        FUZZ_CHECK(ruleset_count(rs) > 0, "a rule set without rules");

        ref_add_text(&ref, text);
        ref_finish(&ref);
        for (p = nul ? nul + 1 : end; p < end;) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = (size_t)((nl ? nl : end) - p);
                char *l = xmalloc(len ? len : 1);
                const char *want_rule = NULL;
                Addr want_addr;
                RuleMatch m;
                LogRecord rec;
                int got, want;

                memcpy(l, p, len);
                if (ref_line_record(l, len, &rec)) {
                        got = ruleset_match_record(rs, &rec, &m);
                        want = ref_match(&ref, &rec, &want_rule, &want_addr);
                } else
                        got = want = 0; /* no header: no record, nothing to match */

                if (want >= 0) {
                        FUZZ_CHECK((got == 1) == (want == 1), "ruleset_match_record says %d, the reference %d", got, want);
                        if (got == 1) {
                                FUZZ_CHECK(streq(m.rule->name, want_rule), "rule %s, the reference %s",
                                           m.rule->name, want_rule);
                                FUZZ_CHECK(addr_equal(&m.addr, &want_addr), "another address than the reference");
                        }
                }
                free(l);
                p = nl ? nl + 1 : end;
        }
out:
        ref_free(&ref);
        ruleset_free(rs);
        names_free(names);
        diags_free(&errors);
        diags_free(&warnings);
        return 0;
}
