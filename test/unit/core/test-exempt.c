/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The never-ban check: loopback, lists, mynetworks values (the admin's OK: test-backend.c). */
#include "check.h"
#include "core/exempt.h"

static Addr A(const char *s)
{
        Addr a;
        addr_parse_str(s, &a);
        return a;
}

int main(void)
{
        Exempt e = {0};
        Diags skipped = {0};
        Cidr c;
        size_t n;

        /* Postfix's own mynetworks syntax, as postconf prints it */
        n = exempt_add_mynetworks(&e,
                                  "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 192.0.2.1/24, "
                                  "[2001:db8:77::]/48 198.51.100.7 /etc/postfix/mynets hash:/etc/postfix/nets",
                                  "mynetworks", &skipped);
        CHECK_INT(n, 6, "networks read");
        CHECK_INT(skipped.n, 2, "files and tables skipped");
        CHECK(skipped.n == 2 && streq(skipped.items[0], "/etc/postfix/mynets") &&
                      streq(skipped.items[1], "hash:/etc/postfix/nets"),
              "skipped entries are named");
        diags_free(&skipped);

        static const struct {
                const char *addr;
                const char *why; /* NULL: may be banned */
        } cases[] = {
                {"127.0.0.1", "loopback"},
                {"::1", "loopback"},
                {"192.0.2.200", "mynetworks"}, /* 192.0.2.1/24 taken as the network, as Postfix does */
                {"2001:db8:77:5::1", "mynetworks"},
                {"198.51.100.7", "mynetworks"},
                {"198.51.100.8", NULL},
                {"2001:db8:78::1", NULL},
                {"203.0.113.7", NULL}, /* the admin's OK is the access map's to say */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                Addr a = A(cases[i].addr);
                CHECK_STR(exempt_reason(&e, &a), cases[i].why, cases[i].addr);
        }
        /* Networks, as the networks their lookups reach: refused when one overlaps a protected range. */
        static const struct {
                const char *nets[2];
                const char *why;
                const char *what;
        } net_cases[] = {
                {{"2001:db8:77::/64"}, "mynetworks", "overlaps mynetworks"},
                {{"2001:db8:99:1::/64"}, NULL, "a network nobody protects"},
                {{"127.0.0.0/8"}, "loopback", "the loopback network"},
                {{"127::/16", "127.0.0.0/8"}, "loopback", "127::/16, whose key is also 127/8's"},
                {{"198::/16", "198.0.0.0/8"}, "mynetworks", "198::/16 reaches 198.51.100.7"},
                {{"2002::/16"}, NULL, "a network of its own"},
                {{"2001:db8::/32"}, "mynetworks", "a network that holds a protected one"},
        };
        for (size_t i = 0; i < sizeof(net_cases) / sizeof(net_cases[0]); i++) {
                Cidr nets[2];
                size_t k = 0;
                for (; k < 2 && net_cases[i].nets[k]; k++)
                        CHECK_INT(cidr_parse(net_cases[i].nets[k], &nets[k]), 0, net_cases[i].nets[k]);
                CHECK_STR(exempt_reason_nets(&e, nets, k), net_cases[i].why, net_cases[i].what);
        }
        /* exempt_add keeps its reason */
        cidr_parse("10.0.0.0/8", &c);
        exempt_add(&e, &c, "ignore list");
        {
                Addr a = A("10.1.2.3");
                CHECK_STR(exempt_reason(&e, &a), "ignore list", "10.1.2.3");
        }
        /* an IPv4 /8 whose key IPv6 lookups reach too: "16" is also 16::/16 */
        cidr_parse("16::/16", &c);
        exempt_add(&e, &c, "ignore v6");
        {
                Cidr nets[2];
                cidr_parse("10.0.0.0/8", &nets[0]);
                cidr_parse("10::/16", &nets[1]);
                CHECK_STR(exempt_reason_nets(&e, nets, 2), "ignore list", "10/8 itself");
                cidr_parse("16.0.0.0/8", &nets[0]);
                cidr_parse("16::/16", &nets[1]);
                CHECK_STR(exempt_reason_nets(&e, nets, 2), "ignore v6", "16/8 reaches 16::/16");
                CHECK_STR(exempt_reason_nets(&e, nets, 1), NULL, "16/8 alone");
        }
        exempt_clear(&e);
        {
                Addr a = A("10.1.2.3");
                CHECK_STR(exempt_reason(&e, &a), NULL, "after clear");
        }
        /* Private and shared address space (ban_private = no, the default). */
        exempt_add_private(&e);
        {
                static const struct {
                        const char *addr;
                        const char *why;
                } priv[] = {
                        {"10.1.2.3", "private address space"},    {"172.17.0.1", "private address space"},
                        {"172.31.255.255", "private address space"}, {"192.168.1.1", "private address space"},
                        {"100.64.0.1", "private address space"},  {"100.127.255.255", "private address space"},
                        {"169.254.10.1", "private address space"}, {"fd12:3456::1", "private address space"},
                        {"fc00::1", "private address space"},     {"fe80::1", "private address space"},
                        {"febf::1", "private address space"},     {"::ffff:192.168.0.9", "private address space"},
                        {"172.32.0.1", NULL},                     {"172.15.255.255", NULL},
                        {"100.128.0.1", NULL},                    {"100.63.255.255", NULL},
                        {"11.0.0.1", NULL},                       {"192.169.0.1", NULL},
                        {"fec0::1", NULL},                        {"fe00::1", NULL},
                        {"2001:db8::1", NULL},
                };
                for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
                        Addr a = A(priv[i].addr);
                        CHECK_STR(exempt_reason(&e, &a), priv[i].why, priv[i].addr);
                }
        }
        exempt_clear(&e);
        return check_done();
}
