/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Silent zero-match: the daemon must not be turned off without a word by a
 * changed log format.  Two episodes are watched, each said once when it
 * starts and once when it ends:
 *
 *   unparsed  in a block of HEALTH_BLOCK lines, more than half have no
 *             syslog header we can read (a new timestamp format, a
 *             template change); it ends at a block with at most a tenth.
 *   silent    smtpd and postscreen lines flow (at least
 *             HEALTH_SILENT_LINES of them) but no rule has matched for
 *             HEALTH_SILENT_MS of log time (the message texts changed,
 *             the rules went stale); it ends at the next match.  Only the
 *             programs that face clients: a server that only sends mail
 *             logs no smtpd lines and is not "silent".  A server whose
 *             smtpd serves only its LAN may see this without a fault; it
 *             is a warning, once an episode.
 *
 * Pure: the clock is the records' time, passed in.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEALTH_BLOCK 200
#define HEALTH_SILENT_LINES 2000
#define HEALTH_SILENT_MS (6 * 3600 * 1000LL)

typedef enum HealthChange {
        HEALTH_SAME,
        HEALTH_UNPARSED_START,
        HEALTH_UNPARSED_END,
        HEALTH_SILENT_START,
        HEALTH_SILENT_END,
} HealthChange;

typedef struct Health {
        unsigned block_lines, block_unparsed;
        bool unparsed;      /* in an unparsed episode */
        bool silent;        /* in a silent episode */
        uint64_t quiet_lines; /* Postfix lines since the last match */
        int64_t quiet_since;  /* log time of the first of them; 0: none */
        int64_t quiet_last;   /* ... and of the last */
        unsigned last_share;  /* percent unparsed in the block that started the episode */
} Health;

/* A line without a readable header. */
HealthChange health_unparsed(Health *h);
/* A record: postfix (its tag is a Postfix program's), matched (a rule matched it), at its log time. */
HealthChange health_record(Health *h, bool postfix, bool matched, int64_t at_ms);
/* The current problem, for STATUS and status, into buf; NULL if none. */
const char *health_problem(const Health *h, char *buf, size_t size);
