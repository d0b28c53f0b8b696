/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The ban policy on a fake clock: scripts of steps (a hit, a ban by hand,
 * an unban, expiry, the plan a map is written from, the admin's map, an
 * import from the fleet, a save and restore), each with the verdict it must
 * give, as text.  The keys are the real access(5) keys (mapfile_key) and
 * the admin's entries the real parser's (adminkeys_parse).
 */
#include <errno.h>
#include <inttypes.h>

#include "backend/mapfile.h"
#include "check.h"
#include "core/policy.h"
#include "util/util.h"

#define S  1000LL
#define M  (60 * S)
#define H  (60 * M)
#define T0 1700000000000LL /* the fake clock's start */

typedef enum Op {
        HIT,    /* addr hits rule (r1, r3 or "own", "login"); at: the record's time, 0: now */
        EXPIRE, /* the due timer: what expired, and the next due time */
        BAN,    /* by hand, for len (0: for ever) */
        UNBAN,  /* by hand */
        FLUSH,  /* every record */
        PLAN,   /* the access map's plan; exempt bans are lifted, as the daemon does */
        HOSTS,  /* the auth map's plan */
        ADMIN,  /* the admin's part of the map is now addr (the map text) */
        IMPORT, /* a ban of fleet host "mx2" for len (0: for ever), count 2 */
        RELOAD, /* state: save every ban (as saved), a new policy, restore them */
        BEHIND, /* the state is behind from now on (a save failed) */
        SAVED,  /* every ban is saved now, the state is not behind */
        COVER,  /* which active ban covers addr */
} Op;

typedef struct Step {
        int64_t t; /* since T0 */
        Op op;
        const char *addr;
        const char *rule;
        int64_t at; /* HIT: the record's time since T0 (0: now); BAN, IMPORT: the length */
        const char *want;
} Step;

typedef struct Rig {
        Policy *p;
        Names *names;
        PolicySettings set;
        AdminKeys *admin;
        Exempt base; /* the ignore list, copied into each new policy */
        bool behind;
        bool network_map;
} Rig;

static const uint8_t key[16] = {7, 7, 7};

static int net_key(void *ctx, const Addr *net, unsigned plen, char *k, size_t size)
{
        const Rig *r = ctx;

        if (plen == addr_host_plen(net) || !r->network_map)
                return mapfile_key(net, plen, k, size);
        k[0] = '\0';
        return 0;
}

/* The access map's part, as the daemon's backends give it: a bare number's other family, the admin's OK. */
static size_t net_reach(void *ctx, const Addr *net, unsigned plen, Cidr out[2])
{
        char k[CIDR_STRLEN];

        out[0] = (Cidr){.net = *net, .plen = (uint8_t)plen, .v4 = addr_is_v4(net)};
        if (net_key(ctx, net, plen, k, sizeof(k)) < 0 || !k[0])
                return 1;
        return 1 + mapfile_key_reach(net, k, &out[1]);
}

static const char *net_admin(void *ctx, const Addr *net, unsigned plen)
{
        const Rig *r = ctx;
        char k[CIDR_STRLEN];

        if (plen == addr_host_plen(net) || net_key(ctx, net, plen, k, sizeof(k)) < 0 || !k[0])
                return adminkeys_exempts(r->admin, net, NULL);
        return adminkeys_exempts(r->admin, net, k);
}

static const PolicyOps ops = {net_key, net_reach, net_admin};

static void ban_text(const Addr *a, uint8_t plen, Buf *out)
{
        char t[ADDR_STRLEN];

        buf_puts(out, addr_format(a, t));
        if (plen != addr_host_plen(a))
                buf_printf(out, "/%u", plen);
}

static const char *outcome_names[] = {"", "ban", "too-late", "no-key", "refused"};

static void put_ban(Rig *r, const PolicyBan *b, Buf *out)
{
        if (b->outcome == POLICY_NONE)
                return;
        buf_printf(out, " %s ", outcome_names[b->outcome]);
        ban_text(&b->addr, b->plen, out);
        buf_printf(out, " %s %u", names_get(r->names, b->rule), b->hits);
        if (b->outcome == POLICY_IMPOSED || b->outcome == POLICY_TOO_LATE)
                buf_printf(out, " %llus", (unsigned long long)(b->len / S));
        if (b->repeat)
                buf_puts(out, " repeat");
        if (b->outcome == POLICY_REFUSED)
                buf_printf(out, " (%s)%s", b->why, b->first ? " first" : "");
}

