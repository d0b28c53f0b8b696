/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * exempt: the never-ban check, applied before a hit is even counted.
 *
 * A network ban is compared as the networks a lookup of its key reaches,
 * which the caller gives: a backend knows its keys (a bare "127" in the
 * access map is reached from 127.0.0.1 and from 127::1, so both networks
 * must be free of protected addresses).  The admin's OK entries are the
 * backends' to check (backend.h), after this.
 *
 * Private and shared address space (RFC 1918, 100.64.0.0/10, fc00::/7,
 * link-local) is the LAN, a load balancer's health check or a container
 * gateway (every client of a Docker-published port can show up as
 * 172.17.0.1): the daemon adds it here unless ban_private is set.
 */
#include "core/exempt.h"

#include <errno.h>
#include <stdlib.h>

#include "util/util.h"

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

const char *exempt_reason(const Exempt *e, const Addr *a)
{
        if (addr_is_loopback(a))
                return "loopback";
        for (size_t i = 0; i < e->n; i++)
                if (cidr_contains(&e->v[i], a))
                        return e->why[i];
        return NULL;
}

const char *exempt_reason_nets(const Exempt *e, const Cidr *nets, size_t n)
{
        Addr v4_loop, v6_loop;

        addr_parse_str("127.0.0.1", &v4_loop);
        addr_parse_str("::1", &v6_loop);
        for (size_t k = 0; k < n; k++) {
                const Cidr *c = &nets[k];
                if (cidr_contains(c, c->v4 ? &v4_loop : &v6_loop))
                        return "loopback";
                for (size_t i = 0; i < e->n; i++) {
                        /* overlap either way: one contains the other's network address */
                        const Cidr *x = &e->v[i];
                        if (x->v4 != c->v4)
                                continue;
                        if (cidr_contains(x, &c->net) || cidr_contains(c, &x->net))
                                return e->why[i];
                }
        }
        return NULL;
}

/* RFC 1918, RFC 6598 shared space, RFC 4193 unique local, link-local. */
static const char *const private_nets[] = {
        "10.0.0.0/8",     "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
        "169.254.0.0/16", "fc00::/7",      "fe80::/10",
};

void exempt_add_private(Exempt *e)
{
        for (size_t i = 0; i < sizeof(private_nets) / sizeof(private_nets[0]); i++) {
                Cidr c;
                if (cidr_parse(private_nets[i], &c) == 0)
                        exempt_add(e, &c, "private address space");
        }
}
