/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * rules: load, compile and match the rule set.
 *
 * Matching is the per-line hot path, so the work is staged from cheap to
 * dear:
 *   1. the syslog header is split by hand (logline.c);
 *   2. the tag selects the candidate patterns: the program globs are
 *      evaluated once per distinct tag and cached;
 *   3. each candidate's literal prefix (the text after '^') is compared,
 *      then the other literals it requires are searched with memmem(),
 *      each distinct literal at most once per line;
 *   4. only then does PCRE2 (JIT-compiled, one match-data block for the
 *      whole set) run.
 * Most lines stop at step 2 or 3.
 *
 * Security: patterns are trusted (they are the admin's), log lines are
 * not.  Patterns are compiled with PCRE2_NEVER_UTF, so invalid UTF-8 or
 * binary bytes in a line are just bytes, and with a match limit, so a
 * line cannot make a pattern backtrack for long.  The address comes only
 * from the "addr" group and must pass inet_pton().  A line that logs a
 * rejection by our own map is never a hit, or a ban would renew itself.
 */
#include "match/rules.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <pcre2.h>
#include <sys/stat.h>

#include "source/logline.h"

/* Strict enough to stop at the field's end; inet_pton() has the last word. */
#define IPV4_RE                                                                                    \
        "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"                                          \
        "(?:\\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
const char rules_addr_regex[] = "(?<addr>" IPV4_RE "|(?=[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
                                "(?:(?<=:)" IPV4_RE ")?)";

#define ADDR_TOKEN "<ADDR>"
#define MATCH_LIMIT 200000
#define TAG_CACHE_SIZE 128 /* slots; flushed when 3/4 full */
#define TAG_MAX 64

typedef struct Matcher {
        Rule *rule;
        pcre2_code *code;
        bool jit;
        uint32_t addr_group; /* capture group number of <ADDR> */
        uint32_t lp_group, echo_group; /* of "lp" and "echo", for (?C"echo"); 0: none */
        char *prefix; /* literal the message starts with, or NULL */
        size_t prefix_len;
        unsigned char first; /* prefix[0], compared before memcmp() */
        uint32_t lits[8]; /* ids in RuleSet.lits, in the order they are checked */
        uint32_t n_lits;  /* how many are checked (see order_literals()) */
} Matcher;

/*
 * What to try for a line, by its tag and the first byte of its message.
 * A plan lists the candidate patterns in rule order: those without a
 * literal prefix, and those whose prefix starts with that byte.  Each step
 * knows where the run of steps that share its first literal ends, so one
 * failed (memoized) literal search skips the whole run: a line without
 * ": reject: " passes over every reject rule at once.
 */
typedef struct Step {
        uint32_t matcher;
        uint32_t next; /* the first later step with another first literal */
} Step;

typedef struct TagEntry {
        char tag[TAG_MAX];
        uint8_t len;
        bool used;
        uint8_t plan_of[256]; /* first byte of the message -> plan */
        uint32_t *plan_start; /* n_plans + 1 offsets into steps */
        uint32_t n_plans;
        Step *steps;
        uint32_t n_candidates;
} TagEntry;

struct RuleSet {
        Rule *rules;
        size_t n_rules;
        Matcher *matchers;
        size_t n_matchers;
        char **lits; /* distinct required literals */
        size_t *lit_len;
        size_t *lit_anchor; /* offset of each literal's rarest byte */
        uint32_t *lit_users; /* matchers that require each literal */
        size_t n_lits;
        uint32_t *memo_gen; /* per literal: line generation of memo_val */
        bool *memo_val;
        uint32_t byte_gen[256]; /* per anchor byte: line generation of byte_in */
        bool byte_in[256];      /* is the byte in the message at all? */
        uint32_t gen;
        pcre2_match_data *md;
        pcre2_match_context *mctx;
        pcre2_code *own_reject; /* our map's rejection, as logged by smtpd */
        bool own_reject_jit;
        char *reject_text;
        size_t reject_len, reject_anchor;
        TagEntry cache[TAG_CACHE_SIZE];
        size_t cache_used;
        TagEntry uncached; /* the plans of a tag too long to cache */
        uint32_t *scratch; /* candidates, while plans are built */
        uint64_t max_find_time_ms;
        bool all_jit;
};

static void tag_entry_clear(TagEntry *e)
{
        free(e->plan_start);
        free(e->steps);
        *e = (TagEntry){0};
}

/* --- loading ------------------------------------------------------------ */

typedef struct RawRule {
        char *name;
        char *program;
        char **patterns;
        unsigned *pattern_lines;
        size_t n_patterns, cap_patterns;
        long max_hits; /* -1: default */
        int64_t find_time_ms, ban_time_ms;
        bool enabled;
        bool lint;       /* false: "lint = off", the admin vouches for the patterns */
        unsigned lint_line;
        char *file;
        unsigned line;
} RawRule;

static void rawrule_free(RawRule *r)
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

static int parse_rule_file(const char *file, RawRule **rules, size_t *n, size_t *cap, Diags *errors)
{
        _cleanup_free_ char *text = NULL;
        char *save = NULL, *line;
        unsigned lineno = 0;
        RawRule *cur = NULL;
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
                        *cur = (RawRule){.name = xstrdup(line + 1),
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

/* --- literal extraction (prefilter) ------------------------------------ */

/* Skip a character class starting at p[i] == '['; returns the index after ']'. */
static size_t skip_class(const char *p, size_t i)
{
        i++;
        if (p[i] == '^')
                i++;
        if (p[i] == ']')
                i++;
        while (p[i] && p[i] != ']') {
                if (p[i] == '\\' && p[i + 1])
                        i += 2;
                else if (p[i] == '[' && p[i + 1] == ':') {
                        const char *e = strstr(p + i + 2, ":]");
                        i = e ? (size_t)(e - p) + 2 : i + 1;
                } else
                        i++;
        }
        return p[i] ? i + 1 : i;
}

/* Skip a group starting at p[i] == '('; returns the index after ')'. */
static size_t skip_group(const char *p, size_t i)
{
        int depth = 0;

        while (p[i]) {
                if (p[i] == '\\' && p[i + 1])
                        i += 2;
                else if (p[i] == '[')
                        i = skip_class(p, i);
                else if (p[i] == '(') {
                        depth++;
                        i++;
                } else if (p[i] == ')') {
                        i++;
                        if (--depth == 0)
                                return i;
                } else
                        i++;
        }
        return i;
}

/* Parse a {n}, {n,} or {n,m} quantifier at p[i]; returns its length or 0. */
static size_t quantifier_braces(const char *p, size_t i, unsigned long *min, unsigned long *max,
                                bool *unbounded)
{
        size_t j = i + 1;
        char *end;

        if (!isdigit((unsigned char)p[j]))
                return 0;
        *min = *max = strtoul(p + j, &end, 10);
        j = (size_t)(end - p);
        *unbounded = false;
        if (p[j] == ',') {
                j++;
                if (p[j] == '}')
                        *unbounded = true;
                else {
                        if (!isdigit((unsigned char)p[j]))
                                return 0;
                        *max = strtoul(p + j, &end, 10);
                        j = (size_t)(end - p);
                }
        }
        if (p[j] != '}')
                return 0;
        return j + 1 - i;
}

typedef struct LitScan {
        Buf run;
        bool run_is_prefix;
        char *prefix;
        char **lits;
        size_t n, cap;
} LitScan;

static void lit_flush(LitScan *s)
{
        if (s->run_is_prefix) {
                if (s->run.len > 0)
                        s->prefix = xstrndup(s->run.data, s->run.len);
                s->run_is_prefix = false;
        } else if (s->run.len >= 4) {
                GROW(s->lits, s->cap, s->n + 2);
                s->lits[s->n++] = xstrndup(s->run.data, s->run.len);
                s->lits[s->n] = NULL;
        }
        buf_clear(&s->run);
}

/* Is there a '|' outside any group or class (so that nothing is required)? */
static bool top_level_alternation(const char *p)
{
        size_t i = 0;

        while (p[i]) {
                if (p[i] == '\\' && p[i + 1])
                        i += 2;
                else if (p[i] == '[')
                        i = skip_class(p, i);
                else if (p[i] == '(')
                        i = skip_group(p, i);
                else if (p[i] == '|')
                        return true;
                else
                        i++;
        }
        return false;
}

bool rules_pattern_literals(const char *p, char **prefix_out, char ***lits_out)
{
        LitScan s = {0};
        size_t i = 0;
        bool ok = true;

        *prefix_out = NULL;
        *lits_out = NULL;
        /* Verbs such as (*UTF) at the start change how all of it reads. */
        if (startswith(p, "(*") || startswith(p, "^(*") || strstr(p, "\\Q") || top_level_alternation(p))
                return false;
        if (p[0] == '^') {
                s.run_is_prefix = true;
                i = 1;
        }
        while (p[i] && ok) {
                int lit = -1; /* the literal byte of this atom, if it is one */
                char c = p[i];

                if (c == '\\') {
                        char e = p[i + 1];
                        if (!e)
                                break;
                        if (isalnum((unsigned char)e)) {
                                if (strchr("xocNgkpPQE0123456789", e)) {
                                        ok = false; /* escapes with arguments, quoting */
                                        break;
                                }
                                i += 2; /* class or assertion */
                        } else {
                                lit = (unsigned char)e;
                                i += 2;
                        }
                } else if (c == '[') {
                        i = skip_class(p, i);
                } else if (c == '(') {
                        size_t j = i + 2;
                        if (startswith(p + i, "(?#")) {
                                const char *e = strchr(p + i, ')');
                                i = e ? (size_t)(e - p) + 1 : strlen(p);
                                continue;
                        }
                        /* "(?i)" and the like change how what follows reads: stop here. */
                        if (p[i + 1] == '?' || p[i + 1] == '*') {
                                while (p[j] && (isalpha((unsigned char)p[j]) || p[j] == '-' || p[j] == '^'))
                                        j++;
                                if (p[i + 1] == '*' || (j > i + 2 && p[j] == ')')) {
                                        ok = false;
                                        break;
                                }
                        }
                        i = skip_group(p, i);
                } else if (c == '|') {
                        /* top-level alternation: nothing is required */
                        buf_free(&s.run);
                        free(s.prefix);
                        strv_free(s.lits);
                        return false;
                } else if (c == '<' && startswith(p + i, ADDR_TOKEN)) {
                        i += strlen(ADDR_TOKEN);
                } else if (c == '.' || c == '^' || c == '$') {
                        i++;
                } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                        ok = false; /* a quantifier with nothing before it */
                        break;
                } else {
                        lit = (unsigned char)c;
                        i++;
                }

                /* The quantifier, if any, that applies to this atom. */
                {
                        unsigned long min = 1, max = 1;
                        bool unbounded = false, quantified = false;
                        size_t qlen;

                        if (p[i] == '*' || p[i] == '?') {
                                min = 0;
                                quantified = true;
                                i++;
                        } else if (p[i] == '+') {
                                quantified = true;
                                i++;
                        } else if (p[i] == '{' && (qlen = quantifier_braces(p, i, &min, &max, &unbounded))) {
                                quantified = true;
                                i += qlen;
                        }
                        if (quantified && (p[i] == '+' || p[i] == '?'))
                                i++; /* possessive or lazy */
                        if (lit >= 0 && min >= 1) {
                                char ch = (char)lit;
                                buf_append(&s.run, &ch, 1);
                        }
                        if (lit < 0 || quantified)
                                lit_flush(&s);
                }
        }
        /* What was collected before a construct we cannot read is still required. */
        lit_flush(&s);
        buf_free(&s.run);
        *prefix_out = s.prefix;
        *lits_out = s.lits;
        return true;
}

/* --- lint --------------------------------------------------------------- */

/*
 * What one atom of a pattern can match, as far as the lint cares: '[',
 * a space, and "free text" (a negated class, '.', \S and the like: an
 * atom that takes nearly any byte, so a run of it takes whatever a client
 * wrote).  A positive class such as [-._A-Za-z0-9] is not free text.
 */
typedef struct AtomInfo {
        bool bracket, space, free;
} AtomInfo;

/* What the escape \e matches (inside or outside a class). */
static void escape_info(char e, AtomInfo *a)
{
        if (strchr("SWDHVNRCX", e) || strchr("xopPcgk0123456789", e)) {
                /* the negated shorthands, and escapes whose argument we do
                 * not read: assume the worst */
                a->bracket = a->free = true;
                a->space = a->space || (e != 'S' && e != 'H');
        } else if (e == 's' || e == 'h')
                a->space = true;
        else if (e == '[')
                a->bracket = true;
        else if (e == ' ')
                a->space = true;
}

/* What the class at p[i] == '[' (up to its ']') can match. */
static AtomInfo class_info(const char *p, size_t i)
{
        size_t end = skip_class(p, i);
        bool negated = false;
        AtomInfo has = {0}, out;

        i++;
        if (p[i] == '^') {
                negated = true;
                i++;
        }
        if (p[i] == ']')
                i++; /* a literal ']' first */
        while (i < end - 1) {
                unsigned char lo;
                if (p[i] == '\\' && i + 1 < end - 1) {
                        char e = p[i + 1];
                        escape_info(e, &has);
                        lo = (unsigned char)e;
                        if (isalnum((unsigned char)e))
                                lo = 0; /* \d, \w, ...: not the start of a range */
                        i += 2;
                } else if (p[i] == '[' && p[i + 1] == ':') {
                        const char *e = strstr(p + i + 2, ":]");
                        size_t len = e ? (size_t)(e - (p + i + 2)) : 0;
                        const char *name = p + i + 2;
                        /* [:punct:], [:graph:], [:print:], [:ascii:] include '[' */
                        if (len == 0 || name[0] == '^' || !strncmp(name, "punct", len) ||
                            !strncmp(name, "graph", len) || !strncmp(name, "print", len) ||
                            !strncmp(name, "ascii", len))
                                has.bracket = has.free = true;
                        if (len == 0 || name[0] == '^' || !strncmp(name, "space", len) ||
                            !strncmp(name, "blank", len) || !strncmp(name, "print", len) ||
                            !strncmp(name, "ascii", len))
                                has.space = true;
                        i = e ? (size_t)(e - p) + 2 : end;
                        continue;
                } else {
                        lo = (unsigned char)p[i];
                        if (lo == '[')
                                has.bracket = true;
                        if (lo == ' ')
                                has.space = true;
                        i++;
                }
                /* a range lo-hi */
                if (p[i] == '-' && i + 1 < end - 1 && p[i + 1] != ']') {
                        unsigned char hi = (unsigned char)p[i + 1];
                        size_t step = 2;
                        if (hi == '\\' && i + 2 < end - 1) {
                                hi = (unsigned char)p[i + 2];
                                step = 3;
                        }
                        if (lo <= '[' && '[' <= hi)
                                has.bracket = true;
                        if (lo <= ' ' && ' ' <= hi)
                                has.space = true;
                        /* a range that spans most of ASCII is free text */
                        if (hi > lo && hi - lo > 64)
                                has.free = true;
                        i += step;
                }
        }
        if (!negated)
                return has;
        /* A negated class takes everything it does not list: free text. */
        out.bracket = !has.bracket;
        out.space = !has.space;
        out.free = true;
        return out;
}

/*
 * A run before <ADDR> of at most this many bytes of free text is allowed
 * (".{1,5}"): too short to hold a forged field.
 */
#define LINT_FREE_RUN_MAX 8

typedef struct LintWalk {
        AtomInfo last;   /* the last atom at the top level */
        bool last_run;   /* ... was repeated (more than once) */
} LintWalk;

/*
 * Walk p[*i .. end) (one group level).  Merges into *seen what the atoms
 * in it can match.  Returns -1 with *why set on a violation: before
 * <ADDR>, an atom that can match '[', or free text, repeated without a
 * (small) bound.
 */
static int lint_seq(const char *p, size_t *i, size_t end, AtomInfo *seen, LintWalk *w, char **why)
{
        while (*i < end && p[*i] != ')') {
                size_t start = *i;
                AtomInfo a = {0};
                bool zero_width = false;
                char c = p[*i];

                if (c == '\\') {
                        char e = p[*i + 1];
                        if (strchr("bBAzZGK", e))
                                zero_width = true;
                        else
                                escape_info(e, &a);
                        *i += 2;
                } else if (c == '[') {
                        a = class_info(p, *i);
                        *i = skip_class(p, *i);
                } else if (c == '(') {
                        bool lookaround = false;
                        (*i)++;
                        /* skip the group's opening syntax: ?: ?= ?! ?<= ?<! ?<name> */
                        if (p[*i] == '?') {
                                (*i)++;
                                if (p[*i] == '<' && p[*i + 1] != '=' && p[*i + 1] != '!') {
                                        const char *gt = strchr(p + *i, '>');
                                        *i = gt ? (size_t)(gt - p) + 1 : end;
                                } else {
                                        lookaround = strchr("=!<", p[*i]) != NULL;
                                        while (*i < end && strchr(":=!<", p[*i]))
                                                (*i)++;
                                }
                        }
                        if (lint_seq(p, i, end, &a, NULL, why) < 0)
                                return -1;
                        if (*i < end && p[*i] == ')')
                                (*i)++;
                        zero_width = lookaround;
                } else if (c == '.') {
                        a.bracket = a.space = a.free = true;
                        (*i)++;
                } else if (c == '|' || c == '^' || c == '$') {
                        (*i)++;
                        continue;
                } else {
                        a.space = c == ' ';
                        (*i)++;
                }

                {
                        unsigned long min = 1, max = 1;
                        bool unbounded = false;
                        size_t qlen;

                        if (p[*i] == '*' || p[*i] == '+') {
                                unbounded = true;
                                (*i)++;
                        } else if (p[*i] == '?')
                                (*i)++;
                        else if (p[*i] == '{' &&
                                 (qlen = quantifier_braces(p, *i, &min, &max, &unbounded)))
                                *i += qlen;
                        if (*i < end && (p[*i] == '+' || p[*i] == '?'))
                                (*i)++;
                        if (zero_width)
                                continue;
                        if (unbounded && a.bracket) {
                                *why = xasprintf("'%.*s' before <ADDR> can run across a '[': an "
                                                 "attacker-written field could supply the address",
                                                 (int)(*i - start), p + start);
                                return -1;
                        }
                        if ((unbounded || max > LINT_FREE_RUN_MAX) && a.free) {
                                *why = xasprintf("'%.*s' before <ADDR> is a run of free text: it "
                                                 "can take a field the client wrote, and an address "
                                                 "forged in it; use a class of the bytes the field "
                                                 "can hold, such as [-._A-Za-z0-9]+",
                                                 (int)(*i - start), p + start);
                                return -1;
                        }
                        if (w) {
                                w->last = a;
                                w->last_run = unbounded || max > 1;
                        }
                }
                seen->bracket |= a.bracket;
                seen->space |= a.space;
                seen->free |= a.free;
        }
        return 0;
}

int rules_lint(const char *pattern, char **why)
{
        const char *a = strstr(pattern, ADDR_TOKEN);
        size_t pos, i = 0;
        AtomInfo seen = {0};
        LintWalk w = {0};

        *why = NULL;
        if (pattern[0] != '^') {
                *why = xstrdup("not anchored: the pattern must start with '^' (the start of the "
                               "message)");
                return -1;
        }
        if (!a) {
                *why = xstrdup("no <ADDR> in the pattern");
                return -1;
        }
        if (strstr(a + 1, ADDR_TOKEN)) {
                *why = xstrdup("more than one <ADDR>");
                return -1;
        }
        pos = (size_t)(a - pattern);
        /* The address must follow a literal: a fixed field, not a run. */
        if (pos < 2 || (strchr(")]*+?}.|$", pattern[pos - 1]) && pattern[pos - 2] != '\\')) {
                *why = xstrdup("<ADDR> does not follow literal text (such as '\\[' or 'rip='): "
                               "its position is not fixed");
                return -1;
        }
        /* In "name[<ADDR>]", walk up to the '[' to see what stands for the name. */
        if (pos >= 3 && pattern[pos - 2] == '\\' && pattern[pos - 1] == '[')
                pos -= 2;
        else
                pos = (size_t)(a - pattern);
        while (i < pos) {
                if (lint_seq(pattern, &i, pos, &seen, &w, why) < 0)
                        return -1;
                if (i < pos && pattern[i] == ')')
                        i++; /* unbalanced: the compiler reports it */
        }
        /*
         * Postfix writes the client name before "[address]": a host name or
         * "unknown", never a space.  A run that can take a space there can
         * take "mech x" or a HELO name that carries "x[192.0.2.1]".
         */
        if ((size_t)(a - pattern) != pos && w.last_run && w.last.space) {
                *why = xstrdup("the client name before '[<ADDR>]' can hold a space: it must be a "
                               "host name class such as [-._A-Za-z0-9]+, not text a client wrote");
                return -1;
        }
        return 0;
}

/* --- compile ------------------------------------------------------------ */

/*
 * The bytes of Postfix log messages, commonest first, as measured on a
 * million generated lines (the byte counts of the project's generator and
 * of an independent one agree on the order).  A byte not listed is rarer
 * than all of these.  A literal is searched by memchr() for its rarest
 * byte, then compared whole: ": reject: " is looked for by its 'j', which
 * most lines do not hold at all.
 */
static const char common_bytes[] = " e.a1ot2nmr0:lcis5=dp346897fxuS][bh-g><A";

static size_t rarest_byte(const char *lit, size_t len)
{
        size_t best = 0, best_rank = 0;

        for (size_t i = 0; i < len; i++) {
                const char *c = memchr(common_bytes, lit[i], sizeof(common_bytes) - 1);
                size_t rank = c ? (size_t)(c - common_bytes) : sizeof(common_bytes);
                if (rank > best_rank) {
                        best_rank = rank;
                        best = i;
                }
        }
        return best;
}

static uint32_t intern_literal(RuleSet *rs, const char *lit)
{
        for (size_t i = 0; i < rs->n_lits; i++)
                if (streq(rs->lits[i], lit))
                        return (uint32_t)i;
        rs->lits = xreallocarray(rs->lits, rs->n_lits + 1, sizeof(char *));
        rs->lit_len = xreallocarray(rs->lit_len, rs->n_lits + 1, sizeof(size_t));
        rs->lit_anchor = xreallocarray(rs->lit_anchor, rs->n_lits + 1, sizeof(size_t));
        rs->lits[rs->n_lits] = xstrdup(lit);
        rs->lit_len[rs->n_lits] = strlen(lit);
        rs->lit_anchor[rs->n_lits] = rarest_byte(lit, strlen(lit));
        return (uint32_t)rs->n_lits++;
}

static int cmp_len_desc(const void *a, const void *b)
{
        size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
        return la < lb ? 1 : la > lb ? -1 : 0;
}

/* Compile one pattern of rule into m; problems go to errors. */
static int compile_pattern(RuleSet *rs, Matcher *m, Rule *rule, const char *pattern, bool lint,
                           const char *file, unsigned line, Diags *errors, Diags *warnings)
{
        const char *a = strstr(pattern, ADDR_TOKEN);
        _cleanup_free_ char *expanded = NULL, *why = NULL, *prefix = NULL;
        _cleanup_strv_free_ char **lits = NULL;
        size_t addr_pos, extra;
        PCRE2_SIZE erroff;
        int errcode, rc;

        if (!a) {
                diags_add(errors, file, line, "rule %s: pattern has no <ADDR>", rule->name);
                return -EINVAL;
        }
        if (strstr(a + 1, ADDR_TOKEN)) {
                diags_add(errors, file, line, "rule %s: pattern has more than one <ADDR>", rule->name);
                return -EINVAL;
        }
        if (strstr(pattern, "?<addr>") || strstr(pattern, "?P<addr>") || strstr(pattern, "?'addr'")) {
                diags_add(errors, file, line, "rule %s: the group name 'addr' is reserved for <ADDR>",
                          rule->name);
                return -EINVAL;
        }
        addr_pos = (size_t)(a - pattern);
        extra = strlen(rules_addr_regex) - strlen(ADDR_TOKEN);
        expanded = xasprintf("%.*s%s%s", (int)addr_pos, pattern, rules_addr_regex,
                             a + strlen(ADDR_TOKEN));

        m->rule = rule;
        m->code = pcre2_compile((PCRE2_SPTR)expanded, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF, &errcode,
                                &erroff, NULL);
        if (!m->code) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(errcode, msg, sizeof(msg));
                /* report the offset in the pattern as written */
                if (erroff >= addr_pos + strlen(rules_addr_regex))
                        erroff -= extra;
                else if (erroff > addr_pos)
                        erroff = addr_pos;
                diags_add(errors, file, line, "rule %s: pattern error at offset %zu: %s", rule->name,
                          (size_t)erroff, (char *)msg);
                return -EINVAL;
        }
        /*
         * A lint finding is an error: the pattern could let a client choose
         * the address, and a set with it is not loaded (a reload keeps the
         * old one).  Only the admin's explicit "lint = off" makes it a
         * warning, repeated at every load.
         */
        if (rules_lint(pattern, &why) < 0) {
                if (lint) {
                        diags_add(errors, file, line, "rule %s: %s", rule->name, why);
                        pcre2_code_free(m->code);
                        m->code = NULL;
                        return -EINVAL;
                }
                diags_add(warnings, file, line, "rule %s: %s (lint = off)", rule->name, why);
        }
        m->jit = pcre2_jit_compile(m->code, PCRE2_JIT_COMPLETE) == 0;
        if (!m->jit)
                rs->all_jit = false;
        m->addr_group = (uint32_t)pcre2_substring_number_from_name(m->code, (PCRE2_SPTR) "addr");
        rc = pcre2_substring_number_from_name(m->code, (PCRE2_SPTR) "lp");
        m->lp_group = rc > 0 ? (uint32_t)rc : 0;
        rc = pcre2_substring_number_from_name(m->code, (PCRE2_SPTR) "echo");
        m->echo_group = rc > 0 ? (uint32_t)rc : 0;

        if (rules_pattern_literals(pattern, &prefix, &lits)) {
                size_t n = strv_length(lits);
                if (prefix) {
                        m->prefix_len = strlen(prefix);
                        m->first = (unsigned char)prefix[0];
                        m->prefix = TAKE_PTR(prefix);
                }
                if (n > 1)
                        qsort(lits, n, sizeof(char *), cmp_len_desc);
                for (size_t i = 0; i < n && m->n_lits < ELEMENTSOF(m->lits); i++)
                        m->lits[m->n_lits++] = intern_literal(rs, lits[i]);
                /* the order and the number checked are set once all are known */
        }
        return 0;
}

/* The pattern of a line that logs a rejection of ours: the backend's (RuleDefaults.own_reject). */
static pcre2_code *compile_own_reject(const char *pattern)
{
        PCRE2_SIZE erroff;
        int errcode;

        return pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF, &errcode, &erroff, NULL);
}

