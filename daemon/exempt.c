/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * exempt: the never-ban check, applied before a hit is even counted.
 *
 * The admin's OK entries are checked the way smtpd would look the client
 * up (mapfile.h: adminkeys_lookup), so "192.0.2 OK" protects 192.0.2.7,
 * and "2001:db8:1 OK" protects the whole of that prefix.
 */
#include "exempt.h"

#include <errno.h>
#include <stdlib.h>

#include "util.h"

void exempt_add(Exempt *e, const Cidr *c, const char *why)
{
        if (e->n == e->cap) {
                e->cap = e->cap ? e->cap * 2 : 8;
                e->v = xreallocarray(e->v, e->cap, sizeof(Cidr));
                e->why = xreallocarray(e->why, e->cap, sizeof(char *));
        }
        e->v[e->n] = *c;
        e->why[e->n] = why;
        e->n++;
}

size_t exempt_add_mynetworks(Exempt *e, const char *value, const char *why, Diags *skipped)
{
        _cleanup_strv_free_ char **items = split_list(value);
        size_t added = 0;

        for (size_t i = 0; items[i]; i++) {
                char *t = items[i], *close;
                Buf text = {0};
                Cidr c;
                int r;

                /* [IPv6 address] or [IPv6 address]/len */
                if (t[0] == '[' && (close = strchr(t, ']'))) {
                        buf_append(&text, t + 1, (size_t)(close - t - 1));
                        buf_puts(&text, close + 1);
                } else
                        buf_puts(&text, t);
                r = cidr_parse(text.data, &c);
                if (r == -EDOM) {
                        /* Postfix takes "192.0.2.1/24" as the network: so do we */
                        char *slash = strchr(text.data, '/');
                        Addr a;
                        if (slash && addr_parse(text.data, (size_t)(slash - text.data), &a) == 0) {
                                c.net = a;
                                c.v4 = addr_is_v4(&a);
                                c.plen = (uint8_t)atoi(slash + 1);
                                if (c.v4 && strchr(text.data, ':'))
                                        c.plen = (uint8_t)(c.plen - 96);
                                addr_mask(&c.net, c.plen);
                                r = 0;
                        }
                }
                if (r == 0) {
                        exempt_add(e, &c, why);
                        added++;
                } else if (skipped)
                        diags_add(skipped, NULL, 0, "%s", t);
                buf_free(&text);
        }
        return added;
}

void exempt_clear(Exempt *e)
{
        free(e->v);
        free(e->why);
        *e = (Exempt){0};
}

const char *exempt_reason(const Exempt *e, const AdminKeys *admin, const Addr *a)
{
        char key[ADDR_STRLEN];

        if (addr_is_loopback(a))
                return "loopback";
        for (size_t i = 0; i < e->n; i++)
                if (cidr_contains(&e->v[i], a))
                        return e->why[i];
        if (admin && adminkeys_lookup(admin, addr_format(a, key)) == ADMIN_PERMIT)
                return "OK in the access map";
        return NULL;
}

const char *exempt_reason_net(const Exempt *e, const AdminKeys *admin, const Addr *net, unsigned plen,
                              const char *key)
{
        Cidr c = {.net = *net, .plen = (uint8_t)plen, .v4 = addr_is_v4(net)};

        /* An IPv4 network with a key (a /8 or longer) holds loopback iff its
           address does; an IPv6 one that holds ::1 starts with '::', which
           has no key (mapfile_key). */
        if (addr_is_loopback(net))
                return "loopback";
        for (size_t i = 0; i < e->n; i++) {
                /* overlap either way: one contains the other's network address */
                Cidr *x = &e->v[i];
                if (x->v4 != c.v4)
                        continue;
                if (cidr_contains(x, &c.net) || cidr_contains(&c, &x->net))
                        return e->why[i];
        }
        if (admin && adminkeys_lookup(admin, key) == ADMIN_PERMIT)
                return "OK in the access map";
        return NULL;
}
