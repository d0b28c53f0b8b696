/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * buf: a growable byte buffer.  data is always NUL-terminated, so a Buf
 * holding text can be used as a C string.  It grows through the x*
 * allocators (an overflow or no memory aborts); bounding what goes in is
 * the caller's job.
 */

#include <stdarg.h>
#include <stddef.h>

#include "util/macro.h"

typedef struct Buf {
        char *data;
        size_t len;
        size_t cap;
} Buf;

void buf_append(Buf *b, const void *data, size_t len);
void buf_puts(Buf *b, const char *s);
void buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
void buf_vprintf(Buf *b, const char *fmt, va_list ap) _printf_(2, 0) __attribute__((nonnull(2)));
void buf_clear(Buf *b);
void buf_free(Buf *b);
static inline void buf_freep(Buf *b) { buf_free(b); }
#define _cleanup_buf_ _cleanup_(buf_freep)
