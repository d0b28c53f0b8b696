/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Random inserts and removals, checked against a plain array. */
#include "check.h"
#include "util/htab.h"
#include "util/util.h"

#define N 5000

static uint64_t keys[N];
static bool present[N];

static uint64_t mix(uint64_t x)
{
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return x;
}

static uint64_t hash(const void *ctx, uint32_t e) { return ((const uint64_t *)ctx)[e] % 4093; /* collide often */ }
static bool equal(const void *ctx, uint32_t e, const void *key) { return ((const uint64_t *)ctx)[e] == *(const uint64_t *)key; }

int main(void)
{
        static const HTabOps ops = {equal};
        HTab t;
        uint64_t rnd = 1;
        size_t count = 0;

        htab_init(&t, &ops, keys);
        for (uint32_t i = 0; i < N; i++)
                keys[i] = mix(i + 1);
        for (int step = 0; step < 50000; step++) {
                uint32_t e;
                rnd = mix(rnd + (uint64_t)step);
                e = (uint32_t)(rnd % N);
                if (present[e]) {
                        htab_remove(&t, e, hash(keys, e));
                        present[e] = false;
                        count--;
                } else {
                        htab_insert(&t, e, hash(keys, e));
                        present[e] = true;
                        count++;
                }
                if (step % 997 == 0)
                        for (uint32_t k = 0; k < N; k++) {
                                uint32_t got = htab_find(&t, &keys[k], hash(keys, k));
                                CHECK(got == (present[k] ? k : HTAB_NONE), "step %d key %u: got %u", step, k, got);
                        }
        }
        CHECK_INT(t.count, count, "count");
        htab_free(&t);
        return check_done();
}
