/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Backends: the registry, each type's keys, placement (the network map
 * before the access map), the never-ban check over keys and the admin's
 * entries of a real map file, the entry lines a render writes (with the
 * network map's file and stamp), and the generations a flush waits for.
 */
#include <errno.h>
#include <ev.h>

#include "check.h"
#include "backend/backend.h"
#include "backend/mapfile.h"

static Addr A(const char *s)
{
        Addr a;
        addr_parse_str(s, &a);
        return a;
}

/* The bans a test render is given, and what the plan hook saw. */
static const struct {
        const char *net;
} plan_bans[] = {
        {"192.0.2.7/32"},    {"203.0.113.8/32"},   {"2001:db8:1::5/128"},
        {"198.51.100.0/24"}, {"2001:db8:40::/64"},
};
static Backends *set;
static int plans;

static void plan(void *ctx, BanBackend *b, BackendEmit emit, void *emit_ctx, Buf *notes)
{
        (void)notes;
        (void)ctx;
        plans++;
        for (size_t i = 0; i < ELEMENTSOF(plan_bans); i++) {
                char key[CIDR_STRLEN];
                Cidr c;
                cidr_parse(plan_bans[i].net, &c);
                if (!backends_holds(set, b, &c.net, c.plen, key, sizeof(key)))
                        continue;
                emit(emit_ctx, &(BackendBan){.addr = c.net, .plen = c.plen, .key = key, .rule = "test"});
        }
}

static int dones;
static uint64_t done_gen;
static void done(void *ctx, BanBackend *b, uint64_t gen, int result, size_t entries)
{
        (void)ctx;
        (void)b;
        (void)result;
        (void)entries;
        dones++;
        done_gen = gen;
}

static char notes[1024];
static void note(void *ctx, BanBackend *b, int priority, const char *text)
{
        (void)ctx;
        (void)b;
        (void)priority;
        snprintf(notes + strlen(notes), sizeof(notes) - strlen(notes), "%s\n", text);
}

static const BackendHooks hooks = {.plan = plan, .done = done, .note = note};

static void test_registry(void)
{
        const BackendType *const *types;
        size_t n = backend_types(&types);
        size_t cidr = n, access = n;

        for (size_t i = 0; i < n; i++) {
                CHECK(backend_type(types[i]->type) == types[i], "%s: found by its name", types[i]->type);
                if (streq(types[i]->type, "cidr"))
                        cidr = i;
                if (streq(types[i]->type, "access"))
                        access = i;
        }
        CHECK(n >= 4, "four types at least: got %zu", n);
        CHECK(backend_type("access") && backend_type("auth") && backend_type("cidr") && backend_type("fleet"),
              "the four types are registered");
        CHECK(cidr < access, "the network map is asked before the access map (placement)");
        CHECK(backend_type("pgsql") == NULL, "no such type");
        CHECK(backend_type("access")->flags & BACKEND_PRIMARY, "the access map is the primary one");
}

/* Each type's key for a ban, as a table. */
static void test_keys(void)
{
        static const struct {
                const char *type, *net;
                int r;
                const char *key;
        } cases[] = {
                {"access", "192.0.2.7/32", 0, "192.0.2.7"},
                {"access", "192.0.2.0/24", 0, "192.0.2"},
                {"access", "10.0.0.0/8", 0, "10"},
                {"access", "192.0.2.0/28", -EDOM, NULL}, /* no octet boundary */
                {"access", "2001:db8:1::5/128", 0, "2001:db8:1::5"},
                {"access", "2001:db8:1:2::/64", 0, "2001:db8:1:2"},
                {"access", "2001:db8:40::/64", -EDOM, NULL}, /* a zero group smtpd writes as "::" */
                {"access", "127::/16", -EDOM, NULL},         /* "127" is also 127.0.0.0/8's key */
                {"auth", "192.0.2.7/32", 0, "192.0.2.7"},
                {"auth", "2001:db8::9/128", 0, "2001:db8::9"},
                {"auth", "192.0.2.0/24", BACKEND_PASS, NULL}, /* looked up by the exact address only */
                {"cidr", "192.0.2.7/32", BACKEND_PASS, NULL}, /* hosts stay in the access map */
                {"cidr", "192.0.2.0/28", 0, ""},
                {"cidr", "2001:db8:40::/64", 0, ""},
                {"fleet", "2001:db8:40::/64", 0, ""},
                {"fleet", "192.0.2.7/32", 0, ""},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const BackendType *t = backend_type(cases[i].type);
                char key[CIDR_STRLEN] = "unset", what[96];
                Cidr c;
                int r;

                snprintf(what, sizeof(what), "%s key of %s", cases[i].type, cases[i].net);
                CHECK_INT(cidr_parse(cases[i].net, &c), 0, what);
                r = t->key(NULL, &c.net, c.plen, key, sizeof(key));
                CHECK_INT(r, cases[i].r, what);
                if (cases[i].key)
                        CHECK_STR(key, cases[i].key, what);
        }
}

static char *read_text(const char *path)
{
        char *text = NULL;
        size_t len;
        return read_file(path, 1 << 20, &text, &len) == 0 ? text : NULL;
}

static void test_set(const char *dir, struct ev_loop *loop)
{
        _cleanup_free_ char *access = xasprintf("hash:%s/access", dir),
                            *auth = xasprintf("hash:%s/ehlo", dir);
        _cleanup_free_ char *nets = xasprintf("%s/nets", dir), *map = xasprintf("%s/access", dir);
        char *postmap[] = {(char *)"postmap", NULL};
        BackendConf c = {.postmap = postmap, .postmap_timeout_ms = 10000, .reject_text = "Blocked"};
        _cleanup_free_ char *why = NULL;
        Exempt e = {0};
        Cidr ign;

        /* the admin's own lines, as the access map holds them */
        check_write(map, "203.0.113.7 OK\n203.0.113.8 REJECT\n2001:db8:aa OK\n");
        backend_conf_add(&c, "access", access);
        backend_conf_add(&c, "auth", auth);
        CHECK_INT(backends_new(&set, loop, &c, &hooks, NULL, NULL, &why), 0, "a set without network map");
        CHECK_INT(backends_count(set), 2, "access and auth");
        CHECK(backends_exact(set), "the auth map is looked up by exact address");
        CHECK(!backends_shared(set), "no fleet");

        /* Placement without a network map: the access map's keys decide. */
        {
                Addr a = A("192.0.2.0");
                CHECK(backends_can_hold(set, &a, 24), "a /24 has a key");
                CHECK(!backends_can_hold(set, &a, 28), "a /28 has none");
                {
                        char key[CIDR_STRLEN];
                        CHECK_INT(backends_key(set, &a, 24, key, sizeof(key)), 0, "the /24's key");
                        CHECK_STR(key, "192.0.2", "as the access map writes it");
                        CHECK_INT(backends_key(set, &a, 28, key, sizeof(key)), -EDOM, "the /28: none");
                }
        }
        /* The never-ban check: the lists, then the admin's OK, looked up as smtpd does. */
        cidr_parse("16::/16", &ign);
        exempt_add(&e, &ign, "ignore v6");
        {
                static const struct {
                        const char *net;
                        const char *why;
                } cases[] = {
                        {"127.0.0.1/32", "loopback"},
                        {"203.0.113.7/32", "accepted by the access map"},
                        {"203.0.113.8/32", NULL}, /* the admin has it, but as REJECT */
                        {"2001:db8:aa:bb::9/128", "accepted by the access map"},
                        {"2001:db8:aa:1::/64", "accepted by the access map"},
                        {"2001:db8:99:1::/64", NULL},
                        {"16.0.0.0/8", "ignore v6"}, /* its key "16" is also 16::/16's */
                        {"17.0.0.0/8", NULL},
                };
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        Cidr n;
                        cidr_parse(cases[i].net, &n);
                        CHECK_STR(backends_exempts(set, &e, &n.net, n.plen), cases[i].why, cases[i].net);
                }
        }
        /* The networks a key reaches: "10" is 10.0.0.0/8 and 10::/16 alike. */
        {
                Cidr reach[2], want;
                Addr a = A("10.0.0.0");
                CHECK_INT(backends_reach(set, &a, 8, reach), 2, "10/8: two networks");
                cidr_parse("10::/16", &want);
                CHECK(reach[1].plen == 16 && !reach[1].v4 && addr_equal(&reach[1].net, &want.net),
                      "the other one is 10::/16");
                a = A("192.0.2.0");
                CHECK_INT(backends_reach(set, &a, 24, reach), 1, "192.0.2/24: itself");
                a = A("203.0.113.7");
                CHECK_STR(backends_admin_exempts(set, &a, 32), "accepted by the access map",
                          "the admin's half");
        }
        /* A render: the entries, without the admin's own keys; generations. */
        {
                BanBackend *am = backends_find(set, BACKEND_PRIMARY), *au = backends_find(set, BACKEND_EXACT);
                Buf out = {0};
                uint64_t gen = backends_request(set, false);
                const char *text = "203.0.113.7 OK\n203.0.113.8 REJECT\n2001:db8:aa OK\n";
                MapText mt;
                AdminKeys *admin;
                size_t n;

                mapfile_split(text, strlen(text), &mt);
                admin = adminkeys_parse(&mt);
                CHECK(am && au, "both found by their flags");
                CHECK_STR(backend_name(am), map, "the access map's name");
                backend_prepare(am); /* the generation is taken here, on the loop */
                n = backend_render(am, admin, &out, NULL);
                CHECK_INT(n, 3, "access entries: 2 hosts and the /24 (the admin has 203.0.113.8)");
                CHECK_STR(
                        out.data,
                        "192.0.2.7 REJECT Blocked\n2001:db8:1::5 REJECT Blocked\n198.51.100 REJECT Blocked\n",
                        "access entries");
                adminkeys_free(admin);
                buf_clear(&out);
                backend_done(am, 0, n);
                CHECK_INT(done_gen, gen, "the access map wrote the generation it rendered");
                CHECK(backends_written(set) < gen, "the auth map has not written it yet");
                backend_prepare(au);
                n = backend_render(au, NULL, &out, NULL);
                CHECK_STR(out.data,
                          "192.0.2.7 silent-discard, auth\n203.0.113.8 silent-discard, auth\n"
                          "2001:db8:1::5 silent-discard, auth\n",
                          "auth entries: hosts only");
                /* a change after the render is a generation no write has shown */
                CHECK_INT(backends_request(set, false), gen + 1, "the next generation");
                backend_done(au, 0, n);
                CHECK_INT(backends_written(set), gen, "both show the generation they rendered, not the next");
                buf_free(&out);
        }
        {
                Buf st = {0};
                backends_status(set, &(BackendCounts){0}, &st);
                CHECK(strstr(st.data, "map: ") == st.data && strstr(st.data, "auth map: ") &&
                              strstr(st.data, "fleet: off\n"),
                      "status lines: %s", st.data);
                buf_free(&st);
        }
        set = backends_free(set);

        /* With a network map: it holds the networks, the hosts stay in the access map. */
        backend_conf_add(&c, "cidr", nets);
        CHECK_INT(backends_new(&set, loop, &c, &hooks, NULL, NULL, &why), 0, "a set with a network map");
        {
                BanBackend *am = backends_find(set, BACKEND_PRIMARY),
                           *nm = backends_find(set, BACKEND_COMPANION);
                char key[CIDR_STRLEN];
                Addr net = A("2001:db8:40::"), host = A("192.0.2.7");
                Buf out = {0};
                _cleanup_free_ char *text = NULL;

                CHECK(backends_can_hold(set, &net, 64), "any prefix, in the network map");
                CHECK_INT(backends_key(set, &net, 64, key, sizeof(key)), 0, "held by the network map");
                CHECK_STR(key, "", "without a key");
                CHECK(backends_holds(set, nm, &net, 64, key, sizeof(key)), "the network map holds it");
                CHECK(!backends_holds(set, am, &net, 64, key, sizeof(key)), "the access map does not");
                CHECK(backends_holds(set, am, &host, addr_host_plen(&host), key, sizeof(key)),
                      "a host stays in the access map");
                CHECK(!backends_holds(set, nm, &host, addr_host_plen(&host), key, sizeof(key)),
                      "not in the network map");
                net = A("2001:db8:aa::");
                CHECK_STR(backends_exempts(set, &e, &net, 64), "accepted by the access map",
                          "a zero-group /64 inside the admin's OK /48 (no key of its own)");
                (void)backends_request(set, true);
                backend_prepare(am);
                CHECK_INT(backend_render(am, NULL, &out, NULL), 3, "access entries: the hosts only");
                CHECK(!strstr(out.data, "198.51.100 "), "no network key: %s", out.data);
                CHECK(strstr(out.data, "# 2 network bans in cidr:") != NULL, "the network map's stamp: %s",
                      out.data);
                text = read_text(nets);
                CHECK(text && strstr(text, "198.51.100.0/24 REJECT Blocked\n") &&
                              strstr(text, "2001:db8:40::/64 REJECT Blocked\n"),
                      "the network map file: %s", text ? text : "(none)");
                buf_free(&out);
        }
        /* A reload without it: emptied, and the access map takes networks again. */
        c.n_specs = 2;
        notes[0] = '\0';
        (void)backends_configure(set, &c);
        CHECK_INT(backends_count(set), 2, "the network map is gone");
        CHECK(strstr(notes, "no longer the network map; emptied"), "noted: %s", notes);
        {
                _cleanup_free_ char *text = read_text(nets);
                CHECK(text && !strstr(text, "REJECT"), "emptied: %s", text ? text : "(none)");
        }
        set = backends_free(set);
        exempt_clear(&e);

        /* A spec of a type postmap does not build is refused with the object named. */
        {
                BackendConf bad = {.postmap = postmap, .reject_text = "Blocked"};
                backend_conf_add(&bad, "access", "nosuch:/x/access");
                CHECK(backends_new(&set, loop, &bad, &hooks, NULL, NULL, &why) < 0, "an unknown map type");
                CHECK(why && strstr(why, "nosuch:/x/access"), "why: %s", why ? why : "(none)");
        }
}

static void test_own_reject(void)
{
        _cleanup_free_ char *re = backends_own_reject(&(BackendConf){.reject_text = "Blocked by x.y"});

        CHECK(re && strstr(re, "Client host rejected: Blocked\\ by\\ x\\.y"), "the reject text, quoted: %s",
              re ? re : "(none)");
}

int main(void)
{
        const char *dir = check_mktemp();
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

        test_registry();
        test_keys();
        test_set(dir, loop);
        test_own_reject();
        CHECK(plans > 0 && dones == 2, "plans %d, dones %d", plans, dones);
        ev_loop_destroy(loop);
        return check_done();
}
