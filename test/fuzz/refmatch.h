/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * A reference matcher for the rule harnesses: the rule file read again
 * in the simplest way (only files that ruleset_load() accepted, so no
 * error handling), every pattern compiled with PCRE2 as written (no
 * prefilter, no JIT, no tag cache), and tried in file order.  The daemon's
 * ruleset_match_record() must pick the same rule and address for every record:
 * its literal prefilter, first-byte plans and tag cache are optimisations
 * that must never change a result.
 */

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <fnmatch.h>
#include <pcre2.h>
#include <string.h>

#include "source/logline.h"
#include "util/addr.h"
#include "match/rules.h"
#include "util/util.h"

#define REF_MATCH_LIMIT 200000 /* as match/rules.c */

typedef struct RefPattern {
        char *rule;
        char *program;
        char *text; /* as written, with <ADDR> */
        pcre2_code *code;
        pcre2_match_data *md;
        uint32_t addr_group;
        int lp_group, echo_group; /* the (?C"echo") check's groups, or < 0 */
} RefPattern;

typedef struct RefSet {
        RefPattern *v;
        size_t n, cap;
        pcre2_match_context *mctx;
} RefSet;

static inline void ref_cut_comment(char *s)
{
        for (char *p = s; *p; p++)
                if (*p == '#' && p > s && isspace((unsigned char)p[-1])) {
                        *p = '\0';
                        return;
                }
}

static inline void ref_compile(RefPattern *p)
{
        const char *a = strstr(p->text, "<ADDR>");
        _cleanup_free_ char *re = NULL;
        PCRE2_SIZE off;
        int err;

        if (!a)
                abort(); /* ruleset_load() accepted it */
        re = xasprintf("%.*s%s%s", (int)(a - p->text), p->text, rules_addr_regex, a + strlen("<ADDR>"));
        p->code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF, &err, &off, NULL);
        if (!p->code)
                abort(); /* ruleset_load() compiled it */
        p->md = pcre2_match_data_create_from_pattern(p->code, NULL);
        p->addr_group = (uint32_t)pcre2_substring_number_from_name(p->code, (PCRE2_SPTR) "addr");
        p->lp_group = pcre2_substring_number_from_name(p->code, (PCRE2_SPTR) "lp");
        p->echo_group = pcre2_substring_number_from_name(p->code, (PCRE2_SPTR) "echo");
}

/*
 * The reference's own (?C"echo") check, written apart from rules.c's:
 * the group "echo" is the group "lp" in Postfix's external form, i.e.
 * either the same bytes, or in double quotes with '"' and '\' escaped by
 * a backslash.  0: go on; 1: fail here.
 */
static inline int ref_echo(pcre2_callout_block *cb, void *data)
{
        const RefPattern *p = data;
        const PCRE2_SIZE *ov = cb->offset_vector;
        _cleanup_free_ char *un = NULL;
        size_t n = 0, ll, el;
        const char *l, *e;

        if (!cb->callout_string || strcmp((const char *)cb->callout_string, "echo") != 0)
                return 0;
        if (p->lp_group < 0 || p->echo_group < 0 || (uint32_t)p->lp_group >= cb->capture_top ||
            (uint32_t)p->echo_group >= cb->capture_top || ov[2 * p->lp_group] == PCRE2_UNSET ||
            ov[2 * p->echo_group] == PCRE2_UNSET)
                return 1;
        l = (const char *)cb->subject + ov[2 * p->lp_group];
        ll = ov[2 * p->lp_group + 1] - ov[2 * p->lp_group];
        e = (const char *)cb->subject + ov[2 * p->echo_group];
        el = ov[2 * p->echo_group + 1] - ov[2 * p->echo_group];
        if (el == ll && memcmp(e, l, el) == 0)
                return 0;
        if (el < 2 || e[0] != '"' || e[el - 1] != '"')
                return 1;
        un = xmalloc(el);
        for (size_t i = 1; i + 1 < el; i++) {
                if (e[i] == '\\' && i + 2 < el)
                        i++;
                un[n++] = e[i];
        }
        return n == ll && memcmp(un, l, n) == 0 ? 0 : 1;
}

