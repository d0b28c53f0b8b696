/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <arpa/inet.h>
#include <errno.h>

#include "util/addr.h"
#include "check.h"
#include "smtpd-keys.h"

static const struct {
        const char *in;
        const char *canonical; /* NULL: invalid */
        int v4;
} parse_cases[] = {
        {"192.0.2.1", "192.0.2.1", 1},
        {"0.0.0.0", "0.0.0.0", 1},
        {"255.255.255.255", "255.255.255.255", 1},
        {"2001:DB8::1", "2001:db8::1", 0},
        {"2001:0db8:0000:0000:0000:0000:0000:0007", "2001:db8::7", 0},
        {"2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1", 0},
        {"::1", "::1", 0},
        {"::", "::", 0},
        {"::ffff:192.0.2.9", "192.0.2.9", 1}, /* IPv4-mapped is IPv4 */
        {"::FFFF:c000:0209", "192.0.2.9", 1},
        {"fe80::1:2", "fe80::1:2", 0},
        {"256.0.0.1", NULL, 0},
        {"1.2.3", NULL, 0},
        {"01.2.3.4", NULL, 0}, /* no octal */
        {"1.2.3.4 ", NULL, 0},
        {"[1.2.3.4]", NULL, 0},
        {"2001:db8::1%eth0", NULL, 0},
        {"2001:db8:::1", NULL, 0},
        {"", NULL, 0},
        {"unknown", NULL, 0},
};

static const struct {
        const char *cidr;
        int ok; /* 0 ok, else the error */
        const char *inside, *outside;
} cidr_cases[] = {
        {"192.0.2.0/24", 0, "192.0.2.200", "192.0.3.1"},
        {"10.0.0.0/8", 0, "10.255.1.1", "11.0.0.1"},
        {"0.0.0.0/0", 0, "203.0.113.7", "2001:db8::1"}, /* v4 /0 does not cover IPv6 */
        {"2001:db8::/32", 0, "2001:db8:ffff::1", "2001:db9::1"},
        {"::/0", 0, "2001:db8::1", "192.0.2.1"}, /* IPv6 /0 does not cover IPv4 */
        {"192.0.2.7", 0, "192.0.2.7", "192.0.2.8"},
        {"2001:db8::7", 0, "2001:db8::7", "2001:db8::8"},
        {"192.0.2.1/24", -EDOM, NULL, NULL},
        {"192.0.2.0/33", -EINVAL, NULL, NULL},
        {"2001:db8::/129", -EINVAL, NULL, NULL},
        {"192.0.2.0/", -EINVAL, NULL, NULL},
        {"192.0.2.0/x", -EINVAL, NULL, NULL},
        {"nonsense/8", -EINVAL, NULL, NULL},
        /* IPv4-mapped IPv6 networks are IPv4 networks */
        {"::ffff:192.0.2.0/120", 0, "192.0.2.99", "192.0.3.1"},
        {"::ffff:127.0.0.0/104", 0, "127.1.2.3", "128.0.0.1"},
        {"::ffff:192.0.2.0/95", -EINVAL, NULL, NULL},
};

static const struct {
        const char *addr;
        const char *keys[10];
} key_cases[] = {
        {"192.0.2.7", {"192.0.2.7", "192.0.2", "192.0", "192", NULL}},
        {"2001:db8:1:2::5", {"2001:db8:1:2::5", "2001:db8:1:2:", "2001:db8:1:2", "2001:db8:1", "2001:db8", "2001", NULL}},
        {"2001:db8::1:2:3:4", {"2001:db8::1:2:3:4", "2001:db8::1:2:3", "2001:db8::1:2", "2001:db8::1", "2001:db8:", "2001:db8", "2001", NULL}},
        {"::1", {"::1", ":", NULL}},
};

