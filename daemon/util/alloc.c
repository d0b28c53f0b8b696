/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * alloc: the x*() allocators.  Each aborts through oom(), which writes
 * with write(2) only, so it works however broken the heap is.
 */
#include "util/alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void oom(void)
{
        static const char msg[] = "autoblacklistd: out of memory\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
        if (size && n > SIZE_MAX / size)
                oom();
        return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

void *xmemdup(const void *p, size_t n)
{
        void *q = xmalloc(n);
        if (n)
                memcpy(q, p, n);
        return q;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                oom();
        va_end(ap);
        return s;
}

void grow_array(void **array, size_t *cap, size_t need, size_t size)
{
        size_t n;

        if (need <= *cap)
                return;
        n = *cap ? *cap : 8;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        oom();
                n *= 2;
        }
        *array = xreallocarray(*array, n, size);
        *cap = n;
}
