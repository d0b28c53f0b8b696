/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The tracker counts recent hits per address and rule, so that a rule's
 * threshold ("max_hits within find_time") can be checked.  It holds
 * addresses that are not banned yet.  Pure: the clock is a parameter.
 *
 * Memory is bounded twice: each (address, rule) keeps at most max_hits - 1
 * hit times, and the number of tracked addresses is capped; at the cap,
 * the address with the oldest last hit is evicted (and counted).
 */

#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

typedef struct Tracker Tracker;

Tracker *tracker_new(size_t max_tracked, const uint8_t hash_key[16]);
Tracker *tracker_free(Tracker *t);
/* Hits older than this are forgotten: the longest find_time of any rule. */
void tracker_set_window(Tracker *t, uint64_t window_ms);
void tracker_set_max(Tracker *t, size_t max_tracked);
/*
 * Count a hit of rule on a at now_ms.  Returns the number of hits of that
 * rule on that address within find_time, this one included, and in
 * *first_ms (if not NULL) the time of the first of them.  When the count
 * reaches max_hits the caller bans and calls tracker_forget().
 */
unsigned tracker_hit(Tracker *t, const Addr *a, uint16_t rule, uint64_t find_time_ms,
                     unsigned max_hits, int64_t now_ms, int64_t *first_ms);
/* Hits of rule on a within find_time at now_ms (no change). */
unsigned tracker_count_hits(Tracker *t, const Addr *a, uint16_t rule, uint64_t find_time_ms,
                            int64_t now_ms);
/* Forget everything about a; returns whether it was tracked. */
bool tracker_forget(Tracker *t, const Addr *a);
/* Drop addresses whose last hit is older than the window. */
void tracker_expire(Tracker *t, int64_t now_ms);
size_t tracker_count(const Tracker *t);
uint64_t tracker_evictions(const Tracker *t);
/* Bytes held by the tracker's own structures. */
size_t tracker_memory(const Tracker *t);
