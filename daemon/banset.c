/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * banset: ban records, an index by (address, prefix length), and a binary
 * min-heap of the active bans that expire, so that the daemon needs only
 * one timer, armed for the earliest expiry.
 *
 * Network bans are few (one per banned IPv6 network); banset_covering()
 * tries the host first, then each prefix length that has network bans.
 */
#include "banset.h"

#include "htab.h"
#include "util.h"

#define NONE UINT32_MAX

typedef struct Key {
        Addr addr;
        uint8_t plen;
} Key;

struct Banset {
        Ban **v; /* by entry number; NULL for a free slot */
        size_t n, cap;
        uint32_t *free_slots;
        size_t n_free, cap_free;
        HTab index;
        uint8_t key[16];
        uint32_t *heap; /* entry numbers, ordered by expires_ms */
        size_t heap_n, heap_cap;
        size_t active;
        size_t records;
        size_t nets_by_plen[129]; /* network records per prefix length */
};

static uint64_t key_hash(const Banset *b, const Addr *a, uint8_t plen)
{
        return addr_hash(a, b->key) ^ ((uint64_t)plen * 0x9e3779b97f4a7c15ULL);
}

static uint64_t ban_hash(const void *ctx, uint32_t i)
{
        const Banset *b = ctx;
        return key_hash(b, &b->v[i]->addr, b->v[i]->plen);
}

static bool ban_equal(const void *ctx, uint32_t i, const void *key)
{
        const Banset *b = ctx;
        const Key *k = key;
        return b->v[i]->plen == k->plen && addr_equal(&b->v[i]->addr, &k->addr);
}

static const HTabOps ops = {ban_hash, ban_equal};

static inline uint8_t host_plen(const Addr *a) { return addr_is_v4(a) ? 32 : 128; }

Banset *banset_new(const uint8_t hash_key[16])
{
        Banset *b = xcalloc(1, sizeof(Banset));

        memcpy(b->key, hash_key, 16);
        htab_init(&b->index, &ops, b);
        return b;
}

Banset *banset_free(Banset *b)
{
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n; i++)
                free(b->v[i]);
        free(b->v);
        free(b->free_slots);
        free(b->heap);
        htab_free(&b->index);
        free(b);
        return NULL;
}

/* Entry number of a ban: its index in v, found through the index. */
static uint32_t entry_of(Banset *b, const Ban *ban)
{
        Key k = {ban->addr, ban->plen};
        return htab_find(&b->index, &k, key_hash(b, &ban->addr, ban->plen));
}

Ban *banset_get(Banset *b, const Addr *a, uint8_t plen)
{
        Key k = {*a, plen};
        uint32_t i;

        addr_mask(&k.addr, plen);
        i = htab_find(&b->index, &k, key_hash(b, &k.addr, plen));
        return i == NONE ? NULL : b->v[i];
}

Ban *banset_covering(Banset *b, const Addr *a)
{
        uint8_t hp = host_plen(a);
        Ban *ban = banset_get(b, a, hp);

        if (ban && ban->active)
                return ban;
        for (int plen = hp - 1; plen >= 0; plen--) {
                /* prefix lengths are per family: an IPv4 /24 is 24 */
                if (!b->nets_by_plen[plen])
                        continue;
                ban = banset_get(b, a, (uint8_t)plen);
                if (ban && ban->active && addr_is_v4(&ban->addr) == addr_is_v4(a))
                        return ban;
        }
        return NULL;
}

Ban *banset_upsert(Banset *b, const Addr *a, uint8_t plen)
{
        Ban *ban = banset_get(b, a, plen);
        uint32_t i;

        if (ban)
                return ban;
        ban = xcalloc(1, sizeof(Ban));
        ban->addr = *a;
        addr_mask(&ban->addr, plen);
        ban->plen = plen;
        ban->heap = NONE;
        if (b->n_free)
                i = b->free_slots[--b->n_free];
        else {
                GROW(b->v, b->cap, b->n + 1);
                i = (uint32_t)b->n++;
        }
        b->v[i] = ban;
        htab_insert(&b->index, i, key_hash(b, &ban->addr, plen));
        b->records++;
        if (plen < host_plen(&ban->addr))
                b->nets_by_plen[plen]++;
        return ban;
}

/* --- heap --------------------------------------------------------------- */

static inline int64_t heap_key(const Banset *b, size_t pos) { return b->v[b->heap[pos]]->expires_ms; }

static void heap_set(Banset *b, size_t pos, uint32_t entry)
{
        b->heap[pos] = entry;
        b->v[entry]->heap = (uint32_t)pos;
}

