/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * names: a growable table of strings.  Rule sets hold a few dozen names,
 * and lookups happen only when rules or state are loaded, so a linear
 * search is the simple and sufficient choice.
 */
#include "util/names.h"

#include <errno.h>

#include "util/util.h"

struct Names {
        char **v;
        size_t n, cap;
};

Names *names_new(void) { return xcalloc(1, sizeof(Names)); }

Names *names_free(Names *n)
{
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n; i++)
                free(n->v[i]);
        free(n->v);
        free(n);
        return NULL;
}

int names_find(const Names *n, const char *name, uint16_t *out)
{
        for (size_t i = 0; i < n->n; i++)
                if (streq(n->v[i], name)) {
                        *out = (uint16_t)i;
                        return 0;
                }
        return -ENOENT;
}

int names_intern(Names *n, const char *name, uint16_t *out)
{
        if (names_find(n, name, out) == 0)
                return 0;
        if (n->n >= NAMES_MAX)
                return -E2BIG;
        GROW(n->v, n->cap, n->n + 1);
        n->v[n->n] = xstrdup(name);
        *out = (uint16_t)n->n++;
        return 0;
}

const char *names_get(const Names *n, uint16_t id) { return id < n->n ? n->v[id] : "?"; }
