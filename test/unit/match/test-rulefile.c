/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Rule files: the blocks as written (values, comments, line numbers,
 * disabled blocks), a folder read in name order, and every diagnostic
 * with file:line (golden).
 */
#include <errno.h>
#include <sys/stat.h>

#include "check.h"
#include "match/rulefile.h"

static int load(const char *dir, const char *text, RuleBlocks *b, Diags *errors)
{
        char path[512];

        snprintf(path, sizeof(path), "%s/t.rules", dir);
        check_write(path, text);
        return rulefile_load(path, b, errors);
}

static const struct {
        const char *text;
        const char *error; /* NULL: loads; else the one error, after "t.rules:" */
} value_cases[] = {
        {"[a]\nprogram = x\npattern = ^x <ADDR>\nmax_hits = 1000\n", NULL},
        {"[a]\nprogram = x\npattern = ^x <ADDR>\nmax_hits = 1001\n", "4: max_hits: '1001' is not a number from 1 to 1000"},
        {"[a]\nprogram = x\npattern = ^x <ADDR>\nfind_time = 0\n", "4: find_time: must not be 0"},
        {"[a]\nprogram = x\npattern = ^x <ADDR>\nban_time = 0\n", NULL}, /* permanent */
        {"[a]\nprogram = x\nprogram = y\npattern = ^x <ADDR>\n", "3: program: given twice"},
        {"[a]\nprogram = x\nlint = maybe\npattern = ^w <ADDR>\n", "3: lint: 'maybe' is not on or off"},
        {"[a]\nprogram = x\nenabled = perhaps\npattern = ^w <ADDR>\n", "3: enabled: 'perhaps' is not yes or no"},
        {"[a]\nprogram =\nprogram = x\npattern = ^w <ADDR>\n", "2: program: empty value"},
        {"[a\n", "1: missing ']' in rule name"},
        {"[a] x\n", "1: text after ']'"},
        {"[a]\njust text\nprogram = x\npattern = ^x <ADDR>\n", "2: expected 'name = value' or '[rule]'"},
        {"[a]\nprogram = x\n", "1: rule a: no 'pattern ='"},
        /* a disabled block is read, and checked for its structure too */
        {"[a]\nenabled = no\nprogram = x\n", "1: rule a: no 'pattern ='"},
};