/*
 * Decide which literals each pattern checks, and in what order.  The
 * result of a literal search is kept for the line, so a literal that many
 * patterns require is nearly free for all but the first: it goes first,
 * and a line without it (most lines lack ": reject: ") is turned away by
 * one search for a whole family of rules.  Rank by (patterns sharing it) x
 * (length), but only for literals of 8 bytes or more: a short one such as
 * " from " is shared by many patterns and present on most lines, so it
 * turns nothing away.  Four are checked.
 */
#define GATE_MIN_LEN 8

static size_t lit_rank(const RuleSet *rs, uint32_t id)
{
        return rs->lit_len[id] >= GATE_MIN_LEN ? rs->lit_users[id] * rs->lit_len[id] : rs->lit_len[id];
}

static int cmp_lit_rank(const void *a, const void *b, void *ctx)
{
        const RuleSet *rs = ctx;
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        size_t sx = lit_rank(rs, x), sy = lit_rank(rs, y);

        if (sx != sy)
                return sx < sy ? 1 : -1;
        return rs->lit_len[x] < rs->lit_len[y] ? 1 : rs->lit_len[x] > rs->lit_len[y] ? -1 : 0;
}

static void order_literals(RuleSet *rs)
{
        rs->lit_users = xcalloc(rs->n_lits ? rs->n_lits : 1, sizeof(uint32_t));
        for (size_t i = 0; i < rs->n_matchers; i++)
                for (uint32_t l = 0; l < rs->matchers[i].n_lits; l++)
                        rs->lit_users[rs->matchers[i].lits[l]]++;
        for (size_t i = 0; i < rs->n_matchers; i++) {
                Matcher *m = &rs->matchers[i];
                qsort_r(m->lits, m->n_lits, sizeof(uint32_t), cmp_lit_rank, rs);
                m->n_lits = MIN(m->n_lits, 4u);
        }
}

