/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * rules: the rule set: compile the blocks of the rule files
 * (rulefile.c) into PCRE2 patterns, and match a record against them.
 *
 * A record is {time, tag, message} from a log source; the rule set never
 * sees a syslog header.  For each record the prefilter (prefilter.c)
 * names the patterns that can match by tag and literal text, in rule
 * order; only those run in PCRE2 (JIT-compiled, one match-data block for
 * the whole set), and the first that matches with a valid address wins.
 *
 * Security: patterns are trusted (they are the admin's, and pass the lint
 * of lint.c unless the admin says otherwise), records are not.  Patterns
 * are compiled with PCRE2_NEVER_UTF, so invalid UTF-8 or binary bytes in
 * a message are just bytes, and with a match limit, so a message cannot
 * make a pattern backtrack for long.  The address comes only from the
 * "addr" group and must pass inet_pton().  A message that logs a
 * rejection by our own map is never a hit, or a ban would renew itself.
 */
#include "match/rules.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>

#include "match/lint.h"
#include "match/pattern.h"
#include "match/prefilter.h"

/* Strict enough to stop at the field's end; inet_pton() has the last word. */
#define IPV4_RE                                                                                    \
        "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"                                          \
        "(?:\\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
const char rules_addr_regex[] = "(?<addr>" IPV4_RE "|(?=[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
                                "(?:(?<=:)" IPV4_RE ")?)";


#define MATCH_LIMIT 200000

typedef struct Matcher {
        Rule *rule;
        pcre2_code *code;
        bool jit;
        uint32_t addr_group;           /* capture group number of <ADDR> */
        uint32_t lp_group, echo_group; /* of "lp" and "echo", for (?C"echo"); 0: none */
} Matcher;

struct RuleSet {
        Rule *rules;
        size_t n_rules;
        Matcher *matchers; /* numbered as in the prefilter */
        size_t n_matchers;
        Prefilter *pf;
        pcre2_match_data *md;
        pcre2_match_context *mctx;
        pcre2_code *own_reject; /* our map's rejection, as logged by smtpd */
        bool own_reject_jit;
        char *reject_text;
        size_t reject_len, reject_anchor;
        uint64_t max_find_time_ms;
        bool all_jit;
};

/* --- compile ------------------------------------------------------------ */

/* Compile one pattern of rule into m; problems go to errors. */
static int compile_pattern(RuleSet *rs, Matcher *m, Rule *rule, const char *pattern, bool lint,
                           const char *file, unsigned line, Diags *errors, Diags *warnings)
{
        const char *a = strstr(pattern, ADDR_TOKEN);
        _cleanup_free_ char *expanded = NULL, *why = NULL;
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
        if (lint_pattern(pattern, &why) < 0) {
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

        prefilter_add(rs->pf, rule->program, pattern);
        return 0;
}

/* The pattern of a line that logs a rejection of ours: the backend's (RuleDefaults.own_reject). */
static pcre2_code *compile_own_reject(const char *pattern)
{
        PCRE2_SIZE erroff;
        int errcode;

        return pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF, &errcode, &erroff, NULL);
}
int ruleset_load(RuleSet **out, const char *path, const RuleDefaults *defs, Names *names,
                 Diags *errors, Diags *warnings)
{
        RuleBlocks raw = {0};
        size_t n_errors = errors->n, n_patterns = 0;
        RuleSet *rs = NULL;
        uint32_t max_groups = 0;
        int r = 0;

        if (rulefile_load(path, &raw, errors) < 0)
                goto fail;
        for (size_t i = 0; i < raw.n; i++)
                if (raw.v[i].enabled)
                        n_patterns += raw.v[i].n_patterns;

        rs = xcalloc(1, sizeof(RuleSet));
        rs->all_jit = true;
        rs->rules = xcalloc(raw.n ? raw.n : 1, sizeof(Rule));
        rs->matchers = xcalloc(n_patterns ? n_patterns : 1, sizeof(Matcher));
        rs->pf = prefilter_new();
        for (size_t i = 0; i < raw.n; i++) {
                RuleBlock *rr = &raw.v[i];
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

        prefilter_finish(rs->pf);
        rs->md = pcre2_match_data_create(max_groups + 1, NULL);
        rs->mctx = pcre2_match_context_create(NULL);
        if (!rs->md || !rs->mctx)
                oom();
        pcre2_set_match_limit(rs->mctx, MATCH_LIMIT);
        if (defs->reject_text && !defs->reject_text[0]) {
                /* our own rejections are recognised by it: empty, every reject would look like ours */
                diags_add(errors, NULL, 0, "reject_text is empty");
                goto fail;
        }
        rs->reject_text = xstrdup(defs->reject_text ? defs->reject_text : "postfix-autoblacklist");
        rs->reject_len = strlen(rs->reject_text);
        rs->reject_anchor = prefilter_anchor(rs->reject_text, rs->reject_len);
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
        rulefile_free(&raw);
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
        }
        free(rs->matchers);
        prefilter_free(rs->pf);
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

/*
 * (?C"echo") in a pattern.  smtpd writes the reply's address as the client
 * gave it, and again in to=<...> (from=<...>) in external form: the local
 * part in quotes, with '"' and '\' escaped, when it needs them.  A
 * back-reference cannot undo the escapes, so this callout compares: it
 * lets the match go on only where the group "echo", unquoted, is the
 * group "lp", or is the same bytes (the client quoted it the same way).
 * Returns 0 to go on, 1 to fail here (PCRE2 backtracks).
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
        /* the same bytes: a local part that the client quoted itself, and smtpd too */
        if (el == ll && memcmp(e, l, el) == 0)
                return 0;
        if (el < 2 || e[0] != '"' || e[el - 1] != '"')
                return 1;
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
        if (!rs->own_reject || !prefilter_find(msg, len, rs->reject_text, rs->reject_len, rs->reject_anchor))
                return false;
        return run_match(rs, rs->own_reject, rs->own_reject_jit, msg, len) >= 0;
}
int ruleset_match_record(RuleSet *rs, const LogRecord *rec, RuleMatch *m)
{
        PrefilterScan scan;
        int i;

        if (!prefilter_start(rs->pf, &scan, rec->tag, rec->tag_len, rec->msg, rec->msg_len))
                return 0;
        while ((i = prefilter_next(rs->pf, &scan)) >= 0) {
                Matcher *mt = &rs->matchers[i];
                PCRE2_SIZE *ov;
                int rc;

                pcre2_set_callout(rs->mctx, echo_callout, mt);
                rc = run_match(rs, mt->code, mt->jit, rec->msg, rec->msg_len);
                if (rc < 0)
                        continue; /* no match, or the match limit: not a hit */
                ov = pcre2_get_ovector_pointer(rs->md);
                if ((uint32_t)rc <= mt->addr_group || ov[2 * mt->addr_group] == PCRE2_UNSET)
                        continue;
                if (addr_parse(rec->msg + ov[2 * mt->addr_group], ov[2 * mt->addr_group + 1] - ov[2 * mt->addr_group],
                               &m->addr) < 0)
                        continue;
                m->rule = mt->rule;
                m->own_reject = is_own_reject(rs, rec->msg, rec->msg_len);
                if (m->own_reject)
                        mt->rule->own_rejects++;
                else
                        mt->rule->matches++;
                return 1;
        }
        return 0;
}
