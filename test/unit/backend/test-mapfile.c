/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Map text: split, render (golden), the admin's keys, network keys. */
#include <errno.h>

#include "check.h"
#include "backend/mapfile.h"

static char *render(const char *text, const char *entries, size_t n)
{
        MapText mt;
        Buf out = {0};

        if (mapfile_split(text, strlen(text), &mt) < 0)
                return NULL;
        mapfile_render(&out, &mt, entries, n);
        return out.data;
}

#define HEAD MAP_BEGIN ": managed by autoblacklistd, do not edit between these markers\n"
#define NOTE(n) "# " n ". Your own entries go below the END line; they are kept as they are.\n"

static const struct {
        const char *name;
        const char *in;
        const char *entries;
        size_t n;
        const char *want; /* NULL: the split must fail */
} render_cases[] = {
        {"empty file", "", "192.0.2.1 REJECT x\n", 1, HEAD NOTE("1 entry") "192.0.2.1 REJECT x\n" MAP_END "\n"},
        {"admin lines are kept below a new block",
         "# my whitelist\n192.0.2.50 OK\n\n", "192.0.2.1 REJECT x\n", 1,
         HEAD NOTE("1 entry") "192.0.2.1 REJECT x\n" MAP_END "\n# my whitelist\n192.0.2.50 OK\n\n"},
        {"the block is replaced in place, all else kept byte for byte",
         "# top comment\n" MAP_BEGIN " old\nold REJECT y\n" MAP_END "\n10.0.0.1 OK\nno-newline-at-end OK",
         "", 0, "# top comment\n" HEAD NOTE("0 entries") MAP_END "\n10.0.0.1 OK\nno-newline-at-end OK"},
        {"BEGIN without END", MAP_BEGIN "\nx REJECT\n", "", 0, NULL},
        {"END without BEGIN", "x OK\n" MAP_END "\n", "", 0, NULL},
        {"two blocks", MAP_BEGIN "\n" MAP_END "\n" MAP_BEGIN "\n" MAP_END "\n", "", 0, NULL},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
                char *got = render(render_cases[i].in, render_cases[i].entries, render_cases[i].n);
                if (!render_cases[i].want)
                        CHECK(got == NULL, "%s: got accepted, want rejected", render_cases[i].name);
                else
                        CHECK(got && streq(got, render_cases[i].want), "%s: got\n%s\nwant\n%s", render_cases[i].name,
                              got ? got : "(rejected)", render_cases[i].want);
                free(got);
        }

        /* Rendering twice gives the same text (nothing accumulates). */
        {
                char *once = render("a OK\n", "1.2.3.4 REJECT x\n", 1);
                char *twice = render(once, "1.2.3.4 REJECT x\n", 1);
                CHECK_STR(twice, once, "idempotent");
                free(once);
                free(twice);
        }

        /* The admin's keys, looked up as smtpd would. */
        {
                const char *text = HEAD "203.0.113.9 REJECT ours\n" MAP_END "\n"
                                        "# comment 192.0.2.1 OK\n"
                                        "192.0.2.10   OK\n"
                                        "198.51.100 ok\n"
                                        "192.0.2.11 REJECT\n"
                                        "192.0.2.12 DUNNO\n"
                                        "10.1.1.1 250\n"
                                        "10.1.1.1 REJECT later duplicate\n"
                                        "2001:DB8:1 OK\n"
                                        "2001:db8:2::5 OK\n"
                                        "10.9.9.9\n"
                                        "  continuation 10.2.2.2 OK\n"
                                        "10.8.8.8\n"
                                        "\tOK\n"
                                        "mail.example.com OK\n"
                                        "198.18.0 permit\n"
                                        "192.0.2.20 PERMIT_MYNETWORKS\n"
                                        "192.0.2.21 permit_sasl_authenticated\n"
                                        "192.0.2.22 reject_unknown_client_hostname,permit\n"
                                        "192.0.2.23 dunno\n"
                                        "192.0.2.24 relay\n"
                                        "192.0.2.25 550 go away\n"
                                        "192.0.2.26 REJECT you are not permitted, permit_nothing\n"
                                        "192.0.2.27 250 text\n"
                                        "192.0.2.28 Ok\n";
                MapText mt;
                AdminKeys *k;
                static const struct {
                        const char *key;
                        AdminVerdict want;
                } lookups[] = {
                        {"192.0.2.10", ADMIN_PERMIT},   {"198.51.100.77", ADMIN_PERMIT}, /* network key, any case */
                        {"192.0.2.11", ADMIN_OTHER},    {"192.0.2.12", ADMIN_OTHER},
                        {"192.0.2.1", ADMIN_NONE},      /* only in a comment */
                        {"10.1.1.1", ADMIN_PERMIT},     /* all-numerical; the first of two wins */
                        {"2001:db8:1:5::9", ADMIN_PERMIT}, {"2001:db8:2::5", ADMIN_PERMIT},
                        {"2001:db8:2::6", ADMIN_NONE},  {"203.0.113.9", ADMIN_NONE}, /* our block is not the admin's */
                        {"10.2.2.2", ADMIN_NONE},       /* inside a continuation line */
                        {"10.9.9.9", ADMIN_OTHER},      /* value "continuation ..." */
                        {"10.8.8.8", ADMIN_PERMIT},     /* the value OK is on the continuation line */
                        /* every accepting action of access(5), any case; DUNNO and rejects do not */
                        {"198.18.0.9", ADMIN_PERMIT},   {"192.0.2.20", ADMIN_PERMIT},
                        {"192.0.2.21", ADMIN_PERMIT},   {"192.0.2.22", ADMIN_PERMIT}, /* in a restriction list */
                        {"192.0.2.23", ADMIN_OTHER},    {"192.0.2.24", ADMIN_PERMIT},
                        {"192.0.2.25", ADMIN_OTHER},    {"192.0.2.26", ADMIN_OTHER}, /* REJECT text */
                        {"192.0.2.27", ADMIN_OTHER},    /* not all-numerical: smtpd reads restrictions */
                        {"192.0.2.28", ADMIN_PERMIT},
                };
                CHECK_INT(mapfile_split(text, strlen(text), &mt), 0, "split");
                CHECK_INT(mt.block_entries, 1, "entries in our block");
                k = adminkeys_parse(&mt);
                for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++)
                        CHECK(adminkeys_lookup(k, lookups[i].key) == lookups[i].want, "lookup %s: got %d want %d",
                              lookups[i].key, adminkeys_lookup(k, lookups[i].key), lookups[i].want);
                CHECK(adminkeys_has(k, "192.0.2.11"), "has 192.0.2.11");
                CHECK(!adminkeys_has(k, "192.0.2.1"), "not 192.0.2.1");
                adminkeys_free(k);
        }

        /* access(5) keys for bans, and the networks that cannot have one. */
        {
                static const struct {
                        const char *addr;
                        unsigned plen;
                        int r;
                        const char *key;
                } keys[] = {
                        {"192.0.2.7", 32, 0, "192.0.2.7"},
                        {"192.0.2.0", 24, 0, "192.0.2"},
                        {"10.0.0.0", 8, 0, "10"},
                        {"192.0.2.0", 25, -EDOM, NULL},
                        {"2001:db8::7", 128, 0, "2001:db8::7"},
                        {"2001:db8:1:2::", 64, 0, "2001:db8:1:2"},
                        {"2001:db8:0:2::", 64, 0, "2001:db8:0:2"}, /* a single zero pair is never compressed */
                        {"2001:db8:1::", 64, -EDOM, NULL},         /* ends in a zero pair */
                        {"2001:0:0:5::", 64, -EDOM, NULL},         /* two zero pairs in a row */
                        {"2001:db8:1::", 48, 0, "2001:db8:1"},
                        {"2001:db8:1:2::", 60, -EDOM, NULL},       /* not on a pair boundary */
                        /* one decimal group is also an IPv4 /8 key: 127::/16 would ban 127.0.0.0/8 */
                        {"127::", 16, -EDOM, NULL},
                        {"192::", 16, -EDOM, NULL},
                        {"198::", 16, -EDOM, NULL},
                        {"9::", 16, -EDOM, NULL},
                        {"255::", 16, -EDOM, NULL},
                        {"256::", 16, 0, "256"}, /* no octet is 256 */
                        {"1ff::", 16, 0, "1ff"},
                        {"2001::", 16, 0, "2001"},
                        {"127:1::", 32, 0, "127:1"},
                        {"127.0.0.0", 8, 0, "127"}, /* IPv4 /8 keys stay: the never-ban check sees both */
                };
                for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                        Addr a;
                        char buf[64];
                        int r;
                        addr_parse_str(keys[i].addr, &a);
                        r = mapfile_key(&a, keys[i].plen, buf, sizeof(buf));
                        CHECK(r == keys[i].r, "%s/%u: got %d want %d", keys[i].addr, keys[i].plen, r, keys[i].r);
                        if (r == 0)
                                CHECK_STR(buf, keys[i].key, keys[i].addr);
                }
        }
        /* which lookups reach a key */
        {
                static const struct {
                        const char *key;
                        MapKeyFamily want;
                } fam[] = {
                        {"192.0.2", MAPKEY_V4}, {"2001:db8", MAPKEY_V6}, {"127", MAPKEY_BOTH}, {"0", MAPKEY_BOTH},
                        {"255", MAPKEY_BOTH},   {"256", MAPKEY_V6},      {"2001", MAPKEY_V6},  {"ab", MAPKEY_V6},
                };
                for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++)
                        CHECK(mapfile_key_family(fam[i].key) == fam[i].want, "family of %s: got %d want %d",
                              fam[i].key, mapfile_key_family(fam[i].key), fam[i].want);
        }
        /* A map without our block: before is (NULL, 0), which clang's UBSan once caught */
        {
                MapText mt;
                AdminKeys *k;
                CHECK_INT(mapfile_split("x OK\n", 5, &mt), 0, "split");
                CHECK(mt.before == NULL && mt.before_len == 0, "nothing before a block that is not there");
                k = adminkeys_parse(&mt);
                CHECK(adminkeys_lookup(k, "x") == ADMIN_PERMIT, "x OK");
                adminkeys_free(k);
                CHECK_INT(mapfile_split(NULL, 0, &mt), 0, "split of nothing");
        }
        return check_done();
}
