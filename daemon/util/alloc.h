/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * alloc: allocators that never return NULL.  Running out of memory is not
 * an error a mail filter can handle sensibly, so the x*() allocators abort
 * instead, and no caller has a half-handled NULL path.  Sizes are checked
 * for overflow (n * size, doubling), so a huge count aborts too rather
 * than allocating a short buffer.
 */

#include <stddef.h>

#include "util/macro.h"

_noreturn_ void oom(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray(p, n, size) with an overflow check on n * size. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

/* Grow *array (of *cap elements of size bytes) so that it holds need. */
void grow_array(void **array, size_t *cap, size_t need, size_t size);
#define GROW(array, cap, need) grow_array((void **)&(array), &(cap), (need), sizeof(*(array)))