int ruleset_load(RuleSet **out, const char *path, const RuleDefaults *defs, Names *names,
                 Diags *errors, Diags *warnings)
{
        _cleanup_strv_free_ char **files = NULL;
        RawRule *raw = NULL;
        size_t n_raw = 0, cap_raw = 0, n_errors = errors->n, n_patterns = 0;
        RuleSet *rs = NULL;
        uint32_t max_groups = 0;
        int r = 0;

        files = rule_files(path, errors);
        if (!files)
                return -EINVAL;
        if (!files[0]) {
                diags_add(errors, path, 0, "no *.rules files in this folder");
                return -EINVAL;
        }
        for (size_t i = 0; files[i]; i++)
                (void)parse_rule_file(files[i], &raw, &n_raw, &cap_raw, errors);

        /* Validate the blocks and drop the disabled ones. */
        for (size_t i = 0; i < n_raw; i++) {
                RawRule *rr = &raw[i];
                for (size_t j = 0; j < i; j++)
                        if (streq(raw[j].name, rr->name))
                                diags_add(errors, rr->file, rr->line,
                                          "rule %s: already defined at %s:%u", rr->name, raw[j].file,
                                          raw[j].line);
                if (!rr->program)
                        diags_add(errors, rr->file, rr->line, "rule %s: no 'program ='", rr->name);
                if (rr->n_patterns == 0)
                        diags_add(errors, rr->file, rr->line, "rule %s: no 'pattern ='", rr->name);
                if (rr->enabled)
                        n_patterns += rr->n_patterns;
        }
        if (errors->n > n_errors)
                goto fail;

        rs = xcalloc(1, sizeof(RuleSet));
        rs->all_jit = true;
        rs->rules = xcalloc(n_raw ? n_raw : 1, sizeof(Rule));
        rs->matchers = xcalloc(n_patterns ? n_patterns : 1, sizeof(Matcher));
        for (size_t i = 0; i < n_raw; i++) {
                RawRule *rr = &raw[i];
                Rule *rule;

                if (!rr->enabled)
                        continue;
                rule = &rs->rules[rs->n_rules++];
                rule->name = xstrdup(rr->name);
                rule->program = xstrdup(rr->program);
                rule->file = xstrdup(rr->file);
                rule->line = rr->line;
                rule->max_hits = rr->max_hits >= 0 ? (unsigned)rr->max_hits : defs->max_hits;
                rule->find_time_ms = rr->find_time_ms >= 0 ? (uint64_t)rr->find_time_ms : defs->find_time_ms;
                rule->ban_time_ms = rr->ban_time_ms >= 0 ? (uint64_t)rr->ban_time_ms : defs->ban_time_ms;
                if (names_intern(names, rule->name, &rule->id) < 0) {
                        diags_add(errors, rr->file, rr->line, "rule %s: too many rule names", rr->name);
                        continue;
                }
                rs->max_find_time_ms = MAX(rs->max_find_time_ms, rule->find_time_ms);
                if (!rr->lint)
                        diags_add(warnings, rr->file, rr->lint_line,
                                  "rule %s: lint = off: its patterns are not checked for fields "
                                  "a client could forge",
                                  rr->name);
                for (size_t j = 0; j < rr->n_patterns; j++) {
                        Matcher *m = &rs->matchers[rs->n_matchers];
                        uint32_t groups = 0;
                        if (compile_pattern(rs, m, rule, rr->patterns[j], rr->lint, rr->file, rr->pattern_lines[j],
                                            errors, warnings) < 0)
                                continue;
                        rs->n_matchers++;
                        (void)pcre2_pattern_info(m->code, PCRE2_INFO_CAPTURECOUNT, &groups);
                        max_groups = MAX(max_groups, groups);
                }
        }
        if (rs->n_rules == 0 && errors->n == n_errors)
                diags_add(errors, path, 0, "no enabled rules");
        if (errors->n > n_errors)
                goto fail;

        order_literals(rs);
        rs->md = pcre2_match_data_create(max_groups + 1, NULL);
        rs->mctx = pcre2_match_context_create(NULL);
        if (!rs->md || !rs->mctx)
                oom();
        pcre2_set_match_limit(rs->mctx, MATCH_LIMIT);
        rs->memo_gen = xcalloc(rs->n_lits ? rs->n_lits : 1, sizeof(uint32_t));
        rs->memo_val = xcalloc(rs->n_lits ? rs->n_lits : 1, sizeof(bool));
        rs->scratch = xcalloc(rs->n_matchers ? rs->n_matchers : 1, sizeof(uint32_t));
        if (defs->reject_text && !defs->reject_text[0]) {
                /* our own rejections are recognised by it: empty, every reject would look like ours */
                diags_add(errors, NULL, 0, "reject_text is empty");
                goto fail;
        }
        rs->reject_text = xstrdup(defs->reject_text ? defs->reject_text : "postfix-autoblacklist");
        rs->reject_len = strlen(rs->reject_text);
        rs->reject_anchor = rarest_byte(rs->reject_text, rs->reject_len);
        if (defs->own_reject) {
                rs->own_reject = compile_own_reject(defs->own_reject);
                if (!rs->own_reject) {
                        diags_add(errors, NULL, 0, "reject_text cannot be made into a pattern");
                        goto fail;
                }
                rs->own_reject_jit = pcre2_jit_compile(rs->own_reject, PCRE2_JIT_COMPLETE) == 0;
        }
        *out = rs;
        rs = NULL;
        goto done;
fail:
        r = -EINVAL;
        rs = ruleset_free(rs);
done:
        for (size_t i = 0; i < n_raw; i++)
                rawrule_free(&raw[i]);
        free(raw);
        return r;
}

