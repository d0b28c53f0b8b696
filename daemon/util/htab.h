/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * An index from a key to a uint32_t entry number, by open addressing with
 * linear probing.  The entries themselves live in the caller's storage;
 * a slot holds an entry's number and 32 bits of its hash (8 bytes), so a
 * probe compares keys (HTabOps.equal, a walk into the caller's storage)
 * only when the hash bits agree, and growing or removing never needs an
 * entry's hash again: the caller gives the hash with each call.  Removal shifts later entries back, so there are no
 * tombstones and lookups stay short however many removals happen.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTAB_NONE UINT32_MAX

typedef struct HTabOps {
        bool (*equal)(const void *ctx, uint32_t entry, const void *key);
} HTabOps;

typedef struct HTabSlot {
        uint32_t entry; /* entry + 1; 0 is empty */
        uint32_t hash;  /* the hash's low 32 bits: the home slot, and a filter */
} HTabSlot;

typedef struct HTab {
        HTabSlot *slots;
        size_t mask; /* slots - 1; slots is a power of two */
        size_t count;
        const HTabOps *ops;
        const void *ctx;
} HTab;

void htab_init(HTab *t, const HTabOps *ops, const void *ctx);
void htab_free(HTab *t);
uint32_t htab_find(const HTab *t, const void *key, uint64_t hash);
/* Add entry (whose key is not in the table yet). */
void htab_insert(HTab *t, uint32_t entry, uint64_t hash);
/* Remove entry, which must be in the table under hash (else it panics: a bug). */
void htab_remove(HTab *t, uint32_t entry, uint64_t hash);
/* Bytes used by the slot array. */
size_t htab_memory(const HTab *t);
