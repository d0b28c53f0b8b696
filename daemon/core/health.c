/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * health: notice when the log stops making sense to us (see health.h).
 * Counts only: a few integers, whatever the log holds.
 */
#include "core/health.h"

#include <stdio.h>

/* One more line of the current block; the block's verdict when it is full. */
static HealthChange block_line(Health *h, bool unparsed)
{
        unsigned pct;

        h->block_lines++;
        h->block_unparsed += unparsed;
        if (h->block_lines < HEALTH_BLOCK)
                return HEALTH_SAME;
        pct = h->block_unparsed * 100 / h->block_lines;
        h->block_lines = h->block_unparsed = 0;
        if (!h->unparsed && pct > 50) {
                h->unparsed = true;
                h->last_share = pct;
                return HEALTH_UNPARSED_START;
        }
        if (h->unparsed && pct <= 10) {
                h->unparsed = false;
                return HEALTH_UNPARSED_END;
        }
        return HEALTH_SAME;
}

HealthChange health_unparsed(Health *h) { return block_line(h, true); }

HealthChange health_record(Health *h, bool postfix, bool matched, int64_t at_ms)
{
        HealthChange c = block_line(h, false);

        if (matched) {
                h->quiet_lines = 0;
                h->quiet_since = h->quiet_last = 0;
                if (h->silent) {
                        h->silent = false;
                        return HEALTH_SILENT_END; /* a block's verdict can wait for the next line */
                }
                return c;
        }
        if (!postfix)
                return c;
        if (!h->quiet_since || at_ms < h->quiet_since)
                h->quiet_since = at_ms;
        if (at_ms > h->quiet_last)
                h->quiet_last = at_ms;
        h->quiet_lines++;
        if (c == HEALTH_SAME && !h->silent && h->quiet_lines >= HEALTH_SILENT_LINES &&
            at_ms - h->quiet_since >= HEALTH_SILENT_MS) {
                h->silent = true;
                return HEALTH_SILENT_START;
        }
        return c;
}

const char *health_problem(const Health *h, char *buf, size_t size)
{
        if (h->unparsed && h->silent)
                snprintf(buf, size, "most log lines have no syslog header we can read, and no rule has matched "
                                    "for %llu Postfix lines: check the log format",
                         (unsigned long long)h->quiet_lines);
        else if (h->unparsed)
                snprintf(buf, size, "most log lines (%u%% of the last %u) have no syslog header we can read: "
                                    "check the log format",
                         h->last_share, HEALTH_BLOCK);
        else if (h->silent)
                snprintf(buf, size, "no rule has matched for %llu smtpd and postscreen lines over %.1f h: check "
                                    "the log format and the rules",
                         (unsigned long long)h->quiet_lines, (double)(h->quiet_last - h->quiet_since) / 3600000.0);
        else
                return NULL;
        return buf;
}
