/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * replay: the daemon's ban policy on the log's clock, for --test --replay.
 *
 * It asks the daemon's own policy (core/policy.c: the thresholds, the
 * repeat-offender escalation, the IPv6 network bans, the never-ban list,
 * the expiry) and session.c for the logged-in sessions, without the map,
 * the state file and the log: what it prints is what the daemon would
 * have done.
 *
 * The clock is the records' time, kept monotone (a line a little older
 * than the one before does not move it back), so that bans expire in
 * log order.  Security: as in the daemon, only a rule's <ADDR> names an
 * address; the summary's "came close" list is bounded.
 */
#include "service/replay.h"

#include <inttypes.h>

#include "core/policy.h"
#include "util/htab.h"
#include "core/session.h"
#include "util/util.h"

#define CLOSE_MAX 100000 /* addresses remembered as "came close" */
#define CLOSE_SHOWN 20

typedef struct Close {
        Addr addr;
        uint16_t rule;
        unsigned hits, max_hits;
        bool banned; /* banned later, by any rule */
        int64_t at;
} Close;

struct Replay {
        const Config *cfg;
        RuleSet *rs;
        Names *names;
        const AdminKeys *admin;
        FILE *out;
        Policy *policy;
        Sessions *sessions;
        int64_t clock;
        uint64_t records, hits, exempted, logged_in, already, timeless;
        uint64_t host_bans, net_bans, repeat_bans, expired;
        uint64_t *rule_bans; /* by rule id */
        size_t n_rule_bans;
        Close *close;
        size_t n_close, cap_close;
        HTab close_index;
        uint8_t key[16];
};

static uint64_t close_hash(const Replay *r, const Addr *a)
{
        uint64_t w0, w1, k0;

        memcpy(&w0, a->b, 8);
        memcpy(&w1, a->b + 8, 8);
        memcpy(&k0, r->key, 8);
        w0 = (w0 ^ k0) * 0x9e3779b97f4a7c15ULL ^ (w1 * 0xc2b2ae3d27d4eb4fULL);
        return w0 ^ (w0 >> 31);
}

static bool close_equal(const void *ctx, uint32_t i, const void *key)
{
        return addr_equal(&((const Replay *)ctx)->close[i].addr, key);
}

static const HTabOps close_ops = {close_equal};

/* The daemon's daemon_net_key(): a network goes into network_map if there is one. */
static int replay_key(void *ctx, const Addr *net, unsigned plen, char *key, size_t size)
{
        const Replay *r = ctx;

        if (plen == addr_host_plen(net) || !r->cfg->network_map)
                return mapfile_key(net, plen, key, size);
        if (size)
                key[0] = '\0';
        return 0;
}

/* The access map's: the other family a bare number reaches, and the admin's OK lines. */
static size_t replay_reach(void *ctx, const Addr *net, unsigned plen, Cidr out[2])
{
        char key[CIDR_STRLEN];

        (void)ctx;
        out[0] = (Cidr){.net = *net, .plen = (uint8_t)plen, .v4 = addr_is_v4(net)};
        if (replay_key(ctx, net, plen, key, sizeof(key)) < 0 || !key[0])
                return 1;
        return 1 + mapfile_key_reach(net, key, &out[1]);
}

static const char *replay_admin(void *ctx, const Addr *net, unsigned plen)
{
        const Replay *r = ctx;
        char key[CIDR_STRLEN];

        if (plen == addr_host_plen(net) || replay_key(ctx, net, plen, key, sizeof(key)) < 0 || !key[0])
                return adminkeys_exempts(r->admin, net, NULL);
        return adminkeys_exempts(r->admin, net, key);
}

static const PolicyOps replay_ops = {replay_key, replay_reach, replay_admin};

