/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/pfsyntax: Postfix's logical lines. */
#include "check.h"
#include "util/buf.h"
#include "util/pfsyntax.h"

static void collect_line(void *ctx, char *line, size_t len, unsigned lineno)
{
        buf_printf(ctx, "%u:%.*s|", lineno, (int)len, line);
}

static void collect_orphan(void *ctx, char *line, size_t len, unsigned lineno)
{
        buf_printf(ctx, "orphan %u:%.*s|", lineno, (int)len, line);
}

int main(void)
{
        /* Postfix's logical lines: continuation, comments, blank lines, no final newline */
        {
                static const char text[] =
                        " orphan\nk1 v1\n  cont\n# comment\n\n\tmore\n  # indented comment\nk2 v2";
                Buf b = {0};
                postfix_lines(text, sizeof(text) - 1, collect_line, collect_orphan, &b);
                CHECK_STR(b.data, "orphan 1: orphan|2:k1 v1 cont more|8:k2 v2|", "postfix_lines");
                buf_clear(&b);
                postfix_lines(text, sizeof(text) - 1, collect_line, NULL, &b);
                CHECK_STR(b.data, "2:k1 v1 cont more|8:k2 v2|", "without an orphan callback");
                buf_free(&b);
                /* an empty part of a map: (NULL, 0), which clang's UBSan caught as NULL + 0 */
                postfix_lines(NULL, 0, collect_line, collect_orphan, &b);
                CHECK(b.data == NULL, "nothing from (NULL, 0): got '%s'", check_show(b.data));
        }
        return check_done();
}
