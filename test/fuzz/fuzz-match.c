/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the rule matcher with the shipped rules (the files of rules/ in the tree): each line
 * of the input, as a record, goes through ruleset_match_record(), which must agree with the
 * reference matcher (refmatch.h) on the rule and the address.  The tag
 * cache lives across inputs, as it does in the daemon.
 */
#include <dirent.h>
#include <errno.h>

#include "fuzz.h"
#include "refmatch.h"
#include "match/rules.h"

static RuleSet *rs;
static RefSet ref;
static Names *names;

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void load(void)
{
        RuleDefaults defs = {.max_hits = 5, .find_time_ms = 600000, .ban_time_ms = 3600000,
                             .reject_text = "Blocked by postfix-autoblacklist"};
        Diags errors = {0}, warnings = {0};
        char *files[64];
        size_t n = 0;
        DIR *d;
        struct dirent *de;

        names = names_new();
        if (ruleset_load(&rs, RULES_DIR, &defs, names, &errors, &warnings) < 0) {
                diags_print(stderr, &errors, "shipped rules: ");
                abort();
        }
        FUZZ_CHECK(warnings.n == 0, "the shipped rules have lint warnings");
        d = opendir(RULES_DIR);
        FUZZ_CHECK(d, "%s: %m", RULES_DIR);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && endswith(de->d_name, ".rules") && n < ELEMENTSOF(files))
                        files[n++] = xasprintf("%s/%s", RULES_DIR, de->d_name);
        closedir(d);
        qsort(files, n, sizeof(char *), cmp_name);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *text = NULL;
                FUZZ_CHECK(read_file(files[i], 1 << 20, &text, NULL) == 0, "%s", files[i]);
                ref_add_text(&ref, text);
                free(files[i]);
        }
        ref_finish(&ref);
        diags_free(&errors);
        diags_free(&warnings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *p = (const char *)data, *end = p + size;

        if (!rs)
                load();
        while (p <= end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = (size_t)((nl ? nl : end) - p);
                /* each line in a buffer of its own size, so ASan sees any read past it */
                char *line = xmalloc(len ? len : 1);
                RuleMatch m;
                LogRecord rec;
                const char *want_rule = NULL;
                Addr want_addr;
                int r, w;
                char got_a[ADDR_STRLEN], want_a[ADDR_STRLEN];

                memcpy(line, p, len);
                if (ref_line_record(line, len, &rec)) {
                        r = ruleset_match_record(rs, &rec, &m);
                        w = ref_match(&ref, &rec, &want_rule, &want_addr);
                } else
                        r = w = 0; /* no header: no record, nothing to match */

                FUZZ_CHECK(r == 1 || r == 0, "r=%d", r);
                if (w >= 0) {
                        FUZZ_CHECK((r == 1) == (w == 1), "ruleset_match_record says %d, the reference %d (rule %s)", r, w,
                                   r == 1 ? m.rule->name : want_rule ? want_rule : "-");
                        if (r == 1) {
                                FUZZ_CHECK(streq(m.rule->name, want_rule), "rule %s, the reference %s", m.rule->name,
                                           want_rule);
                                FUZZ_CHECK(addr_equal(&m.addr, &want_addr), "address %s, the reference %s",
                                           addr_format(&m.addr, got_a), addr_format(&want_addr, want_a));
                        }
                }
                free(line);
                if (!nl)
                        break;
                p = nl + 1;
        }
        return 0;
}