Replay *replay_new(const Config *cfg, RuleSet *rs, Names *names, const Exempt *exempt, const AdminKeys *admin,
                   FILE *out)
{
        Replay *r = xcalloc(1, sizeof(*r));
        PolicySettings ps;
        Exempt e = {0};

        config_policy_settings(cfg, ruleset_max_find_time(rs), &ps);
        for (size_t i = 0; i < sizeof(r->key); i++)
                r->key[i] = (uint8_t)(0x5a ^ (i * 37)); /* no secrecy needed: the log is the admin's */
        r->cfg = cfg;
        r->rs = rs;
        r->names = names;
        r->admin = admin;
        r->out = out;
        (void)names_intern(names, "manual", &ps.manual_rule);
        (void)names_intern(names, "ipv6-network", &ps.net_rule);
        r->policy = policy_new(&ps, names, r->key, &replay_ops, r);
        for (size_t i = 0; i < exempt->n; i++)
                exempt_add(&e, &exempt->v[i], exempt->why[i]);
        policy_set_exempt(r->policy, &e);
        r->sessions = sessions_new(SESSIONS_MAX_DEFAULT);
        htab_init(&r->close_index, &close_ops, r);
        return r;
}

Replay *replay_free(Replay *r)
{
        if (!r)
                return NULL;
        policy_free(r->policy);
        sessions_free(r->sessions);
        htab_free(&r->close_index);
        free(r->close);
        free(r->rule_bans);
        free(r);
        return NULL;
}

static void count_rule_ban(Replay *r, uint16_t rule)
{
        if (rule >= r->n_rule_bans) {
                size_t n = (size_t)rule + 1;
                r->rule_bans = xrealloc(r->rule_bans, n * sizeof(uint64_t));
                memset(r->rule_bans + r->n_rule_bans, 0, (n - r->n_rule_bans) * sizeof(uint64_t));
                r->n_rule_bans = n;
        }
        r->rule_bans[rule]++;
}

/* A ban the policy imposed: its line, and the counts. */
static void print_ban(Replay *r, const PolicyBan *b)
{
        char text[CIDR_STRLEN], a_text[ADDR_STRLEN], t[64];
        bool host = b->plen == addr_host_plen(&b->addr);

        if (b->outcome != POLICY_IMPOSED)
                return;
        if (host)
                snprintf(text, sizeof(text), "%s", addr_format(&b->addr, a_text));
        else
                snprintf(text, sizeof(text), "%s/%u", addr_format(&b->addr, a_text), b->plen);
        fprintf(r->out, "BAN\t%s\t%s\t%s\t%" PRIu32 "\n", format_time(b->at, t, sizeof(t)), text,
                names_get(r->names, b->rule), b->hits);
        count_rule_ban(r, b->rule);
        if (b->repeat)
                r->repeat_bans++;
        if (host) {
                uint32_t i = htab_find(&r->close_index, &b->addr, close_hash(r, &b->addr));
                r->host_bans++;
                if (i != HTAB_NONE)
                        r->close[i].banned = true;
        } else
                r->net_bans++;
}

/* An address one hit short of a rule's threshold: remember the closest call. */
static void note_close(Replay *r, const Addr *a, const Rule *rule, unsigned hits, int64_t at)
{
        uint64_t h = close_hash(r, a);
        uint32_t i = htab_find(&r->close_index, a, h);

        if (i != HTAB_NONE) {
                Close *c = &r->close[i];
                if ((double)hits / rule->max_hits > (double)c->hits / c->max_hits)
                        *c = (Close){*a, rule->id, hits, rule->max_hits, c->banned, at};
                return;
        }
        if (r->n_close >= CLOSE_MAX)
                return;
        GROW(r->close, r->cap_close, r->n_close + 1);
        r->close[r->n_close] = (Close){*a, rule->id, hits, rule->max_hits, false, at};
        htab_insert(&r->close_index, (uint32_t)r->n_close++, h);
}

