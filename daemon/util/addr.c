/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * addr: IPv4/IPv6 client addresses as 16-byte keys.
 *
 * Security: the text given to addr_parse() comes from log lines that a
 * remote client partly controls.  Only what inet_pton() accepts is an
 * address; there is no lenient parsing (no zone ids, no leading zeros that
 * inet_aton would read as octal, no brackets).
 */
#include "util/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool addr_is_v4(const Addr *a) { return memcmp(a->b, v4mapped_prefix, 12) == 0; }

/*
 * Dotted-quad IPv4 as glibc's inet_pton(AF_INET) reads it (four decimal
 * octets up to 255, no leading zeros), without the copy to a C string:
 * it runs for every matched line.
 */
static bool parse_v4(const char *s, size_t len, uint8_t out[4])
{
        unsigned v = 0, octets = 0;
        bool digit = false;

        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c >= '0' && c <= '9') {
                        if (digit && v == 0)
                                return false; /* a leading zero */
                        v = v * 10 + (unsigned)(c - '0');
                        if (v > 255)
                                return false;
                        if (!digit && ++octets > 4)
                                return false;
                        digit = true;
                } else if (c == '.' && digit && octets < 4) {
                        out[octets - 1] = (uint8_t)v;
                        v = 0;
                        digit = false;
                } else
                        return false;
        }
        if (octets < 4 || !digit)
                return false;
        out[3] = (uint8_t)v;
        return true;
}

int addr_parse(const char *s, size_t len, Addr *out)
{
        char tmp[ADDR_STRLEN];
        Addr a;

        if (len > 0 && len <= 15 && !memchr(s, ':', len)) {
                if (!parse_v4(s, len, a.b + 12))
                        return -EINVAL;
                memcpy(a.b, v4mapped_prefix, 12);
                *out = a;
                return 0;
        }
        /* a NUL inside would end the text for inet_pton(), which then reads only its start */
        if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len))
                return -EINVAL;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        if (memchr(tmp, ':', len)) {
                if (inet_pton(AF_INET6, tmp, a.b) != 1)
                        return -EINVAL;
        } else {
                memcpy(a.b, v4mapped_prefix, 12);
                if (inet_pton(AF_INET, tmp, a.b + 12) != 1)
                        return -EINVAL;
        }
        *out = a;
        return 0;
}

bool addr_is_loopback(const Addr *a)
{
        static const uint8_t v6_loopback[16] = {[15] = 1};

        if (addr_is_v4(a))
                return a->b[12] == 127;
        return memcmp(a->b, v6_loopback, 16) == 0;
}

bool addr_equal(const Addr *a, const Addr *b) { return memcmp(a->b, b->b, 16) == 0; }

/* IPv4 sorts before IPv6, then numeric order within a family. */
int addr_compare(const Addr *a, const Addr *b)
{
        bool a4 = addr_is_v4(a), b4 = addr_is_v4(b);

        if (a4 != b4)
                return a4 ? -1 : 1;
        return memcmp(a->b, b->b, 16);
}

static char *put_dec(char *p, unsigned v)
{
        if (v >= 100)
                *p++ = (char)('0' + v / 100);
        if (v >= 10)
                *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        return p;
}

static char *put_v4(char *p, const uint8_t *b)
{
        for (int i = 0; i < 4; i++) {
                if (i)
                        *p++ = '.';
                p = put_dec(p, b[i]);
        }
        return p;
}

/*
 * The text form, exactly as glibc's inet_ntop() writes it (smtpd logs and
 * looks up that form): for IPv6, lowercase hex without leading zeros, the
 * longest run of two or more zero pairs (the first, on a tie) as "::", and
 * the last 32 bits as a dotted quad for ::a.b.c.d and ::ffff:a.b.c.d.
 * Written by hand because inet_ntop() formats with sprintf(), which cost
 * a fifth of the time of --test on a large log.
 */
