/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * prefilter: which of a rule set's patterns can possibly match a record,
 * decided without running a regex.  The rule set (rules.c) adds its
 * patterns in rule order, each with its program glob; for a record the
 * prefilter hands back, in that order, the patterns whose tag glob
 * matches and whose literal text (the prefix after '^', and the other
 * literals every match must contain) is in the message.  Only those go to
 * PCRE2.  It is an optimisation that must never change a result: a
 * pattern it drops must be one PCRE2 would not match (test-prefilter-diff
 * checks this against plain PCRE2 over the shipped rules and the corpora).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Prefilter Prefilter;

Prefilter *prefilter_new(void);
Prefilter *prefilter_free(Prefilter *pf);
/*
 * Add the next pattern (they are numbered from 0 in the order added) for
 * records whose tag matches the fnmatch() glob program; pattern as
 * written, with <ADDR>.  Then prefilter_finish() once all are added.
 */
void prefilter_add(Prefilter *pf, const char *program, const char *pattern);
void prefilter_finish(Prefilter *pf);

/* The state of one record's scan: set by prefilter_start(), read by nobody else. */
typedef struct PrefilterScan {
        const void *steps;
        uint32_t k, n;
        const char *msg;
        size_t len;
        size_t word; /* the length of the message's leading word; SIZE_MAX: not measured yet */
} PrefilterScan;

/*
 * Begin the candidates of a record (tag, message); the texts must outlive
 * the scan.  False when there are none at all (prefilter_next() would
 * return -1 at once): most records stop there.
 */
bool prefilter_start(Prefilter *pf, PrefilterScan *s, const char *tag, size_t tag_len, const char *msg,
                     size_t len);
/* The next candidate pattern, in the order added; -1 when there are no more. */
int prefilter_next(Prefilter *pf, PrefilterScan *s);

/*
 * The literal text every match of pattern must start with (after '^'),
 * and the other literals every match must contain (NULL-terminated), as
 * the prefilter uses them.  Returns false when the pattern's literals
 * cannot be trusted (inline options, alternation at the top level, ...).
 */
bool prefilter_literals(const char *pattern, char **prefix, char ***literals);

/* The offset of lit's rarest byte (in Postfix logs), which prefilter_find() looks for first. */
size_t prefilter_anchor(const char *lit, size_t m);
/* Is lit (m bytes, its anchor at offset k) in hay (n bytes)?  Reads no byte past hay + n. */
bool prefilter_find(const char *hay, size_t n, const char *lit, size_t m, size_t k);