RuleSet *ruleset_free(RuleSet *rs)
{
        if (!rs)
                return NULL;
        for (size_t i = 0; i < rs->n_rules; i++) {
                free(rs->rules[i].name);
                free(rs->rules[i].program);
                free(rs->rules[i].file);
        }
        free(rs->rules);
        for (size_t i = 0; i < rs->n_matchers; i++) {
                pcre2_code_free(rs->matchers[i].code);
                free(rs->matchers[i].prefix);
        }
        free(rs->matchers);
        for (size_t i = 0; i < rs->n_lits; i++)
                free(rs->lits[i]);
        free(rs->lits);
        free(rs->lit_len);
        free(rs->lit_anchor);
        free(rs->lit_users);
        free(rs->memo_gen);
        free(rs->memo_val);
        for (size_t i = 0; i < TAG_CACHE_SIZE; i++)
                tag_entry_clear(&rs->cache[i]);
        tag_entry_clear(&rs->uncached);
        free(rs->scratch);
        pcre2_match_data_free(rs->md);
        pcre2_match_context_free(rs->mctx);
        pcre2_code_free(rs->own_reject);
        free(rs->reject_text);
        free(rs);
        return NULL;
}

size_t ruleset_count(const RuleSet *rs) { return rs->n_rules; }
Rule *ruleset_rule(const RuleSet *rs, size_t i) { return &rs->rules[i]; }
uint64_t ruleset_max_find_time(const RuleSet *rs) { return rs->max_find_time_ms; }
bool ruleset_jit(const RuleSet *rs) { return rs->all_jit; }

