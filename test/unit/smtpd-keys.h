/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * A model of the keys smtpd looks up for a client address in an indexed
 * access(5) table, in order: the address, then the address with its last
 * ".octet" (IPv4) or ":octetpair" (IPv6, compressed form) cut off, again
 * and again (smtpd_check.c, check_addr_access()).  The daemon does not
 * need it (backend/mapfile.c's adminkeys_lookup() walks the same way on
 * its own); the tests hold it as an independent oracle: test-addr checks
 * it against what Postfix does, fuzz-mapfile checks the daemon's network
 * keys against it.  Returns the count.
 */

#include <string.h>

#include "util/addr.h"

#define SMTPD_MAX_ACCESS_KEYS 10

static inline size_t smtpd_access_keys(const Addr *a, char keys[][ADDR_STRLEN], size_t max)
{
        char cur[ADDR_STRLEN];
        char delim = addr_is_v4(a) ? '.' : ':';
        size_t n = 0;

        addr_format(a, cur);
        for (;;) {
                char *p;
                if (cur[0] && n < max)
                        memcpy(keys[n++], cur, ADDR_STRLEN);
                p = strrchr(cur, delim);
                if (!p)
                        break;
                *p = '\0';
        }
        return n;
}
