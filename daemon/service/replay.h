/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Replay: what would the daemon have banned?  The full policy (rule
 * thresholds, repeat offenders, IPv6 networks, the never-ban list,
 * logged-in sessions) over a log, on the log's own clock: each record's
 * time drives the tracker, the bans and their expiry.  One line per ban,
 *
 *   BAN<TAB>TIME<TAB>ADDRESS<TAB>RULE<TAB>HITS
 *
 * (TIME in UTC, RFC 3339; ADDRESS a host or "net/plen"), and at the end
 * a summary: bans per rule and the addresses that came close (a rule's
 * threshold less one, never banned).  Nothing is written anywhere else.
 */

#include <stdio.h>

#include "service/conf.h"
#include "core/exempt.h"
#include "backend/mapfile.h"
#include "match/rules.h"
#include "core/record.h"

typedef struct Replay Replay;

/* exempt and admin (may be NULL) stay the caller's and must outlive the replay. */
Replay *replay_new(const Config *cfg, RuleSet *rs, Names *names, const Exempt *exempt, const AdminKeys *admin,
                   FILE *out);
Replay *replay_free(Replay *r);
/* One record, in log order.  A record without a time is taken at the last known one. */
void replay_record(Replay *r, const LogRecord *rec);
/* The summary (after the last record). */
void replay_summary(Replay *r, FILE *out);
