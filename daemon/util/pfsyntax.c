/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * pfsyntax: Postfix's logical lines.  The joined line is built in a Buf of
 * its own, so the caller's text is never written to.
 */
#include "util/pfsyntax.h"

#include <string.h>

#include "util/alloc.h"
#include "util/buf.h"

void postfix_lines(const char *text, size_t len, LogicalLineFn fn, LogicalLineFn orphan, void *ctx)
{
        const char *p, *end;
        Buf logical = {0};
        unsigned lineno = 0, first = 0;

        /* An empty part of a map may be (NULL, 0); NULL + 0 is undefined. */
        if (len == 0)
                return;
        p = text;
        end = text + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *eol = nl ? nl : end, *s = p;

                lineno++;
                while (s < eol && (*s == ' ' || *s == '\t'))
                        s++;
                if (s == eol || *s == '#') {
                        /* blank or comment: skipped */
                } else if (s == p) {
                        if (logical.len)
                                fn(ctx, logical.data, logical.len, first);
                        buf_clear(&logical);
                        buf_append(&logical, p, (size_t)(eol - p));
                        first = lineno;
                } else if (logical.len) {
                        buf_append(&logical, " ", 1);
                        buf_append(&logical, s, (size_t)(eol - s));
                } else if (orphan) {
                        _cleanup_free_ char *line = xstrndup(p, (size_t)(eol - p));
                        orphan(ctx, line, (size_t)(eol - p), lineno);
                }
                p = nl ? nl + 1 : end;
        }
        if (logical.len)
                fn(ctx, logical.data, logical.len, first);
        buf_free(&logical);
}
