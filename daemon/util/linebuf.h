/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Line assembly over arbitrary read() chunks.  Complete lines are handed
 * to a callback without their '\n' (and without a trailing '\r').  A
 * partial last line waits for its newline.  A line longer than max is cut:
 * it is counted and skipped whole, and memory never grows past max.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*LineFn)(void *ctx, const char *line, size_t len);

typedef struct LineBuf {
        char *buf;
        size_t len;
        size_t max;   /* longest line kept, in bytes */
        bool cutting; /* inside an over-long line: drop until '\n' */
        uint64_t cut; /* over-long lines skipped */
} LineBuf;

void linebuf_init(LineBuf *lb, size_t max);
void linebuf_free(LineBuf *lb);
void linebuf_feed(LineBuf *lb, const char *data, size_t n, LineFn fn, void *ctx);
/* Bytes of a partial line held back. */
static inline size_t linebuf_pending(const LineBuf *lb) { return lb->len; }
/* Drop a partial line (e.g. the file was truncated under it). */
void linebuf_reset(LineBuf *lb);
