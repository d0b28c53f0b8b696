/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tracker: hits per address, in 64-byte entries.
 *
 * An entry holds the address, its place in an LRU list (ordered by last
 * hit, so the oldest is at the head), and up to four hits inline; more
 * hits move to a heap array.  Entries live in chunks of 4096, so growing
 * never copies them and memory follows the peak count.  An open-addressed
 * index of 4-byte slots finds them.  With a million addresses that is
 * 64 bytes of entry plus about 8 bytes of index each.
 *
 * Security: the addresses come from the log, i.e. from attackers, who
 * may use many (an IPv6 /64 is 2^64 addresses).  The index uses a keyed
 * hash, the count is capped with eviction, and each (address, rule)
 * stores at most max_hits - 1 times, so neither memory nor time per hit
 * can be driven up.
 */
#include "core/tracker.h"

#include "util/htab.h"
#include "util/util.h"

#define CHUNK_SHIFT 12
#define CHUNK_SIZE (1u << CHUNK_SHIFT)
#define INLINE_HITS 4
#define NONE UINT32_MAX

typedef struct Hit {
        uint32_t t; /* seconds since the epoch */
        uint16_t rule;
        uint16_t _pad;
} Hit;

typedef struct Entry {
        Addr addr;
        uint32_t prev, next; /* LRU list; next is also the free list link */
        uint32_t last;       /* time of the last hit, seconds */
        uint16_t n;          /* hits stored */
        uint16_t cap;        /* 0: the inline array is used */
        union {
                Hit inl[INLINE_HITS];
                Hit *ext;
        } h;
} Entry;

_Static_assert(sizeof(Entry) == 64, "a tracker entry should stay 64 bytes");

struct Tracker {
        Entry **chunks;
        size_t n_chunks;
        uint32_t used; /* entries ever handed out (high-water mark) */
        uint32_t free_head;
        uint32_t head, tail; /* LRU: head is the oldest */
        HTab index;
        uint8_t key[16];
        size_t max;
        uint32_t window_s;
        uint64_t evictions;
        size_t ext_bytes;
};

static inline Entry *E(const Tracker *t, uint32_t i) { return &t->chunks[i >> CHUNK_SHIFT][i & (CHUNK_SIZE - 1)]; }
static inline Hit *hits(Entry *e) { return e->cap ? e->h.ext : e->h.inl; }

static bool entry_equal(const void *ctx, uint32_t i, const void *key)
{
        return addr_equal(&E(ctx, i)->addr, key);
}

static const HTabOps ops = {entry_equal};

Tracker *tracker_new(size_t max_tracked, const uint8_t hash_key[16])
{
        Tracker *t = xcalloc(1, sizeof(Tracker));

        memcpy(t->key, hash_key, 16);
        t->max = max_tracked ? max_tracked : 1;
        t->free_head = t->head = t->tail = NONE;
        t->window_s = 600;
        htab_init(&t->index, &ops, t);
        return t;
}

Tracker *tracker_free(Tracker *t)
{
        if (!t)
                return NULL;
        for (uint32_t i = t->head; i != NONE; i = E(t, i)->next)
                if (E(t, i)->cap)
                        free(E(t, i)->h.ext);
        for (size_t i = 0; i < t->n_chunks; i++)
                free(t->chunks[i]);
        free(t->chunks);
        htab_free(&t->index);
        free(t);
        return NULL;
}

/* Milliseconds to whole seconds, rounded up: hits are kept to the second. */
static inline uint32_t secs(uint64_t ms) { return (uint32_t)MIN((ms + 999) / 1000, UINT32_MAX); }

void tracker_set_window(Tracker *t, uint64_t window_ms) { t->window_s = secs(window_ms); }

void tracker_set_max(Tracker *t, size_t max_tracked) { t->max = max_tracked ? max_tracked : 1; }

size_t tracker_count(const Tracker *t) { return t->index.count; }
uint64_t tracker_evictions(const Tracker *t) { return t->evictions; }

size_t tracker_memory(const Tracker *t)
{
        return t->n_chunks * (CHUNK_SIZE * sizeof(Entry) + sizeof(Entry *)) + htab_memory(&t->index) +
               t->ext_bytes + sizeof(*t);
}

static void lru_unlink(Tracker *t, uint32_t i)
{
        Entry *e = E(t, i);

        if (e->prev != NONE)
                E(t, e->prev)->next = e->next;
        else
                t->head = e->next;
        if (e->next != NONE)
                E(t, e->next)->prev = e->prev;
        else
                t->tail = e->prev;
        e->prev = e->next = NONE;
}

static void lru_append(Tracker *t, uint32_t i)
{
        Entry *e = E(t, i);

        e->prev = t->tail;
        e->next = NONE;
        if (t->tail != NONE)
                E(t, t->tail)->next = i;
        else
                t->head = i;
        t->tail = i;
}

static void entry_remove(Tracker *t, uint32_t i)
{
        Entry *e = E(t, i);

        htab_remove(&t->index, i, addr_hash(&e->addr, t->key));
        lru_unlink(t, i);
        if (e->cap) {
                free(e->h.ext);
                t->ext_bytes -= e->cap * sizeof(Hit);
        }
        e->cap = 0;
        e->n = 0;
        e->next = t->free_head;
        t->free_head = i;
}