Rule *ruleset_find(const RuleSet *rs, const char *name)
{
        for (size_t i = 0; i < rs->n_rules; i++)
                if (streq(rs->rules[i].name, name))
                        return &rs->rules[i];
        return NULL;
}

/* --- matching ----------------------------------------------------------- */

/* A tag hash that reads 8 bytes at a time: it runs on every line. */
static uint32_t tag_hash(const char *s, size_t n)
{
        uint64_t h = n * 0x9e3779b97f4a7c15ULL, w = 0;
        size_t i = 0;

        for (; i + 8 <= n; i += 8) {
                memcpy(&w, s + i, 8);
                h = (h ^ w) * 0xff51afd7ed558ccdULL;
                h ^= h >> 32;
        }
        if (i < n) {
                /* the last 8 bytes (overlapping), or the whole of a short tag */
                w = 0;
                if (n >= 8)
                        memcpy(&w, s + n - 8, 8);
                else
                        for (size_t k = 0; k < n; k++)
                                w = w << 8 | (unsigned char)s[k];
                h = (h ^ w) * 0xff51afd7ed558ccdULL;
                h ^= h >> 32;
        }
        return (uint32_t)h;
}

/* Matchers whose program glob matches tag, into idx; returns the count. */
static uint32_t tag_candidates(RuleSet *rs, const char *tag, size_t len, uint32_t *idx)
{
        char t[256];
        uint32_t n = 0;

        if (len >= sizeof(t))
                return 0;
        memcpy(t, tag, len);
        t[len] = '\0';
        for (size_t i = 0; i < rs->n_matchers; i++)
                if (fnmatch(rs->matchers[i].rule->program, t, 0) == 0)
                        idx[n++] = (uint32_t)i;
        return n;
}

