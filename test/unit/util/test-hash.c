/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/hash: FNV-1a 64 against its published test vectors. */
#include "check.h"
#include "util/hash.h"

int main(void)
{
        /* FNV-1a 64: the published test vectors, so that saved hashes stay valid */
        CHECK(fnv1a("", 0) == 0xcbf29ce484222325ULL, "fnv1a of nothing");
        CHECK(fnv1a("a", 1) == 0xaf63dc4c8601ec8cULL, "fnv1a of 'a'");
        CHECK(fnv1a("foobar", 6) == 0x85944171f73967e8ULL, "fnv1a of 'foobar'");
        return check_done();
}
