/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * lint: does a pattern let a client choose the address?  (See lint.h.)
 *
 * Postfix and Dovecot write fields a client chose (a HELO name, a SASL
 * mechanism, a user name, a recipient) before the client's address.  A
 * pattern whose text before <ADDR> can run over such a field can be fed
 * "x[192.0.2.1]" by the client and ban a stranger.  The walk here is
 * conservative: an atom it cannot read is taken to match anything, so a
 * doubt is a finding, never a pass.  Security: this is the check that
 * makes a rule set safe to load; ruleset_load() refuses a finding unless
 * the admin wrote "lint = off" for the rule.
 */
#include "match/lint.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "match/pattern.h"
#include "util/util.h"

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
        size_t end = pattern_skip_class(p, i);
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
                        *i = pattern_skip_class(p, *i);
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
                                 (qlen = pattern_quantifier(p, *i, &min, &max, &unbounded)))
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

int lint_pattern(const char *pattern, char **why)
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
