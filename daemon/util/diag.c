/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * diag: the diagnostics list.  Items are formatted once, when added.
 */
#include "util/diag.h"

#include <stdarg.h>

#include "util/alloc.h"
#include "util/buf.h"

void diags_add(Diags *d, const char *file, unsigned line, const char *fmt, ...)
{
        Buf b = {0};
        va_list ap;

        if (file && line)
                buf_printf(&b, "%s:%u: ", file, line);
        else if (file)
                buf_printf(&b, "%s: ", file);
        va_start(ap, fmt);
        buf_vprintf(&b, fmt, ap);
        va_end(ap);
        GROW(d->items, d->cap, d->n + 1);
        d->items[d->n++] = b.data;
}

void diags_free(Diags *d)
{
        for (size_t i = 0; i < d->n; i++)
                free(d->items[i]);
        free(d->items);
        *d = (Diags){0};
}

void diags_print(FILE *f, const Diags *d, const char *prefix)
{
        for (size_t i = 0; i < d->n; i++)
                fprintf(f, "%s%s\n", prefix, d->items[i]);
}