static void heap_up(Banset *b, size_t pos)
{
        uint32_t e = b->heap[pos];
        int64_t k = b->v[e]->expires_ms;

        while (pos > 0) {
                size_t parent = (pos - 1) / 2;
                if (heap_key(b, parent) <= k)
                        break;
                heap_set(b, pos, b->heap[parent]);
                pos = parent;
        }
        heap_set(b, pos, e);
}

static void heap_down(Banset *b, size_t pos)
{
        uint32_t e = b->heap[pos];
        int64_t k = b->v[e]->expires_ms;

        for (;;) {
                size_t c = 2 * pos + 1;
                if (c >= b->heap_n)
                        break;
                if (c + 1 < b->heap_n && heap_key(b, c + 1) < heap_key(b, c))
                        c++;
                if (heap_key(b, c) >= k)
                        break;
                heap_set(b, pos, b->heap[c]);
                pos = c;
        }
        heap_set(b, pos, e);
}

static void heap_remove(Banset *b, Ban *ban)
{
        size_t pos = ban->heap;

        if (pos == NONE)
                return;
        ban->heap = NONE;
        b->heap_n--;
        if (pos == b->heap_n)
                return;
        heap_set(b, pos, b->heap[b->heap_n]);
        heap_up(b, pos);
        heap_down(b, b->v[b->heap[pos]]->heap);
}

/* --- state changes ------------------------------------------------------ */

void banset_activate(Banset *b, Ban *ban, int64_t expires_ms)
{
        uint32_t e = entry_of(b, ban);

        heap_remove(b, ban);
        if (!ban->active)
                b->active++;
        ban->active = true;
        ban->expires_ms = expires_ms;
        if (expires_ms) {
                GROW(b->heap, b->heap_cap, b->heap_n + 1);
                b->heap[b->heap_n] = e;
                ban->heap = (uint32_t)b->heap_n++;
                heap_up(b, ban->heap);
        }
}

void banset_deactivate(Banset *b, Ban *ban)
{
        heap_remove(b, ban);
        if (ban->active)
                b->active--;
        ban->active = false;
}

void banset_remove(Banset *b, Ban *ban)
{
        uint32_t e = entry_of(b, ban);

        banset_deactivate(b, ban);
        htab_remove(&b->index, e, key_hash(b, &ban->addr, ban->plen));
        if (ban->plen < host_plen(&ban->addr))
                b->nets_by_plen[ban->plen]--;
        b->v[e] = NULL;
        GROW(b->free_slots, b->cap_free, b->n_free + 1);
        b->free_slots[b->n_free++] = e;
        b->records--;
        free(ban);
}

int64_t banset_next_expiry(const Banset *b) { return b->heap_n ? heap_key(b, 0) : 0; }

Ban *banset_pop_expired(Banset *b, int64_t now_ms)
{
        Ban *ban;

        if (!b->heap_n || heap_key(b, 0) > now_ms)
                return NULL;
        ban = b->v[b->heap[0]];
        banset_deactivate(b, ban);
        return ban;
}

size_t banset_active(const Banset *b) { return b->active; }
size_t banset_records(const Banset *b) { return b->records; }

size_t banset_memory(const Banset *b)
{
        /* malloc adds about 16 bytes to each 72-byte Ban */
        return b->records * (sizeof(Ban) + 16) + b->cap * sizeof(Ban *) + htab_memory(&b->index) +
               b->heap_cap * sizeof(uint32_t) + b->cap_free * sizeof(uint32_t) + sizeof(*b);
}

static int cmp_ban(const void *x, const void *y)
{
        const Ban *a = *(Ban *const *)x, *b = *(Ban *const *)y;
        int c = addr_compare(&a->addr, &b->addr);
        return c ? c : (int)a->plen - (int)b->plen;
}

size_t banset_list(Banset *b, bool active_only, Ban ***out)
{
        Ban **v = xcalloc(b->records ? b->records : 1, sizeof(Ban *));
        size_t n = 0;

        for (size_t i = 0; i < b->n; i++)
                if (b->v[i] && (!active_only || b->v[i]->active))
                        v[n++] = b->v[i];
        qsort(v, n, sizeof(Ban *), cmp_ban);
        *out = v;
        return n;
}

size_t banset_forget_before(Banset *b, int64_t cutoff_ms)
{
        size_t n = 0;

        for (size_t i = 0; i < b->n; i++) {
                Ban *ban = b->v[i];
                int64_t ended;
                if (!ban || ban->active)
                        continue;
                ended = ban->expires_ms ? ban->expires_ms : ban->banned_ms;
                if (ended < cutoff_ms) {
                        banset_remove(b, ban);
                        n++;
                }
        }
        return n;
}
