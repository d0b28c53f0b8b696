/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * rules: the rule set, which records count as a hit, against which
 * address.  This is what the rest of the daemon sees of the match layer:
 *
 *   rulefile.c   the rule files' INI blocks, as written
 *   lint.c       may a pattern let a client choose the address?
 *   prefilter.c  which patterns can match a record, without a regex
 *   pattern.c    walking a pattern's syntax (for the two above)
 *   rules.c      compiling the blocks, and matching a record
 *
 * A RuleSet is loaded whole or not at all: ruleset_load() either returns a
 * complete, compiled set or collects every problem as "file:line: ..." and
 * returns an error, so a reload with a broken file keeps the old set.
 * Rules match a record {time, tag, message} (core/record.h): whatever the
 * log source, a syslog file or the journal, parsed its own format.
 */

#include <stdbool.h>
#include <stdint.h>

#include "core/record.h"
#include "match/rulefile.h"
#include "util/addr.h"
#include "util/names.h"
#include "util/util.h"

typedef struct Rule {
        char *name;
        uint16_t id; /* interned in Names: stable across reloads */
        char *program;
        unsigned max_hits;
        uint64_t find_time_ms;
        uint64_t ban_time_ms; /* 0: permanent */
        char *file;
        unsigned line;
        uint64_t matches;     /* counted by ruleset_match_record() */
        uint64_t own_rejects; /* lines of our own rejections, not counted */
} Rule;

typedef struct RuleDefaults {
        unsigned max_hits;
        uint64_t find_time_ms;
        uint64_t ban_time_ms;
        const char *reject_text; /* our map's reject text, never a hit */
        /*
         * The regex of the MTA's log line of a rejection of ours, which
         * holds reject_text (the backend's: backends_own_reject()); NULL:
         * none is recognised.
         */
        const char *own_reject;
} RuleDefaults;

typedef struct RuleMatch {
        Rule *rule;
        Addr addr;
        bool own_reject; /* the line logs a rejection by our own map */
} RuleMatch;

typedef struct RuleSet RuleSet;

/*
 * Load path, a rule file or a folder of *.rules files (read in name
 * order).  Problems that make the set unusable go to errors and fail the
 * load with -EINVAL; so do lint findings (see lint_pattern()), except in a
 * rule with "lint = off", whose findings go to warnings, with a warning
 * for the rule itself at every load.
 */
int ruleset_load(RuleSet **out, const char *path, const RuleDefaults *defs, Names *names,
                 Diags *errors, Diags *warnings);
RuleSet *ruleset_free(RuleSet *rs);

/*
 * Match one record.  Returns 1 and fills m when a rule matched, 0 when
 * none did.  The first matching rule wins.
 */
int ruleset_match_record(RuleSet *rs, const LogRecord *rec, RuleMatch *m);

size_t ruleset_count(const RuleSet *rs);
Rule *ruleset_rule(const RuleSet *rs, size_t i);
Rule *ruleset_find(const RuleSet *rs, const char *name);
/* The longest find_time of any rule: how long a hit must be remembered. */
uint64_t ruleset_max_find_time(const RuleSet *rs);
/* True if every pattern got a JIT; false if the interpreter is used. */
bool ruleset_jit(const RuleSet *rs);

/* The regex that <ADDR> stands for (a named group "addr"). */
extern const char rules_addr_regex[];