static void new_policy(Rig *r)
{
        Exempt e = {0};

        for (size_t i = 0; i < r->base.n; i++)
                exempt_add(&e, &r->base.v[i], r->base.why[i]);
        r->p = policy_new(&r->set, r->names, key, &ops, r);
        policy_set_exempt(r->p, &e);
}

static void hit(Rig *r, const Step *s, int64_t now, Buf *out)
{
        PolicyHit h = {.time_ms = s->at ? T0 + s->at : 0};
        PolicyVerdict v;
        static const char *kinds[] = {"own", "login", "exempt", "already", "hit"};

        addr_parse_str(s->addr, &h.addr);
        (void)names_intern(r->names, streq(s->rule, "r1") ? "r1" : "r3", &h.rule);
        h.max_hits = streq(s->rule, "r1") ? 1 : 3;
        h.find_time_ms = 10 * M;
        h.ban_time_ms = 1 * H;
        h.own_reject = streq(s->rule, "own");
        h.logged_in = streq(s->rule, "login");
        policy_judge(r->p, &h, now, &v);
        buf_puts(out, kinds[v.kind]);
        if (v.kind == POLICY_ALREADY)
                CHECK(v.cover && v.cover->active && v.cover == policy_covering(r->p, &h.addr),
                      "%s: the cover", s->addr);
        if (v.kind == POLICY_EXEMPT)
                buf_printf(out, " (%s)", v.why);
        if (v.kind != POLICY_HIT)
                return;
        buf_printf(out, " %u/%u", v.count, v.max_hits);
        if (v.at != now)
                buf_printf(out, " at %llds", (long long)((v.at - T0) / S));
        put_ban(r, &v.host, out);
        put_ban(r, &v.net, out);
        CHECK(v.changed == (v.host.outcome == POLICY_IMPOSED || v.host.outcome == POLICY_TOO_LATE ||
                            v.net.outcome == POLICY_IMPOSED || v.net.outcome == POLICY_TOO_LATE),
              "%s: changed %d", s->addr, v.changed);
        if (v.host.outcome == POLICY_IMPOSED)
                CHECK(v.host.ban && v.host.ban->active && addr_equal(&v.host.ban->addr, &v.host.addr),
                      "%s: the host ban's pointer", s->addr);
        if (v.net.outcome == POLICY_IMPOSED)
                CHECK(v.net.ban && v.net.ban->active && v.net.ban->plen == v.net.plen,
                      "%s: the net ban's pointer", s->addr);
}

static void plan(Rig *r, PolicyPlanKind kind, Buf *out)
{
        PolicyPlan it;
        PolicyEntry e;
        const Ban *lift[64];
        size_t n_lift = 0;

        buf_puts(out, "plan:");
        policy_plan_start(r->p, &it, kind, r->behind);
        while (policy_plan_next(&it, &e)) {
                buf_puts(out, " ");
                ban_text(&e.ban->addr, e.ban->plen, out);
                if (!e.key[0])
                        buf_puts(out, "=cidr");
                if (e.held)
                        buf_puts(out, "+held");
                if (e.exempt) {
                        buf_printf(out, "!(%s)", e.exempt);
                        if (kind == POLICY_PLAN_ACCESS && n_lift < 64)
                                lift[n_lift++] = e.ban;
                }
        }
        policy_plan_end(&it);
        for (size_t i = 0; i < n_lift; i++)
                policy_lift(r->p, lift[i]);
}