/* Fill e's plans for tag: the candidates by the message's first byte. */
static void tag_entry_build(RuleSet *rs, TagEntry *e, const char *tag, size_t len)
{
        uint32_t n = tag_candidates(rs, tag, len, rs->scratch);
        uint8_t bytes[256];
        uint32_t n_bytes = 0, k = 0;

        e->n_candidates = n;
        /* plan 0: no prefix starts with the byte; then one plan per prefix byte */
        memset(e->plan_of, 0, sizeof(e->plan_of));
        for (uint32_t i = 0; i < n; i++) {
                const Matcher *m = &rs->matchers[rs->scratch[i]];
                if (m->prefix_len && !e->plan_of[m->first]) {
                        bytes[n_bytes++] = m->first;
                        e->plan_of[m->first] = (uint8_t)n_bytes;
                }
        }
        e->n_plans = n_bytes + 1;
        e->plan_start = xcalloc(e->n_plans + 1, sizeof(uint32_t));
        e->steps = xcalloc((size_t)e->n_plans * (n ? n : 1), sizeof(Step));
        for (uint32_t p = 0; p < e->n_plans; p++) {
                uint32_t begin = k;
                e->plan_start[p] = k;
                for (uint32_t i = 0; i < n; i++) {
                        const Matcher *m = &rs->matchers[rs->scratch[i]];
                        if (!m->prefix_len || (p > 0 && m->first == bytes[p - 1]))
                                e->steps[k++].matcher = rs->scratch[i];
                }
                /* runs of steps that share their first literal */
                for (uint32_t i = k; i-- > begin;) {
                        const Matcher *m = &rs->matchers[e->steps[i].matcher];
                        const Matcher *nx = i + 1 < k ? &rs->matchers[e->steps[i + 1].matcher] : NULL;
                        bool same = m->n_lits && nx && nx->n_lits && nx->lits[0] == m->lits[0];
                        e->steps[i].next = same ? e->steps[i + 1].next : i + 1;
                }
        }
        e->plan_start[e->n_plans] = k;
}

