/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Client addresses.  An Addr is 16 bytes in network order; IPv4 is stored
 * IPv4-mapped (::ffff:a.b.c.d), so one key type serves both families and
 * "::ffff:192.0.2.1" and "192.0.2.1" are the same client, as Postfix
 * treats them.  The text form is the one Postfix looks up in an access
 * map: dotted quad for IPv4, RFC 5952 (lowercase, compressed) for IPv6.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ADDR_STRLEN INET6_ADDRSTRLEN /* 46, includes the NUL */
#define CIDR_STRLEN (ADDR_STRLEN + 4)

typedef struct Addr {
        uint8_t b[16];
} Addr;

typedef struct Cidr {
        Addr net;     /* host bits are zero */
        uint8_t plen; /* in the family's own terms: 0..32 or 0..128 */
        bool v4;
} Cidr;

/* Parse an IPv4 or IPv6 address (not NUL-terminated: s, len). */
int addr_parse(const char *s, size_t len, Addr *out);
bool addr_is_v4(const Addr *a);
bool addr_is_loopback(const Addr *a);
bool addr_equal(const Addr *a, const Addr *b);
int addr_compare(const Addr *a, const Addr *b);
/* Canonical text form into buf (ADDR_STRLEN bytes); returns buf. */
char *addr_format(const Addr *a, char *buf);
/* Clear all bits after the first plen of the family (IPv4: 0..32). */
void addr_mask(Addr *a, unsigned plen);

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (a host). */
int cidr_parse(const char *s, Cidr *out);
bool cidr_contains(const Cidr *c, const Addr *a);
char *cidr_format(const Cidr *c, char *buf);

/* SipHash-2-4 of the address with a secret key (hash flooding defence). */
uint64_t addr_hash(const Addr *a, const uint8_t key[16]);

/* The prefix length of one host of a's family: 32 or 128. */
static inline uint8_t addr_host_plen(const Addr *a) { return addr_is_v4(a) ? 32 : 128; }
static inline bool cidr_is_host(const Cidr *c) { return c->plen == (c->v4 ? 32 : 128); }

static inline int addr_parse_str(const char *s, Addr *out) { return addr_parse(s, strlen(s), out); }
