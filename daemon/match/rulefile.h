/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * rulefile: read rule files (INI blocks, see autoblacklist.rules(5)) into
 * blocks as written, before anything is compiled:
 *
 *   [sasl-auth-failed]
 *   program = postfix/smtpd
 *   pattern = ^warning: [-._A-Za-z0-9]+\[<ADDR>\](?::\d+)?: SASL [A-Z0-9_-]+ authentication failed
 *   max_hits = 3
 *   find_time = 10m
 *   ban_time = 1h
 *
 * Every problem is collected as "file:line: ...", not only the first, so
 * an admin fixes a file in one go.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define RULES_MAX_HITS 1000

typedef struct RuleBlock {
        char *name;
        char *program;
        char **patterns;
        unsigned *pattern_lines;
        size_t n_patterns, cap_patterns;
        long max_hits; /* -1: the default */
        int64_t find_time_ms, ban_time_ms; /* -1: the default */
        bool enabled;
        bool lint; /* false: "lint = off", the admin vouches for the patterns */
        unsigned lint_line;
        char *file;
        unsigned line;
} RuleBlock;

typedef struct RuleBlocks {
        RuleBlock *v;
        size_t n, cap;
} RuleBlocks;

/*
 * Read path, a rule file or a folder of *.rules files (in name order),
 * into out, disabled blocks included (their patterns are not checked).
 * Problems go to errors: syntax, bad values, a block without program or
 * pattern, a name defined twice.  Returns 0, or -EINVAL if it added an
 * error (out holds what could be read either way; free it).
 */
int rulefile_load(const char *path, RuleBlocks *out, Diags *errors);
void rulefile_free(RuleBlocks *b);