static const TagEntry *tag_lookup(RuleSet *rs, const char *tag, size_t len)
{
        uint32_t h;
        TagEntry *e;

        if (len >= TAG_MAX) {
                tag_entry_clear(&rs->uncached);
                tag_entry_build(rs, &rs->uncached, tag, len);
                return &rs->uncached;
        }
        h = tag_hash(tag, len);
        for (uint32_t k = 0; k < TAG_CACHE_SIZE; k++) {
                e = &rs->cache[(h + k) % TAG_CACHE_SIZE];
                if (!e->used)
                        break;
                if (e->len == len && memcmp(e->tag, tag, len) == 0)
                        return e;
        }
        /* Miss.  A log has a handful of tags; if it has many, start over. */
        if (rs->cache_used >= TAG_CACHE_SIZE * 3 / 4) {
                for (size_t i = 0; i < TAG_CACHE_SIZE; i++)
                        tag_entry_clear(&rs->cache[i]);
                rs->cache_used = 0;
        }
        for (uint32_t k = 0;; k++) {
                e = &rs->cache[(h + k) % TAG_CACHE_SIZE];
                if (!e->used)
                        break;
        }
        e->used = true;
        e->len = (uint8_t)len;
        memcpy(e->tag, tag, len);
        tag_entry_build(rs, e, tag, len);
        rs->cache_used++;
        return e;
}

/* Is lit (m bytes, rarest byte at k) in hay (n bytes)?  Reads no byte past hay + n. */
static bool find_literal(const char *hay, size_t n, const char *lit, size_t m, size_t k)
{
        const char *p, *end;

        if (m == 0)
                return true; /* an empty literal is everywhere; lit[k] would be past its end */
        if (n < m)
                return false;
        p = hay + k;
        end = hay + (n - m) + k + 1; /* one past the last place lit[k] can be */
        while (p < end) {
                p = memchr(p, lit[k], (size_t)(end - p));
                if (!p)
                        return false;
                if (memcmp(p - k, lit, m) == 0)
                        return true;
                p++;
        }
        return false;
}

/* The daemon's own search, with the anchor it would choose: tests call exactly what runs. */
bool rules_find_literal(const char *hay, size_t n, const char *lit, size_t m)
{
        return find_literal(hay, n, lit, m, rarest_byte(lit, m));
}

/*
 * Is literal id in the message?  Kept for the line.  Literals that share
 * their (rare) anchor byte also share the answer "that byte is not in the
 * message at all": ": reject: " and ": milter-reject: " are both looked
 * for by their 'j', and most lines have none.
 */