static void reload(Rig *r, int64_t now, Buf *out)
{
        const Ban **v = NULL;
        size_t n = policy_list(r->p, false, &v), active = 0, remembered = 0, stale = 0;
        PolicyRecord *recs = xcalloc(n ? n : 1, sizeof(*recs));
        char **rules = xcalloc(n ? n : 1, sizeof(char *)), **origins = xcalloc(n ? n : 1, sizeof(char *));

        /* as the state file holds them: names as text */
        for (size_t i = 0; i < n; i++) {
                const Ban *b = v[i];
                rules[i] = xstrdup(names_get(r->names, b->rule));
                origins[i] = xstrdup(b->remote ? names_get(r->names, b->origin) : "");
                recs[i] = (PolicyRecord){b->addr,         b->plen,        rules[i],     origins[i],
                                         b->active,       b->manual,      b->count,     b->hits,
                                         b->first_hit_ms, b->last_hit_ms, b->banned_ms, b->expires_ms};
        }
        free(v);
        r->p = policy_free(r->p);
        new_policy(r);
        for (size_t i = 0; i < n; i++) {
                int k = policy_restore(r->p, &recs[i], now);
                if (k == 1)
                        active++;
                else if (k == 0)
                        remembered++;
                else if (k == -ESTALE)
                        stale++;
                free(rules[i]);
                free(origins[i]);
        }
        free(recs);
        free(rules);
        free(origins);
        buf_printf(out, "restored %zu active, %zu remembered, %zu forgotten", active, remembered, stale);
        {
                /* restored bans are in the state file: never held back */
                PolicyPlan it;
                PolicyEntry e;
                policy_plan_start(r->p, &it, POLICY_PLAN_ACCESS, true);
                while (policy_plan_next(&it, &e))
                        CHECK(!e.held, "a restored ban is held back");
                policy_plan_end(&it);
        }
}

/* The expired bans in address order (the heap has no order among equal times). */
static int expired_cmp(const void *a, const void *b)
{
        const PolicyExpired *x = a, *y = b;
        int c = memcmp(x->addr.b, y->addr.b, sizeof(x->addr.b));
        return c ? c : (int)x->plen - (int)y->plen;
}

static void step(Rig *r, const Step *s, Buf *out)
{
        int64_t now = T0 + s->t;
        Cidr c = {0};
        const Ban *b;
        const char *why;

        if (s->addr && s->op != HIT && s->op != ADMIN)
                CHECK(cidr_parse(s->addr, &c) == 0, "%s: not a network", s->addr);
        switch (s->op) {
        case HIT:
                hit(r, s, now, out);
                break;
        case EXPIRE: {
                PolicyExpired *v;
                bool forgot;
                size_t n = policy_expire(r->p, now, &v, &forgot);
                int64_t next = policy_next_due(r->p);
                buf_puts(out, "expired:");
                if (n)
                        qsort(v, n, sizeof(*v), expired_cmp);
                for (size_t i = 0; i < n; i++) {
                        buf_puts(out, " ");
                        ban_text(&v[i].addr, v[i].plen, out);
                }
                if (forgot)
                        buf_puts(out, " (forgot)");
                buf_printf(out, "; next %llds", next ? (long long)((next - T0) / S) : 0LL);
                free(v);
                break;
        }
        case BAN: {
                int k = policy_ban(r->p, &c.net, c.plen, (uint64_t)s->at, now, &b, &why);
                if (k == -EDOM)
                        buf_puts(out, "no key");
                else if (k == -EPERM)
                        buf_printf(out, "never (%s)", why);
                else
                        buf_printf(out, "banned %s %u until %llds", b->manual ? "manual" : "?", b->count,
                                   b->expires_ms ? (long long)((b->expires_ms - T0) / S) : -1LL);
                break;
        }
        case UNBAN:
                b = policy_get(r->p, &c.net, c.plen);
                if (b && b->active) {
                        policy_lift(r->p, b);
                        buf_puts(out, "lifted");
                } else {
                        policy_forget_hits(r->p, &c.net);
                        buf_puts(out, "not banned");
                }
                break;
        case FLUSH:
                buf_printf(out, "flushed %zu", policy_flush(r->p));
                break;
        case PLAN:
                plan(r, POLICY_PLAN_ACCESS, out);
                break;
        case HOSTS:
                plan(r, POLICY_PLAN_HOSTS, out);
                break;
        case ADMIN: {
                MapText mt;
                adminkeys_free(r->admin);
                mapfile_split(s->addr, strlen(s->addr), &mt);
                r->admin = adminkeys_parse(&mt);
                buf_puts(out, "ok");
                break;
        }
        case IMPORT: {
                PolicyImport im = {.addr = c.net,
                                   .plen = c.plen,
                                   .origin = "mx2",
                                   .forever = !s->at,
                                   .remaining_ms = s->at,
                                   .age_ms = 10 * S,
                                   .count = 2};
                static const char *checks[] = {"ok", "over", "ours", "same", "no key", "exempt"};
                PolicyImportCheck k = policy_import_check(r->p, &im, now, &why);
                buf_puts(out, checks[k]);
                if (why)
                        buf_printf(out, " (%s)", why);
                if (k == POLICY_IMPORT_OK) {
                        uint16_t rule, origin;
                        (void)names_intern(r->names, s->rule, &rule);
                        (void)names_intern(r->names, "mx2", &origin);
                        b = policy_import(r->p, &im, rule, origin, now);
                        buf_printf(out, ": %s from %s, banned %llds", names_get(r->names, b->rule),
                                   names_get(r->names, b->origin), (long long)((b->banned_ms - T0) / S));
                }
                break;
        }
        case RELOAD:
                reload(r, now, out);
                break;
        case BEHIND:
                r->behind = true;
                buf_puts(out, "ok");
                break;
        case SAVED: {
                const Ban **v;
                size_t n = policy_list(r->p, false, &v);
                for (size_t i = 0; i < n; i++)
                        policy_mark_saved(r->p, v[i]);
                free(v);
                r->behind = false;
                buf_puts(out, "ok");
                break;
        }
        case COVER:
                b = policy_covering(r->p, &c.net);
                if (!b)
                        buf_puts(out, "none");
                else
                        ban_text(&b->addr, b->plen, out);
                break;
        }
}

