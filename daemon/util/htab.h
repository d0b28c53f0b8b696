/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * An index from a key to a uint32_t entry number, by open addressing with
 * linear probing.  The entries themselves live in the caller's storage;
 * the table holds only their numbers (4 bytes a slot), and asks the
 * caller for an entry's hash and key comparison through HTabOps.  Removal
 * shifts later entries back, so there are no tombstones and lookups stay
 * short however many removals happen.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTAB_NONE UINT32_MAX

typedef struct HTabOps {
        uint64_t (*hash)(const void *ctx, uint32_t entry);
        bool (*equal)(const void *ctx, uint32_t entry, const void *key);
} HTabOps;

typedef struct HTab {
        uint32_t *slots; /* entry + 1; 0 is empty */
        size_t mask;     /* slots - 1; slots is a power of two */
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
