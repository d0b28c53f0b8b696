/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Addresses that are never banned, whatever the log says: loopback, the
 * configured ignore list, and anything the admin's part of the map
 * accepts (OK or all-numerical).  Pure: the lists are given.
 */

#include <stddef.h>

#include "util/addr.h"
#include "backend/mapfile.h"
#include "util/util.h"

typedef struct Exempt {
        Cidr *v;
        const char **why; /* per entry: "ignore list", ... */
        size_t n, cap;
} Exempt;

void exempt_add(Exempt *e, const Cidr *c, const char *why);
/*
 * Add the networks of a Postfix mynetworks value, such as
 * "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 192.0.2.0/24".  Entries
 * that are files or tables ("/etc/postfix/nets", "hash:...") cannot be read
 * here and are given back in skipped.  Returns the number added.
 */
size_t exempt_add_mynetworks(Exempt *e, const char *value, const char *why, Diags *skipped);
void exempt_clear(Exempt *e);
/*
 * NULL if a may be banned, else why not.  admin may be NULL (the map
 * could not be read).
 */
const char *exempt_reason(const Exempt *e, const AdminKeys *admin, const Addr *a);
/*
 * The same for a network ban: may (net, plen) with access(5) key be
 * banned?  key NULL: the network has no key of its own (it goes into a
 * cidr: map).  A key that lookups of both families reach ("127") is
 * checked against both networks.
 */
const char *exempt_reason_net(const Exempt *e, const AdminKeys *admin, const Addr *net, unsigned plen,
                              const char *key);
/* Add private and shared address space (see exempt.c), as "private address space". */
void exempt_add_private(Exempt *e);