typedef struct Script {
        const char *name;
        bool network_map, count_under_net;
        const Step *steps;
        size_t n;
} Script;

/* Thresholds, repeat offenders (1h, 2h, 4h, 8h, 8h), the memory, expiry, too late. */
static const Step repeat[] = {
        {0, HIT, "192.0.2.1", "r3", 0, "hit 1/3"},
        {90 * S, HIT, "192.0.2.1", "r3", 0, "hit 2/3"},
        {10 * M + 30 * S, HIT, "192.0.2.1", "r3", 0, "hit 2/3"}, /* the first one is out of find_time */
        {11 * M, HIT, "192.0.2.1", "r3", 0, "hit 3/3 ban 192.0.2.1 r3 3 3600s"},
        {13 * M, HIT, "192.0.2.1", "r3", 0, "already"},
        {13 * M, COVER, "192.0.2.1", NULL, 0, "192.0.2.1"},
        {13 * M, EXPIRE, NULL, NULL, 0, "expired:; next 4260s"},
        {72 * M, EXPIRE, NULL, NULL, 0,
         "expired: 192.0.2.1; next 90660s"}, /* remembered for 24h from its end */
        {72 * M, COVER, "192.0.2.1", NULL, 0, "none"},
        {80 * M, HIT, "192.0.2.1", "r1", 0, "hit 1/1 ban 192.0.2.1 r1 1 7200s repeat"},
        {200 * M, EXPIRE, NULL, NULL, 0, "expired: 192.0.2.1; next 98400s"},
        {201 * M, HIT, "192.0.2.1", "r1", 0, "hit 1/1 ban 192.0.2.1 r1 1 14400s repeat"},
        {500 * M, EXPIRE, NULL, NULL, 0, "expired: 192.0.2.1; next 112860s"},
        {501 * M, HIT, "192.0.2.1", "r1", 0, "hit 1/1 ban 192.0.2.1 r1 1 28800s repeat"},
        {1000 * M, EXPIRE, NULL, NULL, 0, "expired: 192.0.2.1; next 145260s"},
        {1001 * M, HIT, "192.0.2.1", "r1", 0, "hit 1/1 ban 192.0.2.1 r1 1 28800s repeat"}, /* capped at 8h */
        {1500 * M, EXPIRE, NULL, NULL, 0, "expired: 192.0.2.1; next 175260s"},
        /* more than ban_memory after the last ban ended: a first offence again */
        {1500 * M + 25 * H, EXPIRE, NULL, NULL, 0, "expired: (forgot); next 0s"},
        {1500 * M + 25 * H, HIT, "192.0.2.1", "r1", 0, "hit 1/1 ban 192.0.2.1 r1 1 3600s"},
        /* a record of the log's past: the ban runs from its time; over by now: not imposed, but remembered */
        {200 * H, HIT, "198.51.100.9", "r1", 198 * H, "hit 1/1 at 712800s too-late 198.51.100.9 r1 1 3600s"},
        {200 * H, COVER, "198.51.100.9", NULL, 0, "none"},
        {200 * H + 30 * M, HIT, "198.51.100.9", "r1", 200 * H,
         "hit 1/1 at 720000s ban 198.51.100.9 r1 1 7200s repeat"},
        /* a time in the future is taken as now */
        {201 * H, HIT, "198.51.100.10", "r1", 300 * H, "hit 1/1 ban 198.51.100.10 r1 1 3600s"},
        /* not hits */
        {201 * H, HIT, "198.51.100.11", "own", 0, "own"},
        {201 * H, HIT, "198.51.100.11", "login", 0, "login"},
        {201 * H, HIT, "127.0.0.1", "r1", 0, "exempt (loopback)"},
        {201 * H, HIT, "203.0.113.5", "r1", 0, "exempt (ignore list)"},
};

