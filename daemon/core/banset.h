/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The set of bans.  A ban is a host (plen 32 or 128) or a network, with the
 * rule that caused it, its times and its expiry.  After a ban expires its
 * record is kept, inactive, for the repeat-offender memory, so that a
 * client banned again soon is banned for longer.  Pure: the clock is a
 * parameter.
 *
 * One min-heap orders every record by its next due time: the expiry of an
 * active ban, or the time an inactive record is forgotten.  The daemon
 * needs one timer, armed for the top of the heap.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"

typedef struct Ban {
        Addr addr;      /* host address, or network address with host bits zero */
        uint8_t plen;   /* in the family's terms: 32 / 128 for a host */
        bool active;    /* false: ended, remembered for repeat offenders only */
        bool manual;    /* set by an admin (autoblacklistctl ban) */
        bool in_state;  /* active in the state file's last good save (the daemon keeps it) */
        bool remote;    /* imported from another host of the fleet (fleet.h) */
        uint16_t origin; /* remote: the interned name of that host */
        bool changed;   /* listed in the set's changes since banset_take_changes() */
        uint16_t rule;  /* interned rule name */
        uint32_t count; /* bans of this address within the memory period */
        uint32_t hits;  /* hits that led to the latest ban */
        int64_t first_hit_ms, last_hit_ms;
        int64_t banned_ms;
        int64_t expires_ms; /* 0: never */
        int64_t due_ms;     /* heap key: expiry if active, forget time if not; 0: none */
        uint32_t heap;      /* place in the heap */
} Ban;

static inline bool ban_is_host(const Ban *b) { return b->plen == addr_host_plen(&b->addr); }

typedef struct Banset Banset;

Banset *banset_new(const uint8_t hash_key[16]);
Banset *banset_free(Banset *b);

/* The record for exactly this host or network, active or not. */
Ban *banset_get(Banset *b, const Addr *a, uint8_t plen);
/* The active ban that covers a: its host ban or a network ban. */
Ban *banset_covering(Banset *b, const Addr *a);
/*
 * Get or create the record for (a, plen).  A new record is inactive with
 * count 0; the caller fills it in and calls banset_activate().
 */
Ban *banset_upsert(Banset *b, const Addr *a, uint8_t plen);
/* Make ban active until expires_ms (0: never). */
void banset_activate(Banset *b, Ban *ban, int64_t expires_ms);
/* Lift the ban but keep the record until forget_ms. */
void banset_deactivate(Banset *b, Ban *ban, int64_t forget_ms);
/* Remove the record completely. */
void banset_remove(Banset *b, Ban *ban);

/* The earliest due time (an expiry or a forget time), or 0 if none. */
int64_t banset_next_due(const Banset *b);
/*
 * The record at the top of the heap if it is due at now_ms, taken off the
 * heap; NULL if nothing is due.  If it is active, its ban expired (the
 * caller deactivates it); if not, it is to be forgotten (the caller
 * removes it).
 */
Ban *banset_pop_due(Banset *b, int64_t now_ms);

size_t banset_active(const Banset *b);
size_t banset_records(const Banset *b);
size_t banset_memory(const Banset *b);

/*
 * Count active IPv6 host bans per network of this prefix length (0: off),
 * for banning a whole network once several of its hosts are banned.
 */
void banset_set_net_prefix(Banset *b, unsigned plen);
/* Active IPv6 host bans in a's network of the configured prefix. */
uint32_t banset_net_hosts(Banset *b, const Addr *a);

/*
 * The changes since the last call, for the state file's change log: one
 * entry per record that was activated, deactivated or removed (ban is
 * NULL for a removed one), each once.  The ban pointers stay valid until
 * the set changes; the array is the caller's to free.
 */
typedef struct BanChange {
        Addr addr;
        uint8_t plen;
        Ban *ban;
} BanChange;
size_t banset_take_changes(Banset *b, BanChange **out);
/* Forget the changes (a full save holds them all). */
void banset_clear_changes(Banset *b);

/*
 * All records (active_only: just the active bans), sorted by address then
 * prefix length.  The array is the caller's to free; the Ban pointers stay
 * valid until the set changes.
 */
size_t banset_list(Banset *b, bool active_only, Ban ***out);

/*
 * The length of the count-th ban within the memory period (count 1 is the
 * first): base x factor^(count - 1), but never more than max_ms, unless
 * base itself is more.  base 0 (forever) stays 0.
 */
uint64_t banset_escalate(uint64_t base_ms, uint32_t count, double factor, uint64_t max_ms);