static uint32_t entry_alloc(Tracker *t)
{
        uint32_t i;

        if (t->free_head != NONE) {
                i = t->free_head;
                t->free_head = E(t, i)->next;
                return i;
        }
        if (t->used >> CHUNK_SHIFT >= t->n_chunks) {
                t->chunks = xreallocarray(t->chunks, t->n_chunks + 1, sizeof(Entry *));
                t->chunks[t->n_chunks++] = xmalloc(CHUNK_SIZE * sizeof(Entry));
        }
        return t->used++;
}

/* Is a hit at time h still inside a window of w seconds at now? */
static inline bool within(uint32_t h, uint32_t now, uint32_t w)
{
        /* A hit "in the future" (the clock stepped back) is kept. */
        return (int64_t)now - (int64_t)h < (int64_t)w;
}

static void prune(Tracker *t, Entry *e, uint32_t now)
{
        Hit *h = hits(e);
        uint16_t k = 0;

        for (uint16_t j = 0; j < e->n; j++)
                if (within(h[j].t, now, t->window_s))
                        h[k++] = h[j];
        e->n = k;
}

static void add_hit(Tracker *t, Entry *e, Hit hit)
{
        uint16_t cap = e->cap ? e->cap : INLINE_HITS;

        if (e->n == cap) {
                uint16_t ncap = (uint16_t)MIN((unsigned)cap * 2, UINT16_MAX);
                Hit *n;
                if (ncap == cap)
                        return; /* cannot happen with max_hits <= 1000 per rule */
                n = xmalloc(ncap * sizeof(Hit));
                memcpy(n, hits(e), e->n * sizeof(Hit));
                if (e->cap) {
                        free(e->h.ext);
                        t->ext_bytes -= e->cap * sizeof(Hit);
                }
                e->h.ext = n;
                e->cap = ncap;
                t->ext_bytes += ncap * sizeof(Hit);
        }
        hits(e)[e->n++] = hit;
}

/* Forget up to max addresses whose last hit is out of every window. */
static void expire_stale(Tracker *t, uint32_t now, size_t max)
{
        for (size_t k = 0; k < max && t->head != NONE && !within(E(t, t->head)->last, now, t->window_s); k++)
                entry_remove(t, t->head);
}

void tracker_expire(Tracker *t, int64_t now_ms) { expire_stale(t, (uint32_t)(now_ms / 1000), SIZE_MAX); }

static uint32_t lookup(const Tracker *t, const Addr *a)
{
        return htab_find(&t->index, a, addr_hash(a, t->key));
}

unsigned tracker_count_hits(Tracker *t, const Addr *a, uint16_t rule, uint64_t find_time_ms,
                            int64_t now_ms)
{
        uint32_t i = lookup(t, a), now = (uint32_t)(now_ms / 1000);
        uint32_t w = secs(find_time_ms);
        unsigned c = 0;
        Entry *e;

        if (i == NONE)
                return 0;
        e = E(t, i);
        for (uint16_t j = 0; j < e->n; j++)
                if (hits(e)[j].rule == rule && within(hits(e)[j].t, now, w))
                        c++;
        return c;
}

unsigned tracker_hit(Tracker *t, const Addr *a, uint16_t rule, uint64_t find_time_ms,
                     unsigned max_hits, int64_t now_ms, int64_t *first_ms)
{
        uint32_t now = (uint32_t)(now_ms / 1000);
        uint32_t w = secs(find_time_ms);
        uint32_t i, oldest = NONE;
        unsigned c = 1, stored = 0;
        uint32_t first = now;
        Entry *e;
        Hit *h;

        /* Housekeeping first: a few stale addresses leave at each hit. */
        expire_stale(t, now, 4);

        i = lookup(t, a);
        if (i == NONE) {
                while (t->index.count >= t->max && t->head != NONE) {
                        entry_remove(t, t->head);
                        t->evictions++;
                }
                i = entry_alloc(t);
                e = E(t, i);
                *e = (Entry){.addr = *a, .prev = NONE, .next = NONE};
                htab_insert(&t->index, i, addr_hash(a, t->key));
        } else {
                e = E(t, i);
                lru_unlink(t, i);
                prune(t, e, now);
        }
        e->last = now;
        lru_append(t, i);

        h = hits(e);
        for (uint16_t j = 0; j < e->n; j++) {
                if (h[j].rule != rule)
                        continue;
                stored++;
                if (oldest == NONE)
                        oldest = j; /* hits are kept in time order */
                if (within(h[j].t, now, w)) {
                        c++;
                        first = MIN(first, h[j].t);
                }
        }
        if (first_ms)
                *first_ms = (int64_t)first * 1000;
        if (c >= max_hits)
                return c;
        /* Keep at most max_hits - 1 times per rule: drop this rule's oldest. */
        if (stored + 1 > max_hits - 1 && oldest != NONE) {
                memmove(&h[oldest], &h[oldest + 1], (e->n - oldest - 1) * sizeof(Hit));
                e->n--;
        }
        if (max_hits > 1)
                add_hit(t, e, (Hit){.t = now, .rule = rule});
        return c;
}

bool tracker_forget(Tracker *t, const Addr *a)
{
        uint32_t i = lookup(t, a);

        if (i == NONE)
                return false;
        entry_remove(t, i);
        return true;
}
