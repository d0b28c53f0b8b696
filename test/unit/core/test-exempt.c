/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The never-ban check: loopback, lists, mynetworks values, the admin's OK. */
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
                {"203.0.113.7", "accepted by the access map"},
                {"203.0.113.8", NULL}, /* the admin has it, but as REJECT: no protection */
                {"2001:db8:aa:bb::9", "accepted by the access map"},
        };
        {
                const char *text = "203.0.113.7 OK\n203.0.113.8 REJECT\n2001:db8:aa OK\n";
                MapText mt;
                AdminKeys *k;
                mapfile_split(text, strlen(text), &mt);
                k = adminkeys_parse(&mt);
                for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                        Addr a = A(cases[i].addr);
                        CHECK_STR(exempt_reason(&e, k, &a), cases[i].why, cases[i].addr);
                }
                /* Networks: refused when they overlap a protected range, or the admin's OK covers them. */
                Addr net = A("2001:db8:77::");
                CHECK(exempt_reason_net(&e, k, &net, 64, "2001:db8:77:0") != NULL, "overlaps mynetworks");
                net = A("2001:db8:aa:1::");
                CHECK_STR(exempt_reason_net(&e, k, &net, 64, "2001:db8:aa:1"), "accepted by the access map",
                          "inside the admin's OK network");
                net = A("2001:db8:99:1::");
                CHECK_STR(exempt_reason_net(&e, k, &net, 64, "2001:db8:99:1"), NULL, "a network nobody protects");
                net = A("127.0.0.0");
                CHECK_STR(exempt_reason_net(&e, k, &net, 8, "127"), "loopback", "the loopback network");
                /* Key space across families: "127" (127::/16) is also what 127.0.0.1 cuts down to. */
                net = A("127::");
                CHECK_STR(exempt_reason_net(&e, k, &net, 16, "127"), "loopback", "127::/16 has the key of 127/8");
                net = A("198::");
                CHECK_STR(exempt_reason_net(&e, k, &net, 16, "198"), "mynetworks", "198::/16 holds 198.51.100.7");
                net = A("2002::");
                CHECK_STR(exempt_reason_net(&e, k, &net, 16, "2002"), NULL, "2002 is no IPv4 key");
                /* No key of its own (a cidr: network map): the admin's covering keys still count. */
                net = A("2001:db8:aa::");
                CHECK_STR(exempt_reason_net(&e, k, &net, 64, NULL), "accepted by the access map",
                          "zero-group /64 inside the admin's OK /48");
                net = A("2001:db8:ab::");
                CHECK_STR(exempt_reason_net(&e, k, &net, 64, NULL), NULL, "zero-group /64 nobody protects");
                /* No map (unreadable): only the lists apply. */
                Addr a = A("203.0.113.7");
                CHECK_STR(exempt_reason(&e, NULL, &a), NULL, "without the map");
                adminkeys_free(k);
        }
        /* exempt_add keeps its reason */
        cidr_parse("10.0.0.0/8", &c);
        exempt_add(&e, &c, "ignore list");
        {
                Addr a = A("10.1.2.3");
                CHECK_STR(exempt_reason(&e, NULL, &a), "ignore list", "10.1.2.3");
        }
        /* an IPv4 /8 key reaches IPv6 lookups too: "16" is also 16::/16 */
        cidr_parse("16::/16", &c);
        exempt_add(&e, &c, "ignore v6");
        {
                Addr net = A("10.0.0.0");
                CHECK_STR(exempt_reason_net(&e, NULL, &net, 8, "10"), "ignore list", "10/8 itself");
                net = A("16.0.0.0");
                CHECK_STR(exempt_reason_net(&e, NULL, &net, 8, "16"), "ignore v6", "16/8 reaches 16::/16");
        }
        exempt_clear(&e);
        {
                Addr a = A("10.1.2.3");
                CHECK_STR(exempt_reason(&e, NULL, &a), NULL, "after clear");
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
                        CHECK_STR(exempt_reason(&e, NULL, &a), priv[i].why, priv[i].addr);
                }
        }
        exempt_clear(&e);
        return check_done();
}