void replay_record(Replay *r, const LogRecord *rec)
{
        RuleMatch m;
        PolicyVerdict v;
        PolicyExpired *gone;
        Addr client;
        bool in_session, forgot;

        r->records++;
        if (rec->time_ms > 0) {
                if (rec->time_ms > r->clock)
                        r->clock = rec->time_ms;
        } else
                r->timeless++;
        /* the daemon's due timer: expiry follows the clock; the hit is timed
           by its own line (never later than the clock), as in the daemon */
        r->expired += policy_expire(r->policy, r->clock, &gone, &forgot);
        free(gone);
        in_session = sessions_note(r->sessions, rec, &client);
        if (ruleset_match_record(r->rs, rec, &m) <= 0)
                return;
        switch (policy_judge(r->policy,
                             &(PolicyHit){.addr = m.addr,
                                          .rule = m.rule->id,
                                          .max_hits = m.rule->max_hits,
                                          .find_time_ms = m.rule->find_time_ms,
                                          .ban_time_ms = m.rule->ban_time_ms,
                                          .time_ms = rec->time_ms,
                                          .own_reject = m.own_reject,
                                          .logged_in = in_session && addr_equal(&client, &m.addr)},
                             /* judged at its own time, as the daemon following the log
                                then would have: a line older than the newest is no catch-up */
                             rec->time_ms > 0 ? rec->time_ms : r->clock, &v)) {
        case POLICY_OWN_REJECT:
                return;
        case POLICY_LOGGED_IN:
                r->logged_in++;
                return;
        case POLICY_EXEMPT:
                r->exempted++;
                return;
        case POLICY_ALREADY:
                r->already++;
                return;
        case POLICY_HIT:
                break;
        }
        r->hits++;
        print_ban(r, &v.host);
        if (v.count < m.rule->max_hits && m.rule->max_hits > 1 && v.count + 1 == m.rule->max_hits)
                note_close(r, &m.addr, m.rule, v.count, v.at);
        print_ban(r, &v.net);
}

static int close_cmp(const void *a, const void *b)
{
        const Close *x = a, *y = b;
        return x->at < y->at ? -1 : x->at > y->at;
}

void replay_summary(Replay *r, FILE *out)
{
        size_t shown = 0, close = 0;
        char t[64], text[ADDR_STRLEN];

        fprintf(out, "# replay: %" PRIu64 " records, %" PRIu64 " hits counted, %" PRIu64
                     " bans (%" PRIu64 " hosts, %" PRIu64 " networks, %" PRIu64 " of repeat offenders), %" PRIu64
                     " ended within the log\n",
                r->records, r->hits, r->host_bans + r->net_bans, r->host_bans, r->net_bans, r->repeat_bans,
                r->expired);
        fprintf(out, "# not counted: %" PRIu64 " hits of banned addresses, %" PRIu64 " never banned, %" PRIu64
                     " of logged-in sessions; %" PRIu64 " records without a time (taken at the last one)\n",
                r->already, r->exempted, r->logged_in, r->timeless);
        fprintf(out, "# bans per rule:\n");
        for (size_t i = 0; i < r->n_rule_bans; i++)
                if (r->rule_bans[i])
                        fprintf(out, "#   %-28s %" PRIu64 "\n", names_get(r->names, (uint16_t)i), r->rule_bans[i]);
        /* came close: one short of a threshold, and never banned as a host */
        if (r->n_close > 1)
                qsort(r->close, r->n_close, sizeof(Close), close_cmp);
        for (size_t i = 0; i < r->n_close; i++)
                if (!r->close[i].banned)
                        close++;
        fprintf(out, "# came close (a threshold less one, never banned): %zu%s\n", close,
                r->n_close >= CLOSE_MAX ? " (or more: the list is full)" : "");
        for (size_t i = 0; i < r->n_close && shown < CLOSE_SHOWN; i++) {
                const Close *c = &r->close[i];
                if (c->banned)
                        continue;
                fprintf(out, "#   %s\t%s\t%u/%u at %s\n", addr_format(&c->addr, text), names_get(r->names, c->rule),
                        c->hits, c->max_hits, format_time(c->at, t, sizeof(t)));
                shown++;
        }
        if (close > shown)
                fprintf(out, "#   ... and %zu more\n", close - shown);
}
