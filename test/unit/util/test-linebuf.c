/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "check.h"
#include "util/linebuf.h"
#include "util/util.h"

typedef struct Got {
        Buf all; /* lines joined with '|' */
        size_t n;
} Got;

static void collect(void *ctx, const char *line, size_t len)
{
        Got *g = ctx;
        if (g->n++)
                buf_append(&g->all, "|", 1);
        buf_append(&g->all, line, len);
}

/* Feed text in chunks of size step; return the lines seen. */
static char *feed(const char *text, size_t len, size_t step, size_t max, uint64_t *cut)
{
        LineBuf lb;
        Got g = {0};

        linebuf_init(&lb, max);
        for (size_t off = 0; off < len; off += step)
                linebuf_feed(&lb, text + off, MIN(step, len - off), collect, &g);
        *cut = lb.cut;
        linebuf_free(&lb);
        buf_append(&g.all, "", 0);
        return g.all.data;
}

static const struct {
        const char *in;
        size_t max;
        const char *want;
        uint64_t cut;
} cases[] = {
        {"a\nb\nc\n", 100, "a|b|c", 0},
        {"a\nb\npartial", 100, "a|b", 0}, /* the partial line waits */
        {"\n\n", 100, "|", 0},
        {"crlf\r\nx\n", 100, "crlf|x", 0},
        {"short\n0123456789abc\nok\n", 10, "short|ok", 1}, /* over-long line cut and skipped */
        {"0123456789abcdefghij", 10, "", 1},             /* an over-long partial line is cut too */
        {"0123456789\n", 10, "0123456789", 0},           /* exactly max is kept */
};

int main(void)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                for (size_t step = 1; step <= strlen(cases[i].in) + 1; step++) {
                        uint64_t cut;
                        char *got = feed(cases[i].in, strlen(cases[i].in), step, cases[i].max, &cut);
                        CHECK(streq(got, cases[i].want), "case %zu step %zu: got '%s' want '%s'", i, step, got,
                              cases[i].want);
                        CHECK(cut == cases[i].cut, "case %zu step %zu: cut got %llu want %llu", i, step,
                              (unsigned long long)cut, (unsigned long long)cases[i].cut);
                        free(got);
                }
        /* NUL bytes are part of a line. */
        {
                const char text[] = "a\0b\nc\n";
                uint64_t cut;
                char *got = feed(text, sizeof(text) - 1, 2, 100, &cut);
                CHECK(memcmp(got, "a\0b|c", 5) == 0, "NUL kept inside the line");
                free(got);
        }
        /* After an over-long line, the next lines are intact. */
        {
                Buf big = {0};
                uint64_t cut;
                for (int i = 0; i < 1000; i++)
                        buf_puts(&big, "xxxxxxxxxx");
                buf_puts(&big, "\nnext\n");
                char *got = feed(big.data, big.len, 4096, 1000, &cut);
                CHECK_STR(got, "next", "line after a cut one");
                CHECK_INT(cut, 1, "one line cut");
                free(got);
                buf_free(&big);
        }
        return check_done();
}
