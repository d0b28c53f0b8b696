/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * hash: FNV-1a 64.  The constants are the published ones, so that hashes
 * saved in a state file stay valid across versions.
 */
#include "util/hash.h"

uint64_t fnv1a(const void *data, size_t len)
{
        const uint8_t *p = data;
        uint64_t h = 14695981039346656037ULL;

        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 1099511628211ULL;
        return h;
}
