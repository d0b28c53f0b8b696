/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Rules: which log lines count as a hit, against which address.
 *
 * A rule file holds INI blocks (see autoblacklist.rules(5)):
 *
 *   [sasl-auth-failed]
 *   program = postfix/smtpd
 *   pattern = ^warning: [-._A-Za-z0-9]+\[<ADDR>\](?::\d+)?: SASL [A-Z0-9_-]+ authentication failed
 *   max_hits = 3
 *   find_time = 10m
 *   ban_time = 1h
 *
 * A RuleSet is loaded whole or not at all: ruleset_load() either returns a
 * complete, compiled set or collects every problem as "file:line: ..." and
 * returns an error, so a reload with a broken file keeps the old set.
 */

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/names.h"
#include "core/record.h"
#include "util/util.h"

#define RULES_MAX_HITS 1000

typedef struct Rule {
        char *name;
        uint16_t id; /* interned in Names: stable across reloads */
        char *program;
        unsigned max_hits;
        uint64_t find_time_ms;
        uint64_t ban_time_ms; /* 0: permanent */
        char *file;
        unsigned line;
        uint64_t matches;     /* counted by ruleset_match() */
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
 * load with -EINVAL; so do lint findings (see rules_lint()), except in a
 * rule with "lint = off", whose findings go to warnings, with a warning
 * for the rule itself at every load.
 */
int ruleset_load(RuleSet **out, const char *path, const RuleDefaults *defs, Names *names,
                 Diags *errors, Diags *warnings);
RuleSet *ruleset_free(RuleSet *rs);

/*
 * Match one log line (the whole line, header included).  Returns 1 and
 * fills m when a rule matched, 0 when none did, -EINVAL when the line has
 * no syslog header.  The first matching rule wins.
 */
int ruleset_match(RuleSet *rs, const char *line, size_t len, RuleMatch *m);
/* The same for a record whose header a log source has already parsed. */
int ruleset_match_record(RuleSet *rs, const LogRecord *rec, RuleMatch *m);

size_t ruleset_count(const RuleSet *rs);
Rule *ruleset_rule(const RuleSet *rs, size_t i);
Rule *ruleset_find(const RuleSet *rs, const char *name);
/* The longest find_time of any rule: how long a hit must be remembered. */
uint64_t ruleset_max_find_time(const RuleSet *rs);
/* True if every pattern got a JIT; false if the interpreter is used. */
bool ruleset_jit(const RuleSet *rs);

/*
 * Check a pattern (as written, with <ADDR>) for the properties that keep
 * attacker text from choosing the address: anchored at the start of the
 * message, exactly one <ADDR>, a literal right before it (a fixed field),
 * before it no unbounded run that can cross a '[' and no run of free text
 * (a negated class, '.', \S, ...) longer than a few bytes, and in
 * "name\[<ADDR>" a name that cannot hold a space.  Returns 0, or -1 with a
 * reason in *why (to free).
 */
int rules_lint(const char *pattern, char **why);

/*
 * The literal text every match must start with (after '^'), and the
 * other literals every match must contain, as used by the prefilter.
 * Exposed for tests.  Returns false when the pattern's literals cannot be
 * trusted (inline options, alternation at the top level, ...).
 */
bool rules_pattern_literals(const char *pattern, char **prefix, char ***literals);

/* Is lit (m bytes) in hay (n bytes)?  The prefilter's search, for tests. */
bool rules_find_literal(const char *hay, size_t n, const char *lit, size_t m);

/* The regex that <ADDR> stands for (a named group "addr"). */
extern const char rules_addr_regex[];
