/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The text of the access(5) map: the admin's lines and our managed block.
 *
 *   # BEGIN postfix-autoblacklist ...
 *   203.0.113.7 REJECT Blocked by postfix-autoblacklist
 *   # END postfix-autoblacklist
 *   ...the admin's lines, untouched...
 *
 * Every byte outside the block is the admin's and is written back as it
 * was.  A new block goes at the top, above the admin's OK entries; an
 * existing block stays where it is.  Pure: no I/O here.
 */

#include <stdbool.h>
#include <stddef.h>

#include "util/addr.h"
#include "util/util.h"

#define MAP_BEGIN "# BEGIN postfix-autoblacklist"
#define MAP_END "# END postfix-autoblacklist"

typedef struct MapText {
        const char *before; /* admin text before our block */
        size_t before_len;
        const char *after; /* admin text after our block */
        size_t after_len;
        bool has_block;
        size_t block_entries; /* entry lines found inside our block */
} MapText;

/* Split text around our block.  -EBADMSG if the markers do not pair up. */
int mapfile_split(const char *text, size_t len, MapText *out);

typedef struct AdminKeys AdminKeys;

/* The keys of the admin's lines (outside our block), with their actions. */
AdminKeys *adminkeys_parse(const MapText *mt);
AdminKeys *adminkeys_free(AdminKeys *k);

typedef enum AdminVerdict {
        ADMIN_NONE,   /* no admin key decides this lookup */
        ADMIN_PERMIT, /* OK, RELAY, all-numerical, permit, permit_*: never ban */
        ADMIN_OTHER,  /* the admin has an entry of their own (REJECT, DUNNO, ...) */
} AdminVerdict;

/*
 * What the admin's lines say for an access map lookup of key (an address,
 * or a network key as we write it): the first of key, then key with its
 * last ".octet" / ":octetpair" cut off again and again, that the admin
 * has, decides -- as smtpd does.
 */
AdminVerdict adminkeys_lookup(const AdminKeys *k, const char *key);
/* Does the admin have exactly this key (so that ours would duplicate it)? */
bool adminkeys_has(const AdminKeys *k, const char *key);

/*
 * The access(5) key for a ban: the address for a host; for an IPv4
 * network on an octet boundary, its leading octets ("192.0.2"); for an
 * IPv6 network on a 16-bit boundary, its leading octet pairs
 * ("2001:db8:1:2").  Returns -EDOM when smtpd's lookups could not match
 * every address of the network with one key (see mapfile.c).
 */
int mapfile_key(const Addr *a, unsigned plen, char *buf, size_t size);

typedef enum MapKeyFamily {
        MAPKEY_V4,   /* only IPv4 lookups reach it ("192.0.2") */
        MAPKEY_V6,   /* only IPv6 lookups ("2001:db8") */
        MAPKEY_BOTH, /* a bare number up to 255: an IPv4 /8 and an IPv6 /16 ("10") */
} MapKeyFamily;

/* Which lookups can reach this access(5) key (as we write keys). */
MapKeyFamily mapfile_key_family(const char *key);
/*
 * The other family's network that lookups of key (net's key) reach too:
 * for a bare number up to 255, "127" is 127.0.0.0/8 for an IPv4 client
 * and 127::/16 for an IPv6 one.  1 with *out, or 0.
 */
size_t mapfile_key_reach(const Addr *net, const char *key, Cidr *out);
/*
 * Why the admin's lines accept net (an address, or a network whose key
 * is key), as smtpd would look it up: "accepted by the access map", or
 * NULL.  key NULL: net's address text (a host, or a network without a
 * key of its own, whose admin keys that cover its address cover it).
 */
const char *adminkeys_exempts(const AdminKeys *k, const Addr *net, const char *key);

/* The file suffix postmap gives the indexed map of type ("hash": ".db"); NULL: a type we do not write. */
const char *mapfile_suffix(const char *type);

/* The text of the whole map: mt's admin parts around the block of entries. */
void mapfile_render(Buf *out, const MapText *mt, const char *entries, size_t n_entries);
