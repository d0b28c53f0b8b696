/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the address and CIDR parser (addr.c) against glibc.
 *
 * - addr_parse() accepts exactly what inet_pton() accepts (AF_INET6 if
 *   the text has a ':', else AF_INET), as a text of len bytes without a
 *   NUL inside, and gives the same bytes (IPv4 mapped to ::ffff:0:0/96).
 * - addr_format() writes what inet_ntop() writes (IPv4 and IPv4-mapped
 *   addresses as a dotted quad), for the parsed address and for the
 *   first 16 bytes of the input taken as an address; the text parses
 *   back to the same address.
 * - cidr_parse(): a network it accepts has no host bits, contains its
 *   own address, formats and parses back to itself, and its address part
 *   is one inet_pton() accepts; the lookup keys (smtpd_access_keys) are
 *   the address text and its cut-off prefixes.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "util/addr.h"
#include "fuzz.h"
#include "../unit/smtpd-keys.h"
#include "util/util.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void check_format(const Addr *a)
{
        char got[ADDR_STRLEN], want[INET6_ADDRSTRLEN];
        Addr back;

        addr_format(a, got);
        if (addr_is_v4(a))
                FUZZ_CHECK(inet_ntop(AF_INET, a->b + 12, want, sizeof(want)), "inet_ntop");
        else
                FUZZ_CHECK(inet_ntop(AF_INET6, a->b, want, sizeof(want)), "inet_ntop");
        FUZZ_CHECK(streq(got, want), "addr_format '%s', inet_ntop '%s'", got, want);
        FUZZ_CHECK(addr_parse_str(got, &back) == 0 && addr_equal(&back, a), "'%s' does not parse back", got);

        {
                char keys[SMTPD_MAX_ACCESS_KEYS][ADDR_STRLEN];
                size_t n = smtpd_access_keys(a, keys, SMTPD_MAX_ACCESS_KEYS);
                FUZZ_CHECK(n >= 1 && streq(keys[0], got), "the first access key of %s", got);
                for (size_t i = 1; i < n; i++) {
                        size_t l = strlen(keys[i]);
                        FUZZ_CHECK(l && l < strlen(keys[i - 1]) && !strncmp(keys[i], got, l) &&
                                           (got[l] == '.' || got[l] == ':'),
                                   "access key %zu of %s: '%s'", i, got, keys[i]);
                }
        }
}

static void check_cidr(const char *s)
{
        char text[CIDR_STRLEN];
        Cidr c, back;
        Addr m;
        int r = cidr_parse(s, &c);

        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EDOM, "r=%d", r);
        if (r < 0)
                return;
        {
                const char *slash = strchr(s, '/');
                char a[INET6_ADDRSTRLEN + 1];
                uint8_t b[16];
                size_t alen = slash ? (size_t)(slash - s) : strlen(s);
                FUZZ_CHECK(alen < sizeof(a), "an address part of %zu bytes", alen);
                memcpy(a, s, alen);
                a[alen] = '\0';
                FUZZ_CHECK(inet_pton(strchr(a, ':') ? AF_INET6 : AF_INET, a, b) == 1, "inet_pton refuses '%s'", a);
        }
        FUZZ_CHECK(c.plen <= (c.v4 ? 32 : 128), "/%u", c.plen);
        FUZZ_CHECK(c.v4 == addr_is_v4(&c.net), "v4 flag");
        m = c.net;
        addr_mask(&m, c.plen);
        FUZZ_CHECK(addr_equal(&m, &c.net), "host bits set");
        FUZZ_CHECK(cidr_contains(&c, &c.net), "does not contain its address");
        cidr_format(&c, text);
        FUZZ_CHECK(cidr_parse(text, &back) == 0 && addr_equal(&back.net, &c.net) && back.plen == c.plen &&
                           back.v4 == c.v4,
                   "'%s' does not parse back", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *s = xstrndup((const char *)data, size);
        bool has_nul = memchr(data, '\0', size) != NULL;
        Addr a, raw;
        uint8_t want[16];
        int r, w;

        /* addr_parse(), against inet_pton() */
        r = addr_parse((const char *)data, size, &a);
        if (has_nul || size == 0 || size >= ADDR_STRLEN)
                w = 0;
        else if (strchr(s, ':'))
                w = inet_pton(AF_INET6, s, want);
        else {
                memcpy(want, v4mapped, 12);
                w = inet_pton(AF_INET, s, want + 12);
        }
        FUZZ_CHECK((r == 0) == (w == 1), "addr_parse %d, inet_pton %d for '%s'", r, w, s);
        if (r == 0) {
                FUZZ_CHECK(!memcmp(a.b, want, 16), "addr_parse and inet_pton give other bytes for '%s'", s);
                check_format(&a);
        }

        /* any 16 bytes, formatted */
        if (size >= 16) {
                memcpy(raw.b, data, 16);
                check_format(&raw);
                /* and as IPv4 */
                memcpy(raw.b, v4mapped, 12);
                check_format(&raw);
        }

        check_cidr(s);
        return 0;
}
