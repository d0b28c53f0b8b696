/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * banset: ban records, an index by (address, prefix length), and a binary
 * min-heap of every record's next due time, so that the daemon needs only
 * one timer.
 *
 * Network bans are few (one per banned network); banset_covering() tries
 * the host first, then each prefix length that has network bans.  For the
 * "ban the /64 after N of its hosts" rule, the number of active IPv6 host
 * bans per network is kept up to date as bans start and end, so that the
 * check is O(1) however many bans there are.
 */
#include "core/banset.h"

#include "util/htab.h"
#include "util/util.h"

#define NONE UINT32_MAX

typedef struct Key {
        Addr addr;
        uint8_t plen;
} Key;

typedef struct NetCount {
        Addr net;
        uint32_t hosts;
} NetCount;

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
        unsigned net_plen;        /* IPv6 prefix whose hosts are counted; 0: none */
        NetCount *nc;             /* by entry number */
        size_t n_nc, cap_nc;
        uint32_t *nc_free;
        size_t n_nc_free, cap_nc_free;
        HTab nc_index;
        BanChange *changes; /* keys changed since the last take, with repeats */
        size_t n_changes, cap_changes;
};

static uint64_t key_hash(const Banset *b, const Addr *a, uint8_t plen)
{
        return addr_hash(a, b->key) ^ ((uint64_t)plen * 0x9e3779b97f4a7c15ULL);
}

static bool ban_equal(const void *ctx, uint32_t i, const void *key)
{
        const Banset *b = ctx;
        const Key *k = key;
        return b->v[i]->plen == k->plen && addr_equal(&b->v[i]->addr, &k->addr);
}

static const HTabOps ops = {ban_equal};

static bool nc_equal(const void *ctx, uint32_t i, const void *key)
{
        return addr_equal(&((const Banset *)ctx)->nc[i].net, key);
}

static const HTabOps nc_ops = {nc_equal};

Banset *banset_new(const uint8_t hash_key[16])
{
        Banset *b = xcalloc(1, sizeof(Banset));

        memcpy(b->key, hash_key, 16);
        htab_init(&b->index, &ops, b);
        htab_init(&b->nc_index, &nc_ops, b);
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
        free(b->nc);
        free(b->nc_free);
        htab_free(&b->nc_index);
        free(b->changes);
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
        uint8_t hp = addr_host_plen(a);
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
        if (plen < addr_host_plen(&ban->addr))
                b->nets_by_plen[plen]++;
        return ban;
}

/* --- net counts ---------------------------------------------------------- */

static bool counted(const Banset *b, const Ban *ban)
{
        return b->net_plen && !addr_is_v4(&ban->addr) && ban->plen == 128;
}

static void net_count(Banset *b, const Addr *host, int delta)
{
        Addr net = *host;
        uint64_t h;
        uint32_t i;

        addr_mask(&net, b->net_plen);
        h = addr_hash(&net, b->key);
        i = htab_find(&b->nc_index, &net, h);
        if (i == NONE) {
                if (delta < 0)
                        return;
                if (b->n_nc_free)
                        i = b->nc_free[--b->n_nc_free];
                else {
                        GROW(b->nc, b->cap_nc, b->n_nc + 1);
                        i = (uint32_t)b->n_nc++;
                }
                b->nc[i] = (NetCount){.net = net};
                htab_insert(&b->nc_index, i, h);
        }
        if (delta > 0)
                b->nc[i].hosts++;
        else if (--b->nc[i].hosts == 0) {
                htab_remove(&b->nc_index, i, h);
                GROW(b->nc_free, b->cap_nc_free, b->n_nc_free + 1);
                b->nc_free[b->n_nc_free++] = i;
        }
}

void banset_set_net_prefix(Banset *b, unsigned plen)
{
        if (plen >= 128)
                plen = 0;
        if (plen == b->net_plen)
                return;
        htab_free(&b->nc_index);
        b->n_nc = b->n_nc_free = 0;
        b->net_plen = plen;
        for (size_t i = 0; i < b->n; i++)
                if (b->v[i] && b->v[i]->active && counted(b, b->v[i]))
                        net_count(b, &b->v[i]->addr, +1);
}

uint32_t banset_net_hosts(Banset *b, const Addr *a)
{
        Addr net = *a;
        uint32_t i;

        if (!b->net_plen || addr_is_v4(a))
                return 0;
        addr_mask(&net, b->net_plen);
        i = htab_find(&b->nc_index, &net, addr_hash(&net, b->key));
        return i == NONE ? 0 : b->nc[i].hosts;
}

/* --- heap --------------------------------------------------------------- */

static inline int64_t heap_key(const Banset *b, size_t pos) { return b->v[b->heap[pos]]->due_ms; }