/* IPv6 networks: ipv6_net_hosts = 3 banned hosts, or max_hits x 2 hits of a rule. */
static const Step networks[] = {
        {0, HIT, "2001:db8:1:1::1", "r1", 0, "hit 1/1 ban 2001:db8:1:1::1 r1 1 3600s"},
        {0, HIT, "2001:db8:1:1::2", "r1", 0, "hit 1/1 ban 2001:db8:1:1::2 r1 1 3600s"},
        {0, HIT, "2001:db8:1:1::3", "r1", 0,
         "hit 1/1 ban 2001:db8:1:1::3 r1 1 3600s ban 2001:db8:1:1::/64 ipv6-network 3 3600s"},
        {0, HIT, "2001:db8:1:1::4", "r1", 0, "already"},
        {0, COVER, "2001:db8:1:1::4", NULL, 0, "2001:db8:1:1::/64"},
        /* the network's key covers its hosts in the access map; the auth map lists the hosts */
        {0, PLAN, NULL, NULL, 0, "plan: 2001:db8:1:1::/64"},
        {0, HOSTS, NULL, NULL, 0, "plan: 2001:db8:1:1::1 2001:db8:1:1::2 2001:db8:1:1::3"},
        /* a rotating attacker: 6 hits of r3 from 6 addresses of one /64 */
        {0, HIT, "2001:db8:2:2::1", "r3", 0, "hit 1/3"},
        {1 * S, HIT, "2001:db8:2:2::2", "r3", 0, "hit 1/3"},
        {2 * S, HIT, "2001:db8:2:2::3", "r3", 0, "hit 1/3"},
        {3 * S, HIT, "2001:db8:2:2::4", "r3", 0, "hit 1/3"},
        {4 * S, HIT, "2001:db8:2:2::5", "r3", 0, "hit 1/3"},
        {5 * S, HIT, "2001:db8:2:2::6", "r3", 0, "hit 1/3 ban 2001:db8:2:2::/64 r3 6 3600s"},
        {6 * S, HIT, "2001:db8:2:2::7", "r3", 0, "already"},
        /* a network with an address never banned: refused, said once */
        {0, HIT, "2001:db8:77:7::1", "r1", 0, "hit 1/1 ban 2001:db8:77:7::1 r1 1 3600s"},
        {0, HIT, "2001:db8:77:7::2", "r1", 0, "hit 1/1 ban 2001:db8:77:7::2 r1 1 3600s"},
        {0, HIT, "2001:db8:77:7::3", "r1", 0,
         "hit 1/1 ban 2001:db8:77:7::3 r1 1 3600s refused 2001:db8:77:7::/64 ipv6-network 3 (ignore list) "
         "first"},
        {0, HIT, "2001:db8:77:7::4", "r1", 0,
         "hit 1/1 ban 2001:db8:77:7::4 r1 1 3600s refused 2001:db8:77:7::/64 ipv6-network 4 (ignore list)"},
        /* a /64 whose key would have a zero group: no access(5) key can hold it */
        {0, HIT, "2001:db8::1", "r1", 0, "hit 1/1 ban 2001:db8::1 r1 1 3600s"},
        {0, HIT, "2001:db8::2", "r1", 0, "hit 1/1 ban 2001:db8::2 r1 1 3600s"},
        {0, HIT, "2001:db8::3", "r1", 0,
         "hit 1/1 ban 2001:db8::3 r1 1 3600s no-key 2001:db8::/64 ipv6-network 3"},
        {0, BAN, "2001:db8::/64", NULL, 0, "no key"},
        {0, BAN, "2001:db8:77:7::/64", NULL, 0, "never (ignore list)"},
        /* an IPv4 network is never banned for its hosts */
        {0, HIT, "198.51.100.1", "r1", 0, "hit 1/1 ban 198.51.100.1 r1 1 3600s"},
        {0, HIT, "198.51.100.2", "r1", 0, "hit 1/1 ban 198.51.100.2 r1 1 3600s"},
        {0, HIT, "198.51.100.3", "r1", 0, "hit 1/1 ban 198.51.100.3 r1 1 3600s"},
        {1 * H, EXPIRE, NULL, NULL, 0,
         "expired: 198.51.100.1 198.51.100.2 198.51.100.3 2001:db8::1 2001:db8::2 2001:db8::3 "
         "2001:db8:1:1::/64 "
         "2001:db8:1:1::1 2001:db8:1:1::2 2001:db8:1:1::3 2001:db8:77:7::1 2001:db8:77:7::2 2001:db8:77:7::3 "
         "2001:db8:77:7::4; "
         "next 3605s"},
};

