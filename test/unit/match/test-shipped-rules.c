/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The shipped rules load, and every pattern passes the lint that keeps
 * attacker text from choosing the address: anchored at the start of the
 * message, one <ADDR> right after literal text, and no unbounded run
 * before it that can cross a '['.
 */
#include <dirent.h>

#include "check.h"
#include "match/lint.h"
#include "match/rules.h"

#ifndef RULES_DIR
#error "RULES_DIR must name the shipped rules folder"
#endif

/* Every "pattern = ..." line of the shipped files, linted directly too. */
static void lint_file(const char *path, int *patterns)
{
        char *text = NULL, *save, *line;
        unsigned n = 0;

        CHECK(read_file(path, 1 << 20, &text, NULL) == 0, "read %s", path);
        if (!text)
                return;
        save = text;
        while ((line = strsep(&save, "\n"))) {
                char *p = strip(line), *why = NULL, *hash;
                n++;
                if (!startswith(p, "pattern"))
                        continue;
                p = strip(strchr(p, '=') + 1);
                /* the loader cuts " #" comments the same way */
                for (hash = p + 1; *hash; hash++)
                        if (*hash == '#' && (hash[-1] == ' ' || hash[-1] == '\t')) {
                                *hash = '\0';
                                break;
                        }
                p = strip(p);
                (*patterns)++;
                CHECK(lint_pattern(p, &why) == 0, "%s:%u: %s", path, n, why ? why : "");
                free(why);
        }
        free(text);
}

int main(void)
{
        static const RuleDefaults defs = {5, 600000, 3600000, "Blocked by postfix-autoblacklist"};
        Names *names = names_new();
        Diags errors = {0}, warnings = {0};
        RuleSet *rs = NULL;
        int patterns = 0;
        DIR *d;
        struct dirent *de;

        CHECK_INT(ruleset_load(&rs, RULES_DIR, &defs, names, &errors, &warnings), 0, "shipped rules load");
        diags_print(stderr, &errors, "  ");
        CHECK_INT(warnings.n, 0, "lint warnings at load");
        diags_print(stderr, &warnings, "  ");
        CHECK(rs && ruleset_count(rs) >= 20, "a full rule set: %zu rules", rs ? ruleset_count(rs) : 0);
        CHECK(rs && ruleset_jit(rs), "every pattern has a JIT");

        d = opendir(RULES_DIR);
        CHECK(d != NULL, "open %s", RULES_DIR);
        while (d && (de = readdir(d))) {
                char path[1024];
                if (!endswith(de->d_name, ".rules"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", RULES_DIR, de->d_name);
                lint_file(path, &patterns);
        }
        if (d)
                closedir(d);
        CHECK(patterns >= 20, "patterns linted: %d", patterns);

        diags_free(&errors);
        diags_free(&warnings);
        ruleset_free(rs);
        names_free(names);
        return check_done();
}
