/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * htab: open addressing with linear probing and backward-shift deletion.
 *
 * The load factor is kept at or below 1/2 (grow) and the table shrinks
 * when it falls under 1/8, so memory follows the number of entries.
 * Each slot keeps 32 bits of its entry's hash: a lookup follows an entry
 * into the caller's storage (one or two cache misses at a million bans)
 * only when those bits agree, and a resize is a pass over the slots alone
 * (it was 1.3 s of a stalled loop at a million bans, asking each entry's
 * hash again).  Tables stay below 2^31 slots, so the low 32 bits hold the
 * home slot.  The
 * hash comes from the caller; for addresses it is a keyed SipHash, so a
 * client choosing addresses (an IPv6 /64 gives it 2^64) cannot aim them
 * at one probe sequence.
 */
#include "util/htab.h"

#include <inttypes.h>

#include "util/panic.h"
#include "util/util.h"

#define MIN_SLOTS 16

void htab_init(HTab *t, const HTabOps *ops, const void *ctx)
{
        *t = (HTab){.ops = ops, .ctx = ctx};
}

void htab_free(HTab *t)
{
        free(t->slots);
        t->slots = NULL;
        t->mask = 0;
        t->count = 0;
}

static void resize(HTab *t, size_t nslots)
{
        HTabSlot *old = t->slots;
        size_t old_n = old ? t->mask + 1 : 0;

        if (nslots > (size_t)1 << 31)
                panic("htab: %zu slots", nslots);
        t->slots = xcalloc(nslots, sizeof(*t->slots));
        t->mask = nslots - 1;
        for (size_t i = 0; i < old_n; i++) {
                size_t j;
                if (!old[i].entry)
                        continue;
                j = old[i].hash & t->mask;
                while (t->slots[j].entry)
                        j = (j + 1) & t->mask;
                t->slots[j] = old[i];
        }
        free(old);
}

uint32_t htab_find(const HTab *t, const void *key, uint64_t hash)
{
        size_t i;

        if (!t->slots)
                return HTAB_NONE;
        for (i = hash & t->mask; t->slots[i].entry; i = (i + 1) & t->mask)
                if (t->slots[i].hash == (uint32_t)hash && t->ops->equal(t->ctx, t->slots[i].entry - 1, key))
                        return t->slots[i].entry - 1;
        return HTAB_NONE;
}

void htab_insert(HTab *t, uint32_t entry, uint64_t hash)
{
        size_t i;

        if (!t->slots)
                resize(t, MIN_SLOTS);
        else if ((t->count + 1) * 2 > t->mask + 1)
                resize(t, (t->mask + 1) * 2);
        for (i = hash & t->mask; t->slots[i].entry; i = (i + 1) & t->mask)
                ;
        t->slots[i] = (HTabSlot){entry + 1, (uint32_t)hash};
        t->count++;
}

void htab_remove(HTab *t, uint32_t entry, uint64_t hash)
{
        size_t i, j;

        /* The caller removes what it inserted: an entry that is not here means
           its array and this index disagree, and carrying on would corrupt both. */
        if (!t->slots)
                panic("htab_remove: entry %" PRIu32 " of an empty table", entry);
        for (i = hash & t->mask; t->slots[i].entry != entry + 1; i = (i + 1) & t->mask)
                if (!t->slots[i].entry)
                        panic("htab_remove: entry %" PRIu32 " is not under its hash", entry);
        t->slots[i] = (HTabSlot){0};
        t->count--;
        /* Shift back the entries of the run after i that may move. */
        for (j = (i + 1) & t->mask; t->slots[j].entry; j = (j + 1) & t->mask) {
                size_t home = t->slots[j].hash & t->mask;
                /* Can the entry at j move to i?  Only if its home is not in (i, j]. */
                bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
                if (!between) {
                        t->slots[i] = t->slots[j];
                        t->slots[j] = (HTabSlot){0};
                        i = j;
                }
        }
        if (t->mask + 1 > MIN_SLOTS && t->count * 8 < t->mask + 1)
                resize(t, (t->mask + 1) / 2);
}

size_t htab_memory(const HTab *t)
{
        return t->slots ? (t->mask + 1) * sizeof(*t->slots) : 0;
}