/* With network_map (cidr:) the hosts stay in the access map; with an auth map the hosts under a network ban
 * count. */
static const Step cidr_map[] = {
        {0, HIT, "2001:db8::1", "r1", 0, "hit 1/1 ban 2001:db8::1 r1 1 3600s"},
        {0, HIT, "2001:db8::2", "r1", 0, "hit 1/1 ban 2001:db8::2 r1 1 3600s"},
        {0, HIT, "2001:db8::3", "r1", 0,
         "hit 1/1 ban 2001:db8::3 r1 1 3600s ban 2001:db8::/64 ipv6-network 3 3600s"},
        {0, PLAN, NULL, NULL, 0, "plan: 2001:db8::/64=cidr 2001:db8::1 2001:db8::2 2001:db8::3"},
        /* counted under the network ban, banned on its own */
        {0, HIT, "2001:db8::4", "r1", 0, "hit 1/1 ban 2001:db8::4 r1 1 3600s"},
        {0, HIT, "2001:db8::4", "r1", 0, "already"},
        {0, BAN, "2001:db8:5:6:7::/80", NULL, 1 * H, "banned manual 1 until 3600s"},
        {0, BAN, "192.0.2.128/25", NULL, 2 * H, "banned manual 1 until 7200s"},
};

/* The admin adds OK after the ban: the plan says so, the ban is lifted and not published again. */
static const Step admin_ok[] = {
        {0, HIT, "192.0.2.7", "r1", 0, "hit 1/1 ban 192.0.2.7 r1 1 3600s"},
        {0, HIT, "192.0.2.8", "r1", 0, "hit 1/1 ban 192.0.2.8 r1 1 3600s"},
        {0, BAN, "198.51.100.0/24", NULL, 1 * H, "banned manual 1 until 3600s"},
        {0, PLAN, NULL, NULL, 0, "plan: 192.0.2.7 192.0.2.8 198.51.100.0/24"},
        {1 * S, ADMIN, "192.0.2.7 OK\n198.51.100 OK\n", NULL, 0, "ok"},
        {1 * S, HOSTS, NULL, NULL, 0, "plan: 192.0.2.7!(accepted by the access map) 192.0.2.8"},
        {1 * S, PLAN, NULL, NULL, 0,
         "plan: 192.0.2.7!(accepted by the access map) 192.0.2.8 198.51.100.0/24!(accepted by the access "
         "map)"},
        {1 * S, PLAN, NULL, NULL, 0, "plan: 192.0.2.8"},
        {1 * S, COVER, "192.0.2.7", NULL, 0, "none"},
        {2 * S, HIT, "192.0.2.7", "r1", 0, "exempt (accepted by the access map)"},
        {2 * S, BAN, "192.0.2.7", NULL, 0, "never (accepted by the access map)"},
        {2 * S, IMPORT, "192.0.2.7", "fleet-rule", 1 * H, "exempt (accepted by the access map)"},
};

