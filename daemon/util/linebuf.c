/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * linebuf: split a byte stream into lines.
 *
 * Lines that lie wholly inside one chunk are passed straight from the
 * chunk (no copy); only a line that spans chunks is assembled in the
 * buffer.  The buffer is allocated once at its maximum size, so a hostile
 * or broken log cannot make it grow.
 */
#include "util/linebuf.h"

#include <string.h>

#include "util/util.h"

void linebuf_init(LineBuf *lb, size_t max)
{
        *lb = (LineBuf){.max = max};
}

void linebuf_free(LineBuf *lb)
{
        free(lb->buf);
        lb->buf = NULL;
        lb->len = 0;
}

void linebuf_reset(LineBuf *lb)
{
        lb->len = 0;
        lb->cutting = false;
}

static void emit(const char *line, size_t len, LineFn fn, void *ctx)
{
        if (len > 0 && line[len - 1] == '\r')
                len--;
        fn(ctx, line, len);
}

void linebuf_feed(LineBuf *lb, const char *data, size_t n, LineFn fn, void *ctx)
{
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t take = nl ? (size_t)(nl - data) : n;

                if (lb->cutting) {
                        /* Inside an over-long line: skip to its end. */
                        if (nl)
                                lb->cutting = false;
                } else if (nl && lb->len == 0) {
                        if (take <= lb->max)
                                emit(data, take, fn, ctx);
                        else
                                lb->cut++;
                } else if (lb->len + take > lb->max) {
                        lb->cut++;
                        lb->len = 0;
                        lb->cutting = !nl;
                } else {
                        if (!lb->buf)
                                lb->buf = xmalloc(lb->max);
                        memcpy(lb->buf + lb->len, data, take);
                        lb->len += take;
                        if (nl) {
                                emit(lb->buf, lb->len, fn, ctx);
                                lb->len = 0;
                        }
                }
                if (!nl)
                        return;
                data = nl + 1;
                n -= take + 1;
        }
}