char *addr_format(const Addr *a, char *buf)
{
        static const char hex[] = "0123456789abcdef";
        uint16_t w[8];
        int best = -1, best_len = 0, cur = -1, cur_len = 0;
        char *p = buf;

        if (addr_is_v4(a)) {
                *put_v4(p, a->b + 12) = '\0';
                return buf;
        }
        for (int i = 0; i < 8; i++) {
                w[i] = (uint16_t)(a->b[2 * i] << 8 | a->b[2 * i + 1]);
                if (w[i] == 0) {
                        if (cur < 0) {
                                cur = i;
                                cur_len = 0;
                        }
                        if (++cur_len > best_len) {
                                best = cur;
                                best_len = cur_len;
                        }
                } else
                        cur = -1;
        }
        if (best_len < 2)
                best = -1;
        for (int i = 0; i < 8; i++) {
                if (best >= 0 && i >= best && i < best + best_len) {
                        if (i == best)
                                *p++ = ':';
                        continue;
                }
                if (i)
                        *p++ = ':';
                /* ::a.b.c.d (IPv4-compatible) and ::ffff:a.b.c.d, as glibc prints them */
                if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
                        p = put_v4(p, a->b + 12);
                        break;
                }
                {
                        bool started = false;
                        for (int shift = 12; shift >= 0; shift -= 4) {
                                unsigned d = (w[i] >> shift) & 0xf;
                                if (d || started || shift == 0) {
                                        *p++ = hex[d];
                                        started = true;
                                }
                        }
                }
        }
        if (best >= 0 && best + best_len == 8)
                *p++ = ':';
        *p = '\0';
        return buf;
}

void addr_mask(Addr *a, unsigned plen)
{
        unsigned bits = addr_is_v4(a) ? 96 + plen : plen;

        for (unsigned i = 0; i < 16; i++) {
                if (bits >= 8) {
                        bits -= 8;
                        continue;
                }
                a->b[i] &= (uint8_t)(0xff00u >> bits);
                bits = 0;
        }
}

int cidr_parse(const char *s, Cidr *out)
{
        const char *slash = strchr(s, '/');
        size_t alen = slash ? (size_t)(slash - s) : strlen(s);
        unsigned long plen;
        Cidr c = {0};
        Addr masked;

        bool mapped_text;

        if (addr_parse(s, alen, &c.net) < 0)
                return -EINVAL;
        c.v4 = addr_is_v4(&c.net);
        /* "::ffff:192.0.2.0/120" is the IPv4 network 192.0.2.0/24 */
        mapped_text = c.v4 && memchr(s, ':', alen);
        if (slash) {
                char *end;
                if (slash[1] < '0' || slash[1] > '9')
                        return -EINVAL;
                errno = 0;
                plen = strtoul(slash + 1, &end, 10);
                if (errno || *end)
                        return -EINVAL;
                if (mapped_text) {
                        if (plen < 96 || plen > 128)
                                return -EINVAL;
                        plen -= 96;
                }
                if (plen > (c.v4 ? 32u : 128u))
                        return -EINVAL;
        } else
                plen = c.v4 ? 32 : 128;
        c.plen = (uint8_t)plen;
        masked = c.net;
        addr_mask(&masked, c.plen);
        if (!addr_equal(&masked, &c.net))
                return -EDOM; /* host bits set: probably a typo */
        *out = c;
        return 0;
}

bool cidr_contains(const Cidr *c, const Addr *a)
{
        Addr m;

        if (c->v4 != addr_is_v4(a))
                return false;
        m = *a;
        addr_mask(&m, c->plen);
        return addr_equal(&m, &c->net);
}

char *cidr_format(const Cidr *c, char *buf)
{
        char a[ADDR_STRLEN];

        snprintf(buf, CIDR_STRLEN, "%s/%u", addr_format(&c->net, a), c->plen);
        return buf;
}

/* --- SipHash-2-4 (Aumasson, Bernstein), for a 16-byte message --------- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
        do {                                                                   \
                v0 += v1;                                                      \
                v1 = ROTL(v1, 13);                                             \
                v1 ^= v0;                                                      \
                v0 = ROTL(v0, 32);                                             \
                v2 += v3;                                                      \
                v3 = ROTL(v3, 16);                                             \
                v3 ^= v2;                                                      \
                v0 += v3;                                                      \
                v3 = ROTL(v3, 21);                                             \
                v3 ^= v0;                                                      \
                v2 += v1;                                                      \
                v1 = ROTL(v1, 17);                                             \
                v1 ^= v2;                                                      \
                v2 = ROTL(v2, 32);                                             \
        } while (0)

static uint64_t load_le64(const uint8_t *p)
{
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

uint64_t addr_hash(const Addr *a, const uint8_t key[16])
{
        uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
        uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
        uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
        uint64_t m, b = (uint64_t)16 << 56;

        for (int i = 0; i < 2; i++) {
                m = load_le64(a->b + 8 * i);
                v3 ^= m;
                SIPROUND;
                SIPROUND;
                v0 ^= m;
        }
        v3 ^= b;
        SIPROUND;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}
