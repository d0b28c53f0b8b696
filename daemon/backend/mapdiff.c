/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mapdiff: the keys to delete and the lines to add that turn a database
 * built from one block of map entries into the one a full postmap of the
 * other would build.  A new ban is one line more in a map of 100,000;
 * postmap of the whole map costs 150 ms, `postmap -i` of the one line a
 * few, so the map writer applies this difference to a copy of the
 * database when it can (mapwriter.c).  The lines both blocks start and
 * end with (all but the new line at the end, or the expired one in the
 * middle, as the render keeps its order) are only checked and searched
 * for the changed keys; what is between them goes through a hash table.
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
 * worst case with chosen keys is quadratic only in the changed lines.
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

/*
 * The next line of text at *p (which moves past it): 1 with *l for an
 * entry line, 0 for a blank or comment line, -EINVAL for one that only
 * postmap itself may read.
 */
static int next_line(const char **p, const char *end, Line *l)
{
        const char *nl = memchr(*p, '\n', (size_t)(end - *p));
        const char *eol = nl ? nl : end, *k = *p, *v;

        *p = nl ? nl + 1 : end;
        if (k == eol || *k == '#')
                return 0;
        if (blank(*k)) {
                while (k < eol && blank(*k))
                        k++;
                if (k == eol || *k == '#')
                        return 0; /* blank, or a comment after white space */
                return -EINVAL;   /* a continuation line */
        }
        for (v = k; v < eol && !blank(*v); v++)
                if ((unsigned char)*v >= 0x80)
                        return -EINVAL;
        *l = (Line){.key = k, .key_len = (size_t)(v - k), .text = k, .len = (size_t)(eol - k)};
        while (v < eol && blank(*v))
                v++;
        if (v == eol)
                return -EINVAL; /* no value */
        l->hash = key_hash(l->key, l->key_len);
        return 1;
}

/* The entry lines of text, or -EINVAL. */
static int parse(const char *text, size_t len, Lines *out)
{
        const char *p = text, *end = text + len;

        while (p < end) {
                Line l;
                int r = next_line(&p, end, &l);

                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                GROW(out->v, out->cap, out->n + 1);
                out->v[out->n++] = l;
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

static bool ops_equal(const void *ctx, uint32_t e, const void *key)
{
        return key_equal(line_of(ctx, e), key);
}
static const HTabOps ops = {ops_equal};

static void del(MapDiff *d, Lines *touched, const Line *l)
{
        buf_append(&d->dels, l->key, l->key_len);
        buf_append(&d->dels, "\n", 1);
        d->n_dels++;
        GROW(touched->v, touched->cap, touched->n + 1);
        touched->v[touched->n++] = *l;
}

static void add(MapDiff *d, Lines *touched, const Line *l)
{
        buf_append(&d->adds, l->text, l->len);
        buf_append(&d->adds, "\n", 1);
        d->n_adds++;
        GROW(touched->v, touched->cap, touched->n + 1);
        touched->v[touched->n++] = *l;
}

/* The difference of the middles (what is not common to both), through a hash table of their lines. */
static int diff_middle(const char *old, size_t old_len, const char *new, size_t new_len, MapDiff *d,
                       Lines *touched)
{
        Lines o = {0}, n = {0};
        Both both = {&o, &n};
        _cleanup_free_ bool *kept = NULL;
        HTab t;
        int r;

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
                        add(d, touched, l);
                } else if (e >= o.n) {
                        r = -EINVAL; /* twice in new */
                        goto out;
                } else {
                        const Line *ol = &o.v[e];

                        kept[e] = true;
                        htab_remove(&t, e, l->hash);
                        if (ol->len != l->len || memcmp(ol->text, l->text, l->len) != 0) {
                                del(d, touched, ol);
                                add(d, touched, l);
                        }
                }
                htab_insert(&t, (uint32_t)(o.n + j), l->hash);
        }
        for (size_t i = 0; i < o.n; i++)
                if (!kept[i])
                        del(d, touched, &o.v[i]);
        d->n_old = o.n;
        d->n_new = n.n;
out:
        htab_free(&t);
        free(o.v);
        free(n.v);
        return r;
}

/*
 * The lines common to both texts, which neither changes: checked as
 * parse() checks them, counted, and searched for the keys deleted,
 * changed or added in the middle, which must not be there too (a key
 * twice: postmap's database has the first line's).  Cheap: one pass and
 * a small table, no table of every line.
 */
static int check_common(const char *text, size_t len, const Lines *touched, size_t *entries)
{
        const char *p = text, *end = text + len;
        Both both = {touched, touched};
        HTab t;
        int r = 0;

        htab_init(&t, &ops, &both);
        for (size_t i = 0; i < touched->n; i++)
                htab_insert(&t, (uint32_t)i, touched->v[i].hash);
        while (p < end && r >= 0) {
                Line l;

                r = next_line(&p, end, &l);
                if (r > 0) {
                        (*entries)++;
                        if (touched->n && htab_find(&t, &l, l.hash) != HTAB_NONE)
                                r = -EINVAL;
                }
        }
        htab_free(&t);
        return r < 0 ? r : 0;
}

/* Where a and b first differ, backed up to the start of that line. */
static size_t common_head(const char *a, size_t alen, const char *b, size_t blen)
{
        size_t max = MIN(alen, blen), p = 0;

        while (p + 4096 <= max && memcmp(a + p, b + p, 4096) == 0)
                p += 4096;
        while (p < max && a[p] == b[p])
                p++;
        if (p == alen && p == blen)
                return p;
        while (p > 0 && a[p - 1] != '\n')
                p--;
        return p;
}

/* The length of the whole lines that end both a and b (at most max bytes). */
static size_t common_tail(const char *a, size_t alen, const char *b, size_t blen, size_t max)
{
        size_t s = 0;

        max = MIN(max, MIN(alen, blen));
        while (s + 4096 <= max && memcmp(a + alen - s - 4096, b + blen - s - 4096, 4096) == 0)
                s += 4096;
        while (s < max && a[alen - 1 - s] == b[blen - 1 - s])
                s++;
        /* at s itself, if that starts a line in both; else past a newline inside the common bytes */
        if ((s == alen || a[alen - 1 - s] == '\n') && (s == blen || b[blen - 1 - s] == '\n'))
                return s;
        while (s > 0)
                if (a[alen - 1 - --s] == '\n')
                        return s;
        return 0;
}

int mapdiff(const char *old, size_t old_len, const char *new, size_t new_len, MapDiff *d)
{
        /* A ban in a map of 100,000 adds a line at the end or removes one:
           the lines before and after are the same in both, and only what
           is between them goes through the table. */
        size_t head = common_head(old, old_len, new, new_len);
        size_t tail = common_tail(old, old_len, new, new_len, MIN(old_len, new_len) - head);
        size_t common = 0;
        Lines touched = {0};
        int r;

        *d = (MapDiff){0};
        r = diff_middle(old + head, old_len - head - tail, new + head, new_len - head - tail, d, &touched);
        if (r == 0)
                r = check_common(new, head, &touched, &common);
        if (r == 0)
                r = check_common(new + new_len - tail, tail, &touched, &common);
        free(touched.v);
        if (r < 0) {
                mapdiff_free(d);
                return r;
        }
        d->n_old += common;
        d->n_new += common;
        return 0;
}

void mapdiff_free(MapDiff *d)
{
        buf_free(&d->dels);
        buf_free(&d->adds);
        *d = (MapDiff){0};
}
