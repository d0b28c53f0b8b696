/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/buf and util/alloc: the growable buffer and the growing array. */
#include <stdint.h>

#include "check.h"
#include "util/alloc.h"
#include "util/buf.h"

int main(void)
{
        {
                Buf b = {0};
                buf_printf(&b, "%s-%d", "x", 7);
                buf_append(&b, "yz", 2);
                CHECK_STR(b.data, "x-7yz", "buf");
                buf_free(&b);
        }
        {
                /* growing across the first allocation keeps what was there */
                Buf b = {0};
                for (int i = 0; i < 1000; i++)
                        buf_printf(&b, "%03d", i);
                CHECK_INT(b.len, 3000, "1000 appends");
                CHECK(b.cap > b.len && b.data[b.len] == '\0', "NUL-terminated with room");
                CHECK(memcmp(b.data + 2997, "999", 3) == 0 && memcmp(b.data, "000001", 6) == 0,
                      "the content");
                buf_clear(&b);
                CHECK_STR(b.data, "", "buf_clear leaves an empty string");
                buf_free(&b);
                CHECK(b.data == NULL && b.len == 0 && b.cap == 0, "buf_free resets");
                buf_clear(&b); /* on a Buf that holds nothing: no crash */
        }
        {
                int *v = NULL;
                size_t cap = 0;
                GROW(v, cap, 1);
                CHECK_INT(cap, 8, "the first growth");
                for (int i = 0; i < 8; i++)
                        v[i] = i;
                GROW(v, cap, 9);
                CHECK(cap >= 9 && v[7] == 7, "growing keeps the elements");
                GROW(v, cap, 3);
                CHECK(cap >= 9, "never shrinks");
                free(v);
        }
        {
                _cleanup_free_ char *s = xasprintf("%s:%u", "f", 3u);
                _cleanup_free_ char *d = xmemdup("ab", 2), *n = xstrndup("abcdef", 3);
                CHECK_STR(s, "f:3", "xasprintf");
                CHECK(memcmp(d, "ab", 2) == 0, "xmemdup");
                CHECK_STR(n, "abc", "xstrndup");
        }
        return check_done();
}