/* Add the enabled patterns of one rule file's text, in order. */
static inline void ref_add_text(RefSet *rs, const char *text)
{
        _cleanup_free_ char *copy = xstrdup(text);
        char *save = copy, *line, *name = NULL, *program = NULL;
        size_t first = rs->n; /* of the current block */
        bool enabled = true;

        for (;;) {
                line = strsep(&save, "\n");
                if (!line || (line = strip(line))[0] == '[') {
                        /* the end of a block: its program and enabled apply to all its patterns */
                        for (size_t i = first; i < rs->n; i++) {
                                rs->v[i].program = xstrdup(program ? program : "");
                                if (enabled)
                                        ref_compile(&rs->v[i]);
                        }
                        free(program);
                        program = NULL;
                        enabled = true;
                        first = rs->n;
                        if (!line) {
                                free(name);
                                break;
                        }
                        *strchr(line, ']') = '\0';
                        free(name);
                        name = xstrdup(line + 1);
                        continue;
                }
                char *eq = strchr(line, '='), *key, *value;
                if (!*line || *line == '#' || *line == ';' || !eq)
                        continue;
                *eq = '\0';
                key = strip(line);
                value = eq + 1;
                ref_cut_comment(value);
                value = strip(value);
                if (streq(key, "program"))
                        program = xstrdup(value);
                else if (streq(key, "enabled"))
                        (void)parse_bool(value, &enabled);
                else if (streq(key, "pattern")) {
                        /* compiled at the end of the block, if it is enabled (else it may not compile) */
                        GROW(rs->v, rs->cap, rs->n + 1);
                        rs->v[rs->n] = (RefPattern){0};
                        rs->v[rs->n].rule = xstrdup(name ? name : "");
                        rs->v[rs->n++].text = xstrdup(value);
                }
        }
}

static inline void ref_finish(RefSet *rs)
{
        rs->mctx = pcre2_match_context_create(NULL);
        pcre2_set_match_limit(rs->mctx, REF_MATCH_LIMIT);
}

static inline void ref_free(RefSet *rs)
{
        for (size_t i = 0; i < rs->n; i++) {
                pcre2_code_free(rs->v[i].code);
                pcre2_match_data_free(rs->v[i].md);
                free(rs->v[i].program);
                free(rs->v[i].text);
                free(rs->v[i].rule);
        }
        free(rs->v);
        pcre2_match_context_free(rs->mctx);
        *rs = (RefSet){0};
}

/*
 * For a record: 1 and the rule and address of the first pattern that matches; 0 if
 * none; -1 if the answer is unsure (a pattern hit the match limit, where
 * the JIT and the interpreter count differently).
 */
static inline int ref_match(RefSet *rs, const LogRecord *rec, const char **rule, Addr *addr)
{
        char tag[256];

        if (rec->tag_len >= sizeof(tag))
                return 0;
        memcpy(tag, rec->tag, rec->tag_len);
        tag[rec->tag_len] = '\0';
        for (size_t i = 0; i < rs->n; i++) {
                RefPattern *p = &rs->v[i];
                PCRE2_SIZE *ov;
                int rc;

                if (!p->code || fnmatch(p->program, tag, 0) != 0)
                        continue;
                pcre2_set_callout(rs->mctx, ref_echo, p);
                rc = pcre2_match(p->code, (PCRE2_SPTR)rec->msg, rec->msg_len, 0, 0, p->md, rs->mctx);
                if (rc == PCRE2_ERROR_NOMATCH)
                        continue;
                if (rc < 0)
                        return -1;
                ov = pcre2_get_ovector_pointer(p->md);
                if ((uint32_t)rc <= p->addr_group || ov[2 * p->addr_group] == PCRE2_UNSET)
                        continue;
                if (addr_parse(rec->msg + ov[2 * p->addr_group], ov[2 * p->addr_group + 1] - ov[2 * p->addr_group],
                               addr) < 0)
                        continue;
                *rule = p->rule;
                return 1;
        }
        return 0;
}

/*
 * The record the file source makes of a log line: what the daemon's
 * rules match.  False if the line has no syslog header (no record).
 */
static inline bool ref_line_record(const char *line, size_t len, LogRecord *rec)
{
        LogLine ll;

        if (logline_parse(line, len, &ll) < 0)
                return false;
        *rec = (LogRecord){.time_ms = ll.time_ms, .tag = ll.tag, .tag_len = ll.tag_len, .msg = ll.msg,
                           .msg_len = ll.msg_len, .pid = ll.pid};
        return true;
}
