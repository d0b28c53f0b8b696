/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * buf: the growable buffer.  Every size computation is checked: a length
 * that would overflow aborts through oom() instead of wrapping.
 */
#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

static void buf_reserve(Buf *b, size_t extra)
{
        size_t need;

        if (extra > SIZE_MAX - b->len - 1)
                oom();
        need = b->len + extra + 1;
        if (need > b->cap) {
                size_t n = b->cap ? b->cap : 64;
                while (n < need)
                        n = n > SIZE_MAX / 2 ? need : n * 2;
                b->data = xrealloc(b->data, n);
                b->cap = n;
        }
}

void buf_append(Buf *b, const void *data, size_t len)
{
        buf_reserve(b, len);
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
}

void buf_puts(Buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_vprintf(Buf *b, const char *fmt, va_list ap)
{
        va_list aq;
        char probe[1];
        int n;

        va_copy(aq, ap);
        n = vsnprintf(probe, sizeof(probe), fmt, aq);
        va_end(aq);
        if (n < 0)
                oom();
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
}

void buf_printf(Buf *b, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        buf_vprintf(b, fmt, ap);
        va_end(ap);
}

void buf_clear(Buf *b)
{
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void buf_free(Buf *b)
{
        free(b->data);
        *b = (Buf){0};
}