/* By hand, unban, flush, the fleet's bans, and held back while the state is behind. */
static const Step manual[] = {
        {0, BAN, "192.0.2.1", NULL, 0, "banned manual 1 until -1s"},
        {0, BAN, "192.0.2.1", NULL, 10 * M, "banned manual 2 until 600s"},
        {0, HIT, "192.0.2.1", "r1", 0, "already"},
        {0, HIT, "192.0.2.2", "r3", 0, "hit 1/3"},
        {0, HIT, "192.0.2.2", "r3", 0, "hit 2/3"},
        {0, UNBAN, "192.0.2.2", NULL, 0, "not banned"}, /* its hits are forgotten all the same */
        {0, HIT, "192.0.2.2", "r3", 0, "hit 1/3"},
        {0, UNBAN, "192.0.2.1", NULL, 0, "lifted"},
        {0, COVER, "192.0.2.1", NULL, 0, "none"},
        {0, UNBAN, "192.0.2.1", NULL, 0, "not banned"},
        {0, BAN, "127.0.0.1", NULL, 0, "never (loopback)"},
        {0, BAN, "192.0.2.0/23", NULL, 0, "no key"},
        /* the fleet: over, imposed, the same row again, ours stands */
        {0, IMPORT, "192.0.2.9", "brute", 0, "ok: brute from mx2, banned -10s"},
        {0, IMPORT, "192.0.2.9", "brute", 0, "same"},
        {0, IMPORT, "192.0.2.10", "brute", -1, "over"},
        {0, IMPORT, "192.0.2.11", "brute", 1 * H, "ok: brute from mx2, banned -10s"},
        {1 * S, IMPORT, "192.0.2.11", "brute", 1 * H - 1 * S, "same"},
        {1 * S, IMPORT, "192.0.2.11", "brute", 2 * H, "ok: brute from mx2, banned -9s"}, /* extended */
        {1 * S, BAN, "192.0.2.12", NULL, 0, "banned manual 1 until -1s"},
        {1 * S, IMPORT, "192.0.2.12", "brute", 0, "ours"},
        {1 * S, IMPORT, "2001:db8::/64", "brute", 0, "no key"},
        /* a save failed: new bans are held back, saved ones are not */
        {2 * S, SAVED, NULL, NULL, 0, "ok"},
        {2 * S, BEHIND, NULL, NULL, 0, "ok"},
        {2 * S, BAN, "192.0.2.13", NULL, 0, "banned manual 1 until -1s"},
        {2 * S, PLAN, NULL, NULL, 0, "plan: 192.0.2.9 192.0.2.11 192.0.2.12 192.0.2.13+held"},
        {2 * S, SAVED, NULL, NULL, 0, "ok"},
        {2 * S, PLAN, NULL, NULL, 0, "plan: 192.0.2.9 192.0.2.11 192.0.2.12 192.0.2.13"},
        {3 * S, FLUSH, NULL, NULL, 0, "flushed 4"},
        {3 * S, PLAN, NULL, NULL, 0, "plan:"},
        {3 * S, HIT, "192.0.2.2", "r3", 0, "hit 2/3"}, /* hits of a host not banned stay */
};

