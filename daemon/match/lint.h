/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * lint: the properties of a pattern that keep attacker text from
 * choosing the address it bans.
 */

/*
 * Check a pattern (as written, with <ADDR>): anchored at the start of the
 * message, exactly one <ADDR>, a literal right before it (a fixed field),
 * before it no unbounded run that can cross a '[' and no run of free text
 * (a negated class, '.', \S, ...) longer than a few bytes, and in
 * "name\[<ADDR>" a name that cannot hold a space.  Returns 0, or -1 with a
 * reason in *why (to free).
 */
int lint_pattern(const char *pattern, char **why);
