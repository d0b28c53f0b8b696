/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The set of bans.  A ban is a host (plen 32 or 128) or a network, with the
 * rule that caused it, its times and its expiry.  After a ban expires its
 * record may be kept for a while (inactive), so that a repeat offender can
 * be recognised and banned for longer.  Pure: the clock is a parameter.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

typedef struct Ban {
        Addr addr;     /* host address, or network address with host bits zero */
        uint8_t plen;  /* in the family's terms: 32 / 128 for a host */
        bool active;   /* false: expired, remembered for escalation only */
        bool manual;   /* set by an admin (autoblacklistctl ban) */
        uint16_t rule; /* interned rule name */
        uint32_t count; /* bans of this address within the memory period */
        uint32_t hits;  /* hits that led to the latest ban */
        int64_t first_hit_ms, last_hit_ms;
        int64_t banned_ms;
        int64_t expires_ms; /* 0: never */
        uint32_t heap;      /* place in the expiry heap */
} Ban;

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
/* Make ban active until expires_ms (0: never), and (re)schedule it. */
void banset_activate(Banset *b, Ban *ban, int64_t expires_ms);
/* Keep the record but lift the ban (for repeat-offender memory). */
void banset_deactivate(Banset *b, Ban *ban);
/* Remove the record completely. */
void banset_remove(Banset *b, Ban *ban);

/* The earliest expiry of an active ban, or 0 if none expires. */
int64_t banset_next_expiry(const Banset *b);
/* The active ban that expires first if it is due at now_ms, else NULL. */
Ban *banset_pop_expired(Banset *b, int64_t now_ms);

size_t banset_active(const Banset *b);
size_t banset_records(const Banset *b);
size_t banset_memory(const Banset *b);

/*
 * All records (active_only: just the active bans), sorted by address then
 * prefix length.  The array is the caller's to free; the Ban pointers stay
 * valid until the set changes.
 */
size_t banset_list(Banset *b, bool active_only, Ban ***out);
/* Forget inactive records whose last ban ended before cutoff_ms. */
size_t banset_forget_before(Banset *b, int64_t cutoff_ms);