static inline bool literal_present(RuleSet *rs, uint32_t id, const char *msg, size_t len)
{
        if (rs->memo_gen[id] != rs->gen) {
                unsigned char c = (unsigned char)rs->lits[id][rs->lit_anchor[id]];
                rs->memo_gen[id] = rs->gen;
                if (rs->byte_gen[c] != rs->gen) {
                        rs->byte_gen[c] = rs->gen;
                        rs->byte_in[c] = memchr(msg, c, len) != NULL;
                }
                rs->memo_val[id] = rs->byte_in[c] &&
                                   find_literal(msg, len, rs->lits[id], rs->lit_len[id], rs->lit_anchor[id]);
        }
        return rs->memo_val[id];
}

/*
 * (?C"echo") in a pattern.  smtpd writes the reply's address as the client
 * gave it, and again in to=<...> (from=<...>) in external form: the local
 * part in quotes, with '"' and '\' escaped, when it needs them.  A
 * back-reference cannot undo the escapes, so this callout compares: it
 * lets the match go on only where the group "echo", unquoted, is the
 * group "lp".  Returns 0 to go on, 1 to fail here (PCRE2 backtracks).
 */
static int echo_callout(pcre2_callout_block *cb, void *data)
{
        const Matcher *m = data;
        const char *subject = (const char *)cb->subject, *e, *l;
        const PCRE2_SIZE *ov = cb->offset_vector;
        size_t el, ll, j = 0;

        if (!cb->callout_string || strcmp((const char *)cb->callout_string, "echo") != 0)
                return 0;
        if (!m->lp_group || !m->echo_group || m->lp_group >= cb->capture_top ||
            m->echo_group >= cb->capture_top || ov[2 * m->lp_group] == PCRE2_UNSET ||
            ov[2 * m->echo_group] == PCRE2_UNSET)
                return 1;
        l = subject + ov[2 * m->lp_group];
        ll = ov[2 * m->lp_group + 1] - ov[2 * m->lp_group];
        e = subject + ov[2 * m->echo_group];
        el = ov[2 * m->echo_group + 1] - ov[2 * m->echo_group];
        if (el < 2 || e[0] != '"' || e[el - 1] != '"')
                return el == ll && memcmp(e, l, el) == 0 ? 0 : 1;
        for (size_t i = 1; i < el - 1; i++) {
                if (e[i] == '\\' && i + 1 < el - 1)
                        i++;
                if (j >= ll || e[i] != l[j++])
                        return 1;
        }
        return j == ll ? 0 : 1;
}

static inline int run_match(RuleSet *rs, pcre2_code *code, bool jit, const char *msg, size_t len)
{
        if (jit)
                return pcre2_jit_match(code, (PCRE2_SPTR)msg, len, 0, 0, rs->md, rs->mctx);
        return pcre2_match(code, (PCRE2_SPTR)msg, len, 0, 0, rs->md, rs->mctx);
}

static bool is_own_reject(RuleSet *rs, const char *msg, size_t len)
{
        if (!rs->own_reject || !find_literal(msg, len, rs->reject_text, rs->reject_len, rs->reject_anchor))
                return false;
        return run_match(rs, rs->own_reject, rs->own_reject_jit, msg, len) >= 0;
}

int ruleset_match(RuleSet *rs, const char *line, size_t len, RuleMatch *m)
{
        LogLine ll;

        if (logline_parse(line, len, &ll) < 0)
                return -EINVAL;
        return ruleset_match_record(rs, &(LogRecord){.time_ms = ll.time_ms, .tag = ll.tag, .tag_len = ll.tag_len,
                                                      .msg = ll.msg, .msg_len = ll.msg_len, .pid = ll.pid},
                                    m);
}

int ruleset_match_record(RuleSet *rs, const LogRecord *rec, RuleMatch *m)
{
        const LogRecord ll = *rec;
        const TagEntry *te;
        const Step *steps;
        uint32_t plan, n;

        te = tag_lookup(rs, ll.tag, ll.tag_len);
        if (te->n_candidates == 0)
                return 0;
        if (++rs->gen == 0) {
                memset(rs->memo_gen, 0, rs->n_lits * sizeof(uint32_t));
                memset(rs->byte_gen, 0, sizeof(rs->byte_gen));
                rs->gen = 1;
        }
        plan = ll.msg_len ? te->plan_of[(unsigned char)ll.msg[0]] : 0;
        steps = te->steps + te->plan_start[plan];
        n = te->plan_start[plan + 1] - te->plan_start[plan];
        for (uint32_t k = 0; k < n;) {
                const Step *st = &steps[k];
                Matcher *mt = &rs->matchers[st->matcher];
                PCRE2_SIZE *ov;
                bool skip = false;
                int rc;

                /* the first literal, shared by the run of steps up to st->next */
                if (mt->n_lits && !literal_present(rs, mt->lits[0], ll.msg, ll.msg_len)) {
                        k = st->next - te->plan_start[plan];
                        continue;
                }
                k++;
                if (mt->prefix_len && (ll.msg_len < mt->prefix_len ||
                                       memcmp(ll.msg + 1, mt->prefix + 1, mt->prefix_len - 1) != 0))
                        continue;
                for (uint32_t l = 1; l < mt->n_lits && !skip; l++)
                        skip = !literal_present(rs, mt->lits[l], ll.msg, ll.msg_len);
                if (skip)
                        continue;
                pcre2_set_callout(rs->mctx, echo_callout, mt);
                rc = run_match(rs, mt->code, mt->jit, ll.msg, ll.msg_len);
                if (rc < 0)
                        continue; /* no match, or the match limit: not a hit */
                ov = pcre2_get_ovector_pointer(rs->md);
                if ((uint32_t)rc <= mt->addr_group || ov[2 * mt->addr_group] == PCRE2_UNSET)
                        continue;
                if (addr_parse(ll.msg + ov[2 * mt->addr_group],
                               ov[2 * mt->addr_group + 1] - ov[2 * mt->addr_group], &m->addr) < 0)
                        continue;
                m->rule = mt->rule;
                m->own_reject = is_own_reject(rs, ll.msg, ll.msg_len);
                if (m->own_reject)
                        mt->rule->own_rejects++;
                else
                        mt->rule->matches++;
                return 1;
        }
        return 0;
}
