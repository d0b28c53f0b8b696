/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/names: one id per distinct name. */
#include "check.h"
#include "util/names.h"

int main(void)
{
        /* names: one id per distinct name */
        {
                Names *n = names_new();
                uint16_t a = 0, b = 0, c = 0;
                CHECK(names_intern(n, "sasl", &a) == 0 && names_intern(n, "rbl", &b) == 0, "intern");
                CHECK(names_intern(n, "sasl", &c) == 0 && c == a && a != b, "the same name, the same id");
                CHECK_STR(names_get(n, b), "rbl", "names_get");
                CHECK_STR(names_get(n, 999), "?", "an unknown id");
                names_free(n);
        }
        return check_done();
}
