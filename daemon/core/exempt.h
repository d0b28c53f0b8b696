/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Addresses that are never banned, whatever the log says: loopback and
 * the lists given (the ignore list, mynetworks, this host's addresses,
 * private space).  Pure: plain addresses and networks.  What the admin's
 * own entries in a map accept is the backends' knowledge (backend.h:
 * backends_exempts()), asked after this.
 */

#include <stddef.h>

#include "util/addr.h"
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
/* NULL if a may be banned, else why not. */
const char *exempt_reason(const Exempt *e, const Addr *a);
/*
 * The same for a network ban that lookups reach as the n networks of
 * nets (its own, and for a key that both families reach, the other
 * family's: see the access map's reach): none may hold loopback or
 * overlap a protected network.
 */
const char *exempt_reason_nets(const Exempt *e, const Cidr *nets, size_t n);
/* Add private and shared address space (see exempt.c), as "private address space". */
void exempt_add_private(Exempt *e);