/* Restore from the state: active bans stand, ended ones are remembered, older ones go. */
static const Step restore[] = {
        {0, HIT, "192.0.2.1", "r1", 0, "hit 1/1 ban 192.0.2.1 r1 1 3600s"},
        {0, HIT, "192.0.2.2", "r1", 0, "hit 1/1 ban 192.0.2.2 r1 1 3600s"},
        {0, BAN, "192.0.2.3", NULL, 0, "banned manual 1 until -1s"},
        {0, IMPORT, "192.0.2.4", "brute", 30 * H, "ok: brute from mx2, banned -10s"},
        {1 * H, EXPIRE, NULL, NULL, 0, "expired: 192.0.2.1 192.0.2.2; next 90000s"},
        {1 * H, HIT, "192.0.2.2", "r1", 0, "hit 1/1 ban 192.0.2.2 r1 1 7200s repeat"},
        {2 * H, BEHIND, NULL, NULL, 0, "ok"},
        {2 * H, RELOAD, NULL, NULL, 0, "restored 3 active, 1 remembered, 0 forgotten"},
        {2 * H, PLAN, NULL, NULL, 0, "plan: 192.0.2.2 192.0.2.3 192.0.2.4"},
        {2 * H, IMPORT, "192.0.2.4", "brute", 28 * H, "same"}, /* its origin came back */
        /* the memory came back: a repeat offender still */
        {3 * H, EXPIRE, NULL, NULL, 0, "expired: 192.0.2.2; next 90000s"},
        {3 * H, HIT, "192.0.2.1", "r1", 0, "hit 1/1 ban 192.0.2.1 r1 1 7200s repeat"},
        /* a day later, the ended records are out of memory */
        {40 * H, RELOAD, NULL, NULL, 0, "restored 1 active, 1 remembered, 2 forgotten"},
        {40 * H, PLAN, NULL, NULL, 0, "plan: 192.0.2.3"},
        {40 * H, HIT, "192.0.2.1", "r1", 0, "hit 1/1 ban 192.0.2.1 r1 1 3600s"},
};

#define SCRIPT(name, nm, cun)                                                                                \
        {                                                                                                    \
#name, nm, cun, name, sizeof(name) / sizeof(name[0])                                         \
        }

static const Script scripts[] = {
        SCRIPT(repeat, false, false),   SCRIPT(networks, false, false), SCRIPT(cidr_map, true, true),
        SCRIPT(admin_ok, false, false), SCRIPT(manual, false, false),   SCRIPT(restore, false, false),
};

int main(void)
{
        for (size_t k = 0; k < sizeof(scripts) / sizeof(scripts[0]); k++) {
                const Script *sc = &scripts[k];
                Rig r = {.names = names_new(), .network_map = sc->network_map};
                Cidr c;

                r.set = (PolicySettings){
                        .ban_time_ms = 1 * H,
                        .ban_time_factor = 2,
                        .ban_time_max_ms = 8 * H,
                        .ban_memory_ms = 24 * H,
                        .max_tracked = 1000,
                        .window_ms = 10 * M,
                        .ipv6_net_prefix = 64,
                        .ipv6_net_hosts = 3,
                        .ipv6_net_factor = 2,
                        .count_under_net = sc->count_under_net,
                        .network_map = sc->network_map,
                };
                (void)names_intern(r.names, "manual", &r.set.manual_rule);
                (void)names_intern(r.names, "ipv6-network", &r.set.net_rule);
                cidr_parse("203.0.113.0/24", &c);
                exempt_add(&r.base, &c, "ignore list");
                cidr_parse("2001:db8:77:7::5/128", &c);
                exempt_add(&r.base, &c, "ignore list");
                new_policy(&r);
                for (size_t i = 0; i < sc->n; i++) {
                        _cleanup_buf_ Buf out = {0};
                        step(&r, &sc->steps[i], &out);
                        CHECK(check_streq(out.data, sc->steps[i].want),
                              "%s step %zu (%s):\n  got  '%s'\n  want '%s'", sc->name, i + 1,
                              sc->steps[i].addr ? sc->steps[i].addr : "-", check_show(out.data),
                              sc->steps[i].want);
                }
                r.p = policy_free(r.p);
                adminkeys_free(r.admin);
                exempt_clear(&r.base);
                names_free(r.names);
        }
        return check_done();
}
