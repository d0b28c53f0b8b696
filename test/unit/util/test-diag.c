/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/diag: "file:line: message" items, printed one a line. */
#include "check.h"
#include "util/diag.h"

int main(void)
{
        {
                Diags d = {0};
                char *text = NULL;
                size_t len = 0;
                FILE *f;

                diags_add(&d, "a.conf", 3, "unknown key '%s'", "x");
                diags_add(&d, "a.conf", 0, "cannot open: %s", "No such file");
                diags_add(&d, NULL, 7, "no file: line %d ignored", 7);
                CHECK_INT(d.n, 3, "three items");
                CHECK_STR(d.items[0], "a.conf:3: unknown key 'x'", "file and line");
                CHECK_STR(d.items[1], "a.conf: cannot open: No such file", "file only");
                CHECK_STR(d.items[2], "no file: line 7 ignored", "neither");
                f = open_memstream(&text, &len);
                diags_print(f, &d, "warning: ");
                fclose(f);
                CHECK_STR(text,
                          "warning: a.conf:3: unknown key 'x'\nwarning: a.conf: cannot open: No such file\n"
                          "warning: no file: line 7 ignored\n",
                          "diags_print");
                free(text);
                diags_free(&d);
                CHECK(d.items == NULL && d.n == 0, "diags_free resets");
        }
        return check_done();
}
