/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mapdiff: the keys to delete and the lines to add that turn a database
 * built from one block of map entries into the one a full postmap of the
 * other would build.  A new ban is one line more in a map of 100,000;
 * postmap of the whole map costs 150 ms, `postmap -i` of the one line a
 * few, so the map writer applies this difference to a copy of the
 * database when it can (mapwriter.c).
 *
 * The difference must give exactly postmap's database, so anything whose
 * reading by postmap we would have to imitate makes us refuse (-EINVAL)
 * and the writer rebuilds in full: a continuation line (one that starts
 * with white space), a line without a value, a key with a byte outside
 * ASCII (postmap folds UTF-8 case), two lines of one key up to ASCII case
 * (postmap keeps the first and warns).  Keys compare as postmap folds
 * them (ASCII lower case); lines compare byte for byte, so a line that
 * changed only in its spacing is deleted and added again, which is
 * harmless.  Security: the lines (SASL names may be a client's choice)
 * are copied as they are, never interpreted beyond the key; the hash
 * table is sized by the input and probes linearly (util/htab), whose
 * worst case with chosen keys is quadratic only in our own ban count.
 */
#include "backend/mapdiff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/htab.h"
#include "util/util.h"

typedef struct Line {
        const char *key, *text;
        size_t key_len, len;
        uint64_t hash;
} Line;

typedef struct Lines {
        Line *v;
        size_t n, cap;
} Lines;

static char fold(char c)
{
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* FNV-1a of the key as postmap folds it. */
static uint64_t key_hash(const char *k, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ull;

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)fold(k[i]);
                h *= 0x100000001b3ull;
        }
        return h;
}

static bool key_equal(const Line *a, const Line *b)
{
        if (a->key_len != b->key_len)
                return false;
        for (size_t i = 0; i < a->key_len; i++)
                if (fold(a->key[i]) != fold(b->key[i]))
                        return false;
        return true;
}

static bool blank(char c)
{
        return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The entry lines of text, or -EINVAL for one that only postmap itself may read. */
static int parse(const char *text, size_t len, Lines *out)
{
        const char *p = text, *end = len ? text + len : text;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *eol = nl ? nl : end, *k = p, *v;
                Line *l;

                p = nl ? nl + 1 : end;
                if (k == eol || *k == '#')
                        continue;
                if (blank(*k)) {
                        while (k < eol && blank(*k))
                                k++;
                        if (k == eol || *k == '#')
                                continue; /* blank, or a comment after white space */
                        return -EINVAL;   /* a continuation line */
                }
                for (v = k; v < eol && !blank(*v); v++)
                        if ((unsigned char)*v >= 0x80)
                                return -EINVAL;
                if (v == eol)
                        return -EINVAL; /* no value */
                GROW(out->v, out->cap, out->n + 1);
                l = &out->v[out->n++];
                *l = (Line){.key = k, .key_len = (size_t)(v - k), .text = k, .len = (size_t)(eol - k)};
                while (v < eol && blank(*v))
                        v++;
                if (v == eol)
                        return -EINVAL; /* no value */
                l->hash = key_hash(l->key, l->key_len);
        }
        return 0;
}

/* The table indexes old's lines (0..n_old-1) and new's (n_old...). */
typedef struct Both {
        const Lines *old, *new;
} Both;

static const Line *line_of(const Both *b, uint32_t e)
{
        return e < b->old->n ? &b->old->v[e] : &b->new->v[e - b->old->n];
}

static uint64_t ops_hash(const void *ctx, uint32_t e)
{
        return line_of(ctx, e)->hash;
}
static bool ops_equal(const void *ctx, uint32_t e, const void *key)
{
        return key_equal(line_of(ctx, e), key);
}
static const HTabOps ops = {ops_hash, ops_equal};

static void del(MapDiff *d, const Line *l)
{
        buf_append(&d->dels, l->key, l->key_len);
        buf_append(&d->dels, "\n", 1);
        d->n_dels++;
}

static void add(MapDiff *d, const Line *l)
{
        buf_append(&d->adds, l->text, l->len);
        buf_append(&d->adds, "\n", 1);
        d->n_adds++;
}

int mapdiff(const char *old, size_t old_len, const char *new, size_t new_len, MapDiff *d)
{
        Lines o = {0}, n = {0};
        Both both = {&o, &n};
        _cleanup_free_ bool *kept = NULL;
        HTab t;
        int r;

        *d = (MapDiff){0};
        htab_init(&t, &ops, &both);
        r = parse(old, old_len, &o);
        if (r == 0)
                r = parse(new, new_len, &n);
        if (r < 0 || o.n >= HTAB_NONE / 2 || n.n >= HTAB_NONE / 2) {
                r = -EINVAL;
                goto out;
        }
        for (size_t i = 0; i < o.n; i++) {
                if (htab_find(&t, &o.v[i], o.v[i].hash) != HTAB_NONE) {
                        r = -EINVAL; /* postmap kept the first and warned */
                        goto out;
                }
                htab_insert(&t, (uint32_t)i, o.v[i].hash);
        }
        kept = xcalloc(o.n + 1, sizeof(bool));
        for (size_t j = 0; j < n.n; j++) {
                const Line *l = &n.v[j];
                uint32_t e = htab_find(&t, l, l->hash);

                if (e == HTAB_NONE) {
                        add(d, l);
                } else if (e >= o.n) {
                        r = -EINVAL; /* twice in new */
                        goto out;
                } else {
                        const Line *ol = &o.v[e];

                        kept[e] = true;
                        htab_remove(&t, e, l->hash);
                        if (ol->len != l->len || memcmp(ol->text, l->text, l->len) != 0) {
                                del(d, ol);
                                add(d, l);
                        }
                }
                htab_insert(&t, (uint32_t)(o.n + j), l->hash);
        }
        for (size_t i = 0; i < o.n; i++)
                if (!kept[i])
                        del(d, &o.v[i]);
        d->n_old = o.n;
        d->n_new = n.n;
out:
        htab_free(&t);
        free(o.v);
        free(n.v);
        if (r < 0)
                mapdiff_free(d);
        return r;
}

void mapdiff_free(MapDiff *d)
{
        buf_free(&d->dels);
        buf_free(&d->adds);
        *d = (MapDiff){0};
}