/* Texts of len bytes with a NUL inside: not an address, whatever precedes the NUL (found by fuzz-addr). */
static const struct {
        const char *in;
        size_t len;
} nul_cases[] = {
        {"::\0\0\0\0\0\0\0192.0.2.1", 18},
        {"192.0.2.1\0junk", 14},
        {"192.0.2.1\0", 10},
        {"2001:db8::1\0:", 13},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(nul_cases) / sizeof(nul_cases[0]); i++) {
                Addr a;
                CHECK_INT(addr_parse(nul_cases[i].in, nul_cases[i].len, &a), -EINVAL, nul_cases[i].in);
        }
        for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
                Addr a;
                char buf[ADDR_STRLEN];
                int r = addr_parse_str(parse_cases[i].in, &a);
                if (!parse_cases[i].canonical) {
                        CHECK(r < 0, "'%s': got accepted, want rejected", parse_cases[i].in);
                        continue;
                }
                CHECK(r == 0, "'%s': got rejected, want accepted", parse_cases[i].in);
                if (r < 0)
                        continue;
                CHECK_STR(addr_format(&a, buf), parse_cases[i].canonical, parse_cases[i].in);
                CHECK_INT(addr_is_v4(&a), parse_cases[i].v4, parse_cases[i].in);
        }

        for (size_t i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]); i++) {
                Cidr c;
                Addr in, out;
                int r = cidr_parse(cidr_cases[i].cidr, &c);
                CHECK_INT(r, cidr_cases[i].ok, cidr_cases[i].cidr);
                if (r < 0)
                        continue;
                addr_parse_str(cidr_cases[i].inside, &in);
                addr_parse_str(cidr_cases[i].outside, &out);
                CHECK(cidr_contains(&c, &in), "%s should contain %s", cidr_cases[i].cidr, cidr_cases[i].inside);
                CHECK(!cidr_contains(&c, &out), "%s should not contain %s", cidr_cases[i].cidr,
                      cidr_cases[i].outside);
        }

        {
                Addr a;
                addr_parse_str("127.0.0.53", &a);
                CHECK(addr_is_loopback(&a), "127.0.0.53 is loopback");
                addr_parse_str("::1", &a);
                CHECK(addr_is_loopback(&a), "::1 is loopback");
                addr_parse_str("::ffff:127.0.0.1", &a);
                CHECK(addr_is_loopback(&a), "::ffff:127.0.0.1 is loopback");
                addr_parse_str("128.0.0.1", &a);
                CHECK(!addr_is_loopback(&a), "128.0.0.1 is not loopback");
                addr_parse_str("::2", &a);
                CHECK(!addr_is_loopback(&a), "::2 is not loopback");
        }

        for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
                Addr a;
                char keys[SMTPD_MAX_ACCESS_KEYS][ADDR_STRLEN];
                size_t n, want = 0;
                addr_parse_str(key_cases[i].addr, &a);
                n = smtpd_access_keys(&a, keys, SMTPD_MAX_ACCESS_KEYS);
                while (key_cases[i].keys[want])
                        want++;
                CHECK_INT(n, want, key_cases[i].addr);
                for (size_t k = 0; k < n && k < want; k++)
                        CHECK_STR(keys[k], key_cases[i].keys[k], key_cases[i].addr);
        }

        /* The keyed hash depends on the key, and is stable for one key. */
        {
                uint8_t k1[16] = {1}, k2[16] = {2};
                Addr a;
                addr_parse_str("203.0.113.7", &a);
                CHECK(addr_hash(&a, k1) == addr_hash(&a, k1), "hash is deterministic");
                CHECK(addr_hash(&a, k1) != addr_hash(&a, k2), "hash depends on the key");
        }
        /* Sorting: IPv4 first, then numeric. */
        {
                Addr a, b, c;
                addr_parse_str("10.0.0.2", &a);
                addr_parse_str("10.0.0.10", &b);
                addr_parse_str("::1", &c);
                CHECK(addr_compare(&a, &b) < 0, "10.0.0.2 < 10.0.0.10");
                CHECK(addr_compare(&b, &c) < 0, "IPv4 sorts before IPv6");
        }
        /* addr_format() writes what inet_ntop() writes, for every shape of address. */
        {
                uint64_t x = 99;
                int diff = 0;
                for (int round = 0; round < 300000; round++) {
                        Addr a;
                        char want[ADDR_STRLEN], got[ADDR_STRLEN];
                        for (int i = 0; i < 16; i++) {
                                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                                /* mostly zero pairs, so that runs of every length occur */
                                a.b[i] = (x >> 60) < 10 ? 0 : (uint8_t)(x >> 33);
                        }
                        if (round % 7 == 0)
                                memset(a.b, 0, 10 + (round % 3)); /* ::x, ::ffff:x and mapped shapes */
                        if (round % 7 == 0 && round % 2)
                                a.b[10] = a.b[11] = 0xff;
                        addr_format(&a, got);
                        if (addr_is_v4(&a))
                                inet_ntop(AF_INET, a.b + 12, want, sizeof(want));
                        else
                                inet_ntop(AF_INET6, a.b, want, sizeof(want));
                        if (strcmp(got, want) != 0 && diff++ < 10)
                                CHECK(false, "format: got %s want %s", got, want);
                }
                CHECK_INT(diff, 0, "differences from inet_ntop");
                static const char *fixed[] = {"::", "::1", "::2:3", "1::", "1:0:0:2::3", "1::2:0:0:3", "0:1:0:1:0:1:0:1",
                                              "::1.2.3.4", "::ffff:0:1.2.3.4", "fe80::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::"};
                for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
                        Addr a;
                        char got[ADDR_STRLEN], want[ADDR_STRLEN];
                        inet_pton(AF_INET6, fixed[i], a.b);
                        inet_ntop(AF_INET6, a.b, want, sizeof(want));
                        if (!addr_is_v4(&a))
                                CHECK_STR(addr_format(&a, got), want, fixed[i]);
                }
        }
        /* IPv4 text is read by hand (the matched-line path): as inet_pton() reads it, everywhere */
        {
                static const char alphabet[] = "0123456789..2";
                uint64_t x = 99;
                int diff = 0;
                for (int round = 0; round < 300000; round++) {
                        char text[20];
                        size_t n;
                        Addr a;
                        uint8_t want[4];
                        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                        n = 1 + (x >> 33) % 17;
                        for (size_t i = 0; i < n; i++) {
                                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                                text[i] = alphabet[(x >> 35) % (sizeof(alphabet) - 1)];
                        }
                        text[n] = '\0';
                        int got = addr_parse(text, n, &a), ok = inet_pton(AF_INET, text, want);
                        if ((got == 0) != (ok == 1) || (ok == 1 && (!addr_is_v4(&a) || memcmp(a.b + 12, want, 4) != 0)))
                                if (diff++ < 5)
                                        CHECK(false, "addr_parse('%s') = %d, inet_pton %d", text, got, ok);
                }
                CHECK_INT(diff, 0, "IPv4 differences from inet_pton");
                for (const char *const *t = (const char *const[]){"1.2.3.4", "0.0.0.0", "255.255.255.255", "01.2.3.4",
                                                                    "1.2.3", "1.2.3.4.", ".1.2.3.4", "1..2.3", "256.1.1.1",
                                                                    "1.2.3.4.5", NULL};
                     *t; t++) {
                        Addr a;
                        uint8_t want[4];
                        CHECK_INT(addr_parse(*t, strlen(*t), &a) == 0, inet_pton(AF_INET, *t, want) == 1, *t);
                }
        }
        return check_done();
}
