/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * rulefile: the rule files' INI syntax (see rulefile.h).
 *
 * The files are the admin's and trusted for what they say, but read with
 * care all the same: a file is read whole up to a size limit, lines keep
 * their numbers (empty ones included) for the messages, and a value is
 * taken only once it has been checked (a rule name of letters, digits and
 * "_.-", numbers and durations in range); nothing here compiles a pattern.
 */
#include "match/rulefile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static void block_free(RuleBlock *r)
{
        free(r->name);
        free(r->program);
        for (size_t i = 0; i < r->n_patterns; i++)
                free(r->patterns[i]);
        free(r->patterns);
        free(r->pattern_lines);
        free(r->file);
}

static bool valid_rule_name(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 64 || !isalnum((unsigned char)s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* Cut an inline comment: white space, then '#'.  "\#" stays a literal #. */
static void cut_comment(char *s)
{
        for (char *p = s; *p; p++)
                if (*p == '#' && p > s && isspace((unsigned char)p[-1])) {
                        *p = '\0';
                        return;
                }
}

static int parse_rule_file(const char *file, RuleBlock **rules, size_t *n, size_t *cap, Diags *errors)
{
        _cleanup_free_ char *text = NULL;
        char *save = NULL, *line;
        unsigned lineno = 0;
        RuleBlock *cur = NULL;
        int r;

        r = read_file(file, 16 << 20, &text, NULL);
        if (r < 0) {
                diags_add(errors, file, 0, "cannot read: %s", strerror(-r));
                return r;
        }
        /* strsep keeps empty lines, so line numbers stay right */
        save = text;
        while ((line = strsep(&save, "\n"))) {
                char *eq, *key, *value;

                lineno++;
                line = strip(line);
                if (!*line || *line == '#' || *line == ';')
                        continue;
                if (*line == '[') {
                        char *end = strchr(line, ']');
                        if (!end) {
                                diags_add(errors, file, lineno, "missing ']' in rule name");
                                cur = NULL;
                                continue;
                        }
                        *end = '\0';
                        cut_comment(end + 1);
                        if (*strip(end + 1)) {
                                diags_add(errors, file, lineno, "text after ']'");
                                cur = NULL;
                                continue;
                        }
                        if (!valid_rule_name(line + 1)) {
                                diags_add(errors, file, lineno,
                                          "bad rule name '%s': use letters, digits, '_', '.', '-'",
                                          line + 1);
                                cur = NULL;
                                continue;
                        }
                        GROW(*rules, *cap, *n + 1);
                        cur = &(*rules)[(*n)++];
                        *cur = (RuleBlock){.name = xstrdup(line + 1),
                                         .max_hits = -1,
                                         .find_time_ms = -1,
                                         .ban_time_ms = -1,
                                         .enabled = true,
                                         .lint = true,
                                         .file = xstrdup(file),
                                         .line = lineno};
                        continue;
                }
                eq = strchr(line, '=');
                if (!eq) {
                        diags_add(errors, file, lineno, "expected 'name = value' or '[rule]'");
                        continue;
                }
                *eq = '\0';
                key = strip(line);
                value = eq + 1;
                cut_comment(value);
                value = strip(value);
                if (!cur) {
                        diags_add(errors, file, lineno, "'%s' outside of a [rule] block", key);
                        continue;
                }
                if (!*value) {
                        diags_add(errors, file, lineno, "%s: empty value", key);
                        continue;
                }
                if (streq(key, "pattern")) {
                        GROW(cur->patterns, cur->cap_patterns, cur->n_patterns + 1);
                        cur->pattern_lines = xreallocarray(cur->pattern_lines, cur->cap_patterns,
                                                           sizeof(unsigned));
                        cur->pattern_lines[cur->n_patterns] = lineno;
                        cur->patterns[cur->n_patterns++] = xstrdup(value);
                } else if (streq(key, "program")) {
                        if (cur->program)
                                diags_add(errors, file, lineno, "program: given twice");
                        else
                                cur->program = xstrdup(value);
                } else if (streq(key, "max_hits")) {
                        uint64_t v;
                        if (parse_uint(value, RULES_MAX_HITS, &v) < 0 || v == 0)
                                diags_add(errors, file, lineno,
                                          "max_hits: '%s' is not a number from 1 to %d", value,
                                          RULES_MAX_HITS);
                        else
                                cur->max_hits = (long)v;
                } else if (streq(key, "find_time") || streq(key, "ban_time")) {
                        uint64_t v;
                        if (parse_duration(value, &v) < 0)
                                diags_add(errors, file, lineno,
                                          "%s: '%s' is not a duration (e.g. 90s, 10m, 1h, 7d)", key,
                                          value);
                        else if (streq(key, "find_time") && v == 0)
                                diags_add(errors, file, lineno, "find_time: must not be 0");
                        else if (streq(key, "find_time"))
                                cur->find_time_ms = (int64_t)v;
                        else
                                cur->ban_time_ms = (int64_t)v;
                } else if (streq(key, "lint")) {
                        if (parse_bool(value, &cur->lint) < 0)
                                diags_add(errors, file, lineno, "lint: '%s' is not on or off",
                                          value);
                        cur->lint_line = lineno;
                } else if (streq(key, "enabled")) {
                        if (parse_bool(value, &cur->enabled) < 0)
                                diags_add(errors, file, lineno, "enabled: '%s' is not yes or no",
                                          value);
                } else
                        diags_add(errors, file, lineno, "unknown key '%s'", key);
        }
        return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The rule files named by path: the file itself, or the folder's *.rules. */
static char **rule_files(const char *path, Diags *errors)
{
        struct stat st;
        char **v = NULL;
        size_t n = 0, cap = 0;
        DIR *d;
        struct dirent *de;

        if (stat(path, &st) < 0) {
                diags_add(errors, path, 0, "%s", strerror(errno));
                return NULL;
        }
        if (!S_ISDIR(st.st_mode)) {
                GROW(v, cap, 2);
                v[0] = xstrdup(path);
                v[1] = NULL;
                return v;
        }
        d = opendir(path);
        if (!d) {
                diags_add(errors, path, 0, "%s", strerror(errno));
                return NULL;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !endswith(de->d_name, ".rules"))
                        continue;
                GROW(v, cap, n + 2);
                v[n++] = xasprintf("%s/%s", path, de->d_name);
        }
        closedir(d);
        GROW(v, cap, n + 1);
        v[n] = NULL;
        qsort(v, n, sizeof(char *), cmp_str);
        return v;
}

int rulefile_load(const char *path, RuleBlocks *out, Diags *errors)
{
        _cleanup_strv_free_ char **files = NULL;
        size_t n_errors = errors->n;

        *out = (RuleBlocks){0};
        files = rule_files(path, errors);
        if (!files)
                return -EINVAL;
        if (!files[0]) {
                diags_add(errors, path, 0, "no *.rules files in this folder");
                return -EINVAL;
        }
        for (size_t i = 0; files[i]; i++)
                (void)parse_rule_file(files[i], &out->v, &out->n, &out->cap, errors);
        for (size_t i = 0; i < out->n; i++) {
                RuleBlock *b = &out->v[i];
                for (size_t j = 0; j < i; j++)
                        if (streq(out->v[j].name, b->name))
                                diags_add(errors, b->file, b->line, "rule %s: already defined at %s:%u", b->name,
                                          out->v[j].file, out->v[j].line);
                if (!b->program)
                        diags_add(errors, b->file, b->line, "rule %s: no 'program ='", b->name);
                if (b->n_patterns == 0)
                        diags_add(errors, b->file, b->line, "rule %s: no 'pattern ='", b->name);
        }
        return errors->n > n_errors ? -EINVAL : 0;
}

void rulefile_free(RuleBlocks *b)
{
        for (size_t i = 0; i < b->n; i++)
                block_free(&b->v[i]);
        free(b->v);
        *b = (RuleBlocks){0};
}