int main(void)
{
        const char *dir = check_mktemp();
        Diags errors = {0};
        RuleBlocks b;

        /* The values of a block, as written, with their lines. */
        CHECK_INT(load(dir,
                       "# test rules\n"
                       "[sasl]\n"
                       "program = postfix*/smtpd   # inline comment\n"
                       "pattern = ^warning: x\\[<ADDR>\\] \\#1\n"
                       "\n"
                       "pattern = ^x <ADDR>\n"
                       "max_hits = 3\n"
                       "; another comment\n"
                       "[off]\n"
                       "enabled = no\n"
                       "lint = off\n"
                       "program = *\n"
                       "pattern = ^<ADDR>\n"
                       "find_time = 1h\n"
                       "ban_time = 0\n",
                       &b, &errors),
                  0, "loads");
        diags_print(stderr, &errors, "  unexpected: ");
        CHECK_INT(b.n, 2, "blocks");
        if (b.n == 2) {
                CHECK_STR(b.v[0].name, "sasl", "name");
                CHECK_STR(b.v[0].program, "postfix*/smtpd", "an inline comment is cut");
                CHECK_INT(b.v[0].n_patterns, 2, "patterns");
                CHECK_STR(b.v[0].patterns[0], "^warning: x\\[<ADDR>\\] \\#1", "'\\#' stays");
                CHECK_INT(b.v[0].pattern_lines[0], 4, "pattern line");
                CHECK_INT(b.v[0].pattern_lines[1], 6, "empty lines keep the numbering");
                CHECK_INT(b.v[0].max_hits, 3, "max_hits");
                CHECK(b.v[0].find_time_ms == -1 && b.v[0].ban_time_ms == -1, "times: the defaults");
                CHECK(b.v[0].enabled && b.v[0].lint, "enabled and linted by default");
                CHECK_INT(b.v[0].line, 2, "block line");
                CHECK_STR(b.v[1].name, "off", "name");
                CHECK(!b.v[1].enabled, "enabled = no");
                CHECK(!b.v[1].lint && b.v[1].lint_line == 11, "lint = off, and where");
                CHECK(b.v[1].max_hits == -1 && b.v[1].find_time_ms == 3600000 && b.v[1].ban_time_ms == 0,
                      "times as written");
        }
        rulefile_free(&b);
        diags_free(&errors);

        for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
                int r = load(dir, value_cases[i].text, &b, &errors);
                if (!value_cases[i].error)
                        CHECK(r == 0 && errors.n == 0, "case %zu: got %d (%s), want a load", i, r,
                              errors.n ? errors.items[0] : "");
                else {
                        char want[1024];
                        snprintf(want, sizeof(want), "%s/t.rules:%s", dir, value_cases[i].error);
                        CHECK(r == -EINVAL && errors.n == 1 && streq(errors.items[0], want),
                              "case %zu: got %d (%s), want '%s'", i, r, errors.n ? errors.items[0] : "no error",
                              want);
                }
                rulefile_free(&b);
                diags_free(&errors);
        }

        /* Diagnostics, all of them, with file:line (golden) */
        {
                char want[4096];
                Buf got = {0};
                CHECK_INT(load(dir,
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
                               &b, &errors),
                          -EINVAL, "bad rules are rejected");
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
                CHECK(got.data && streq(got.data, want), "diagnostics: got\n%s\nwant\n%s", got.data ? got.data : "",
                      want);
                buf_free(&got);
                rulefile_free(&b);
                diags_free(&errors);
        }

        /* A folder: its *.rules in name order, nothing else; a name defined twice across files. */
        {
                char sub[300], path[400], want[1024];
                snprintf(sub, sizeof(sub), "%s/d", dir);
                CHECK(mkdir(sub, 0700) == 0, "mkdir %s", sub);
                snprintf(path, sizeof(path), "%s/b.rules", sub);
                check_write(path, "[b]\nprogram = x\npattern = ^b <ADDR>\n");
                snprintf(path, sizeof(path), "%s/a.rules", sub);
                check_write(path, "[a]\nprogram = x\npattern = ^a <ADDR>\n");
                snprintf(path, sizeof(path), "%s/c.rules.orig", sub);
                check_write(path, "not a rule file\n");
                snprintf(path, sizeof(path), "%s/.d.rules", sub);
                check_write(path, "not a rule file either\n");
                CHECK_INT(rulefile_load(sub, &b, &errors), 0, "a folder loads");
                CHECK(b.n == 2 && streq(b.v[0].name, "a") && streq(b.v[1].name, "b"), "in name order");
                rulefile_free(&b);
                snprintf(path, sizeof(path), "%s/c.rules", sub);
                check_write(path, "[a]\nprogram = y\npattern = ^c <ADDR>\n");
                CHECK_INT(rulefile_load(sub, &b, &errors), -EINVAL, "a name twice");
                snprintf(want, sizeof(want), "%1$s/c.rules:1: rule a: already defined at %1$s/a.rules:1", sub);
                CHECK(errors.n == 1 && streq(errors.items[0], want), "got %s", errors.n ? errors.items[0] : "");
                rulefile_free(&b);
                diags_free(&errors);

                snprintf(sub, sizeof(sub), "%s/empty", dir);
                CHECK(mkdir(sub, 0700) == 0, "mkdir %s", sub);
                CHECK_INT(rulefile_load(sub, &b, &errors), -EINVAL, "an empty folder");
                CHECK(errors.n == 1 && strstr(errors.items[0], "empty: no *.rules files in this folder"), "got %s",
                      errors.n ? errors.items[0] : "");
                rulefile_free(&b);
                diags_free(&errors);
                snprintf(sub, sizeof(sub), "%s/missing", dir);
                CHECK_INT(rulefile_load(sub, &b, &errors), -EINVAL, "a missing path");
                CHECK(errors.n == 1 && strstr(errors.items[0], "missing: No such file or directory"), "got %s",
                      errors.n ? errors.items[0] : "");
                rulefile_free(&b);
                diags_free(&errors);
        }
        return check_done();
}
