/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mapdiff: the deletions and additions between two blocks of entries, and what it refuses. */
#include <errno.h>

#include "check.h"
#include "backend/mapdiff.h"

static const struct {
        const char *name;
        const char *old, *new;
        int r;
        const char *dels, *adds; /* as the buffers hold them */
} cases[] = {
        {"nothing to nothing", "", "", 0, "", ""},
        {"comments and blank lines are no entries", "# 2 entries\n\n", "# 3 entries\n  \n\t# x\n", 0, "", ""},
        {"one added", "a REJECT x\n", "a REJECT x\nb REJECT x\n", 0, "", "b REJECT x\n"},
        {"one removed", "a REJECT x\nb REJECT x\n", "b REJECT x\n", 0, "a\n", ""},
        {"order does not matter", "a REJECT x\nb REJECT x\nc REJECT x\n",
         "c REJECT x\na REJECT x\nb REJECT x\n", 0, "", ""},
        {"a changed value is deleted and added", "a REJECT x\nb REJECT x\n", "a REJECT y\nb REJECT x\n", 0,
         "a\n", "a REJECT y\n"},
        {"keys compare as postmap folds them", "ABC REJECT x\n", "abc REJECT x\n", 0, "ABC\n",
         "abc REJECT x\n"},
        {"a tab separates a key too", "a\tREJECT x\n", "a\tREJECT x\nb\tOK\n", 0, "", "b\tOK\n"},
        {"no newline at the end", "a REJECT x", "a REJECT x\nb REJECT x", 0, "", "b REJECT x\n"},
        {"added and removed at once", "10.0.0.1 REJECT x\n10.0.0.2 REJECT x\n",
         "10.0.0.2 REJECT x\n10.0.0.3 REJECT x\n# 1 network ban in cidr:/x (0123)\n", 0, "10.0.0.1\n",
         "10.0.0.3 REJECT x\n"},
        {"IPv6 keys", "2001:db8::1 REJECT x\n", "2001:db8::2 REJECT x\n", 0, "2001:db8::1\n",
         "2001:db8::2 REJECT x\n"},
        {"a continuation line is refused", "a REJECT\n  x\n", "a REJECT x\n", -EINVAL, NULL, NULL},
        {"a continuation line in new too", "a REJECT x\n", "a REJECT\n\tx\n", -EINVAL, NULL, NULL},
        {"a key without a value is refused", "a REJECT x\n", "a REJECT x\nb\n", -EINVAL, NULL, NULL},
        {"a key with only white space after it", "a REJECT x\n", "b  \n", -EINVAL, NULL, NULL},
        {"a key outside ASCII is refused", "", "\xc3\xa9t\xc3\xa9 REJECT x\n", -EINVAL, NULL, NULL},
        {"a value outside ASCII is fine", "", "a REJECT \xc3\xa9t\xc3\xa9\n", 0, "",
         "a REJECT \xc3\xa9t\xc3\xa9\n"},
        {"a key twice in old", "a REJECT x\na REJECT y\n", "a REJECT x\n", -EINVAL, NULL, NULL},
        {"a key twice in new", "", "a REJECT x\nA REJECT y\n", -EINVAL, NULL, NULL},
        {"a key twice in new, once in old", "a REJECT x\n", "a REJECT x\na REJECT x\n", -EINVAL, NULL, NULL},
        {"a key added in the middle that the common lines have", "a R x\nz R x\n",
         "a R x\nq R q\na R y\nz R x\n", -EINVAL, NULL, NULL},
        {"a key deleted in the middle that the common lines have up to case", "k R x\nm R x\nK R y\n",
         "k R x\nn R x\n", -EINVAL, NULL, NULL},
        {"a continuation line in the common lines", "a R x\n  b\nc R x\n", "a R x\n  b\nc R x\nd R x\n",
         -EINVAL, NULL, NULL},
        {"the middle only", "a R x\nb R x\nc R x\n", "a R x\nB R y\nc R x\n", 0, "b\n", "B R y\n"},
        {"a line cut short is no common line", "a R xy\n", "a R x\n", 0, "a\n", "a R x\n"},
        {"a longer last line", "a R x\nb R x\n", "a R x\nb R xx\n", 0, "b\n", "b R xx\n"},
        {"common tail that is not a whole line", "a R x\nb R yz\n", "a R x\nc R z\n", 0, "b\n", "c R z\n"},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                MapDiff d;
                int r = mapdiff(cases[i].old, strlen(cases[i].old), cases[i].new, strlen(cases[i].new), &d);

                CHECK_INT(r, cases[i].r, cases[i].name);
                if (r == 0 && cases[i].r == 0) {
                        buf_append(&d.dels, "", 1);
                        buf_append(&d.adds, "", 1);
                        CHECK_STR(d.dels.data, cases[i].dels, cases[i].name);
                        CHECK_STR(d.adds.data, cases[i].adds, cases[i].name);
                }
                mapdiff_free(&d);
        }

        /* Many lines: every change found, nothing more (the table grows as it fills). */
        {
                Buf old = {0}, new = {0};
                MapDiff d;
                size_t n = 50000;

                for (size_t i = 0; i < n; i++)
                        buf_printf(&old, "10.%zu.%zu.%zu REJECT x\n", i >> 16 & 255, i >> 8 & 255, i & 255);
                for (size_t i = n / 2; i < n + 100; i++) /* the first half gone, 100 new */
                        buf_printf(&new, "10.%zu.%zu.%zu REJECT x\n", i >> 16 & 255, i >> 8 & 255, i & 255);
                CHECK_INT(mapdiff(old.data, old.len, new.data, new.len, &d), 0, "many");
                CHECK_INT(d.n_dels, n / 2, "many: deletions");
                CHECK_INT(d.n_adds, 100, "many: additions");
                CHECK_INT(d.n_old, n, "many: old entries");
                CHECK_INT(d.n_new, n / 2 + 100, "many: new entries");
                mapdiff_free(&d);
                buf_free(&old);
                buf_free(&new);
        }

        /* One ban more at the end and one less in the middle: only those lines go through the table. */
        {
                Buf old = {0}, new = {0};
                MapDiff d;
                size_t n = 100000;

                for (size_t i = 0; i < n; i++)
                        buf_printf(&old, "10.%zu.%zu.%zu REJECT x\n", i >> 16 & 255, i >> 8 & 255, i & 255);
                for (size_t i = 0; i <= n; i++)
                        if (i != n / 3)
                                buf_printf(&new, "10.%zu.%zu.%zu REJECT x\n", i >> 16 & 255, i >> 8 & 255,
                                           i & 255);
                CHECK_INT(mapdiff(old.data, old.len, new.data, new.len, &d), 0, "trimmed");
                buf_append(&d.dels, "", 1);
                buf_append(&d.adds, "", 1);
                CHECK_STR(d.dels.data, "10.0.130.53\n", "trimmed: deletions");
                CHECK_STR(d.adds.data, "10.1.134.160 REJECT x\n", "trimmed: additions");
                CHECK_INT(d.n_old, n, "trimmed: old entries");
                CHECK_INT(d.n_new, n, "trimmed: new entries");
                mapdiff_free(&d);
                buf_free(&old);
                buf_free(&new);
        }
        return check_done();
}