static void heap_set(Banset *b, size_t pos, uint32_t entry)
{
        b->heap[pos] = entry;
        b->v[entry]->heap = (uint32_t)pos;
}

static void heap_up(Banset *b, size_t pos)
{
        uint32_t e = b->heap[pos];
        int64_t k = b->v[e]->due_ms;

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
        int64_t k = b->v[e]->due_ms;

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

/* Put ban in the heap under due (0: not at all). */
static void schedule(Banset *b, Ban *ban, int64_t due)
{
        heap_remove(b, ban);
        ban->due_ms = due;
        if (!due)
                return;
        GROW(b->heap, b->heap_cap, b->heap_n + 1);
        b->heap[b->heap_n] = entry_of(b, ban);
        ban->heap = (uint32_t)b->heap_n++;
        heap_up(b, ban->heap);
}

/* --- state changes ------------------------------------------------------ */

/* Note that ban changed (the list holds its key, which outlives a removal). */
static void mark(Banset *b, Ban *ban)
{
        if (ban->changed)
                return;
        ban->changed = true;
        GROW(b->changes, b->cap_changes, b->n_changes + 1);
        b->changes[b->n_changes++] = (BanChange){ban->addr, ban->plen, NULL};
}

size_t banset_take_changes(Banset *b, BanChange **out)
{
        size_t k = 0;

        /* A key removed then created again is listed twice: say it once. */
        for (size_t i = 0; i < b->n_changes; i++) {
                BanChange c = b->changes[i];
                c.ban = banset_get(b, &c.addr, c.plen);
                if (c.ban) {
                        if (!c.ban->changed)
                                continue; /* said already */
                        c.ban->changed = false;
                }
                b->changes[k++] = c;
        }
        *out = b->changes;
        b->changes = NULL;
        b->n_changes = b->cap_changes = 0;
        return k;
}

void banset_clear_changes(Banset *b)
{
        BanChange *c;

        (void)banset_take_changes(b, &c);
        free(c);
}

void banset_activate(Banset *b, Ban *ban, int64_t expires_ms)
{
        mark(b, ban);
        if (!ban->active) {
                b->active++;
                ban->active = true;
                if (counted(b, ban))
                        net_count(b, &ban->addr, +1);
        }
        ban->expires_ms = expires_ms;
        schedule(b, ban, expires_ms);
}

void banset_deactivate(Banset *b, Ban *ban, int64_t forget_ms)
{
        mark(b, ban);
        if (ban->active) {
                b->active--;
                ban->active = false;
                if (counted(b, ban))
                        net_count(b, &ban->addr, -1);
        }
        schedule(b, ban, forget_ms);
}

void banset_remove(Banset *b, Ban *ban)
{
        uint32_t e = entry_of(b, ban);

        banset_deactivate(b, ban, 0);
        htab_remove(&b->index, e, key_hash(b, &ban->addr, ban->plen));
        if (ban->plen < addr_host_plen(&ban->addr))
                b->nets_by_plen[ban->plen]--;
        b->v[e] = NULL;
        GROW(b->free_slots, b->cap_free, b->n_free + 1);
        b->free_slots[b->n_free++] = e;
        b->records--;
        free(ban);
}

int64_t banset_next_due(const Banset *b) { return b->heap_n ? heap_key(b, 0) : 0; }

Ban *banset_pop_due(Banset *b, int64_t now_ms)
{
        Ban *ban;

        if (!b->heap_n || heap_key(b, 0) > now_ms)
                return NULL;
        ban = b->v[b->heap[0]];
        heap_remove(b, ban);
        ban->due_ms = 0;
        return ban;
}

uint64_t banset_escalate(uint64_t base_ms, uint32_t count, double factor, uint64_t max_ms)
{
        const double limit = 1e15; /* ms: 30,000 years */
        double d = (double)base_ms;

        if (base_ms == 0)
                return 0;
        for (uint32_t i = 1; i < count; i++) {
                d *= factor;
                if ((max_ms && d >= (double)max_ms) || d >= limit)
                        break;
        }
        if (max_ms && d > (double)max_ms)
                d = (double)MAX(max_ms, base_ms);
        return (uint64_t)MIN(d, limit);
}

size_t banset_active(const Banset *b) { return b->active; }
size_t banset_records(const Banset *b) { return b->records; }

size_t banset_memory(const Banset *b)
{
        /* malloc adds about 16 bytes to each Ban */
        return b->records * (sizeof(Ban) + 16) + b->cap * sizeof(Ban *) + htab_memory(&b->index) +
               b->heap_cap * sizeof(uint32_t) + b->cap_free * sizeof(uint32_t) + b->cap_nc * sizeof(NetCount) +
               htab_memory(&b->nc_index) + sizeof(*b);
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
