/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * pattern: just enough of PCRE2's syntax to walk a rule's pattern as
 * written (with <ADDR>): where a character class, a group or a
 * quantifier ends.  The lint (lint.c) and the prefilter's literal
 * extraction (prefilter.c) read patterns with it; PCRE2 itself has the
 * last word on what a pattern means, so a construct these helpers do not
 * know makes their callers give up (no literals) or assume the worst (a
 * lint finding), never guess.
 */

#include <stdbool.h>
#include <stddef.h>

/* What a rule writes for the address; rules.c expands it to rules_addr_regex. */
#define ADDR_TOKEN "<ADDR>"

/* Skip a character class starting at p[i] == '['; returns the index after ']'. */
size_t pattern_skip_class(const char *p, size_t i);
/* Skip a group starting at p[i] == '('; returns the index after its ')'. */
size_t pattern_skip_group(const char *p, size_t i);
/*
 * Parse a {n}, {n,} or {n,m} quantifier at p[i]; returns its length, or
 * 0 if p[i] does not start one (PCRE2 then reads '{' as a literal).
 */
size_t pattern_quantifier(const char *p, size_t i, unsigned long *min, unsigned long *max, bool *unbounded);
