/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * replay: the daemon's ban policy on the log's clock, for --test --replay.
 *
 * It uses the daemon's own parts: tracker.c for the thresholds (and the
 * per-network counts of ipv6_net_factor), banset.c for the bans, their
 * expiry and the repeat-offender escalation, exempt.c for the never-ban
 * list, session.c for the logged-in sessions.  The decisions that glue
 * them together (hit, threshold, impose, network bans, expiry) mirror
 * daemon.c's on_record(), ban(), impose(), maybe_ban_net(),
 * maybe_ban_prefix() and due_cb(), without the map, the state file and
 * the log: that glue is duplicated until both use one Policy module.
 *
 * The clock is the records' time, kept monotone (a line a little older
 * than the one before does not move it back), so that bans expire in
 * log order.  Security: as in the daemon, only a rule's <ADDR> names an
 * address; the summary's "came close" list is bounded.
 */
#include "service/replay.h"

#include <inttypes.h>

#include "core/banset.h"
#include "util/htab.h"
#include "core/session.h"
#include "core/tracker.h"
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

typedef struct RuleCount {
        uint64_t bans;
} RuleCount;

struct Replay {
        const Config *cfg;
        RuleSet *rs;
        Names *names;
        const Exempt *exempt;
        const AdminKeys *admin;
        FILE *out;
        Tracker *tracker, *net_tracker;
        Banset *bans;
        Sessions *sessions;
        uint16_t net_rule;
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

static uint64_t close_entry_hash(const void *ctx, uint32_t i)
{
        const Replay *r = ctx;
        return close_hash(r, &r->close[i].addr);
}

static bool close_equal(const void *ctx, uint32_t i, const void *key)
{
        return addr_equal(&((const Replay *)ctx)->close[i].addr, key);
}

static const HTabOps close_ops = {close_entry_hash, close_equal};

Replay *replay_new(const Config *cfg, RuleSet *rs, Names *names, const Exempt *exempt, const AdminKeys *admin,
                   FILE *out)
{
        Replay *r = xcalloc(1, sizeof(*r));

        for (size_t i = 0; i < sizeof(r->key); i++)
                r->key[i] = (uint8_t)(0x5a ^ (i * 37)); /* no secrecy needed: the log is the admin's */
        r->cfg = cfg;
        r->rs = rs;
        r->names = names;
        r->exempt = exempt;
        r->admin = admin;
        r->out = out;
        r->tracker = tracker_new(cfg->max_tracked, r->key);
        tracker_set_window(r->tracker, ruleset_max_find_time(rs));
        r->net_tracker = tracker_new(cfg->max_tracked, r->key);
        tracker_set_window(r->net_tracker, ruleset_max_find_time(rs));
        r->bans = banset_new(r->key);
        banset_set_net_prefix(r->bans, cfg->ipv6_net_hosts ? cfg->ipv6_net_prefix : 0);
        r->sessions = sessions_new(SESSIONS_MAX_DEFAULT);
        (void)names_intern(names, "ipv6-network", &r->net_rule);
        htab_init(&r->close_index, &close_ops, r);
        return r;
}

Replay *replay_free(Replay *r)
{
        if (!r)
                return NULL;
        tracker_free(r->tracker);
        tracker_free(r->net_tracker);
        banset_free(r->bans);
        sessions_free(r->sessions);
        htab_free(&r->close_index);
        free(r->close);
        free(r->rule_bans);
        free(r);
        return NULL;
}

static int64_t add_ms(int64_t t, uint64_t d)
{
        int64_t v;

        if (d > INT64_MAX || __builtin_add_overflow(t, (int64_t)d, &v))
                return INT64_MAX;
        return v;
}

static int64_t forget_time(const Replay *r, const Ban *b)
{
        return add_ms(b->expires_ms ? b->expires_ms : b->banned_ms, r->cfg->ban_memory_ms);
}

/* The daemon's due_cb(): bans end, remembered ones are forgotten. */
static void expire(Replay *r)
{
        Ban *b;

        while ((b = banset_pop_due(r->bans, r->clock))) {
                if (!b->active) {
                        banset_remove(r->bans, b);
                        continue;
                }
                r->expired++;
                if (r->cfg->ban_memory_ms)
                        banset_deactivate(r->bans, b, add_ms(b->expires_ms, r->cfg->ban_memory_ms));
                else
                        banset_remove(r->bans, b);
        }
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

/* The daemon's impose(), on the log clock: a ban always starts now. */
static Ban *impose(Replay *r, const Addr *a, uint8_t plen, uint16_t rule, uint64_t ban_time_ms, uint32_t hits,
                   int64_t first_ms, int64_t at)
{
        Ban *b = banset_upsert(r->bans, a, plen);
        bool repeat = !b->active && b->count && forget_time(r, b) >= at;
        uint64_t len;
        char text[CIDR_STRLEN], a_text[ADDR_STRLEN], t[64];

        b->count = repeat ? b->count + 1 : 1;
        b->rule = rule;
        b->manual = false;
        b->hits = hits;
        b->first_hit_ms = first_ms;
        b->last_hit_ms = at;
        b->banned_ms = at;
        len = banset_escalate(ban_time_ms, b->count, r->cfg->ban_time_factor, r->cfg->ban_time_max_ms);
        banset_activate(r->bans, b, len ? add_ms(at, len) : 0);
        if (plen == addr_host_plen(a))
                snprintf(text, sizeof(text), "%s", addr_format(a, a_text));
        else
                snprintf(text, sizeof(text), "%s/%u", addr_format(a, a_text), plen);
        fprintf(r->out, "BAN\t%s\t%s\t%s\t%" PRIu32 "\n", format_time(at, t, sizeof(t)), text,
                names_get(r->names, rule), hits);
        count_rule_ban(r, rule);
        if (repeat)
                r->repeat_bans++;
        if (plen == addr_host_plen(a)) {
                uint32_t i = htab_find(&r->close_index, a, close_hash(r, a));
                if (i != HTAB_NONE)
                        r->close[i].banned = true;
        }
        return b;
}

/* The daemon's net_bannable(), without its notes: a map key (or network_map) and no exemption. */
static bool net_bannable(Replay *r, const Addr *net, unsigned plen)
{
        char key[CIDR_STRLEN];
        Ban *b = banset_get(r->bans, net, (uint8_t)plen);
        Cidr nets[2] = {{.net = *net, .plen = (uint8_t)plen, .v4 = addr_is_v4(net)}};
        size_t n = 1;

        if (b && b->active)
                return false;
        if (r->cfg->network_map)
                key[0] = '\0';
        else if (mapfile_key(net, plen, key, sizeof(key)) < 0)
                return false;
        if (key[0])
                n += mapfile_key_reach(net, key, &nets[1]);
        return !exempt_reason_nets(r->exempt, nets, n) && !adminkeys_exempts(r->admin, net, key[0] ? key : NULL);
}

/* The daemon's maybe_ban_net(): enough hosts of a network banned. */
static void maybe_ban_net(Replay *r, const Addr *host, int64_t at)
{
        unsigned plen = r->cfg->ipv6_net_prefix;
        uint32_t hosts = banset_net_hosts(r->bans, host);
        Addr net = *host;

        if (!r->cfg->ipv6_net_hosts || addr_is_v4(host) || hosts < r->cfg->ipv6_net_hosts)
                return;
        addr_mask(&net, plen);
        if (!net_bannable(r, &net, plen))
                return;
        (void)impose(r, &net, (uint8_t)plen, r->net_rule, r->cfg->ban_time_ms, hosts, at, at);
        r->net_bans++;
}

/* The daemon's maybe_ban_prefix(): a network's hits of one rule. */
static void maybe_ban_prefix(Replay *r, const Addr *host, const Rule *rule, int64_t at)
{
        unsigned plen = r->cfg->ipv6_net_prefix, need = rule->max_hits * r->cfg->ipv6_net_factor, count;
        Addr net = *host;
        int64_t first;

        if (!need || addr_is_v4(host))
                return;
        addr_mask(&net, plen);
        count = tracker_hit(r->net_tracker, &net, rule->id, rule->find_time_ms, need, at, &first);
        if (count < need)
                return;
        tracker_forget(r->net_tracker, &net);
        if (!net_bannable(r, &net, plen))
                return;
        (void)impose(r, &net, (uint8_t)plen, rule->id, rule->ban_time_ms, count, first, at);
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
        Addr client;
        bool in_session;
        unsigned count;
        int64_t first, at;

        r->records++;
        if (rec->time_ms > 0) {
                if (rec->time_ms > r->clock)
                        r->clock = rec->time_ms;
        } else
                r->timeless++;
        /* the hit is timed by its own line, as in the daemon; expiry follows the clock */
        at = rec->time_ms > 0 ? rec->time_ms : r->clock;
        expire(r);
        in_session = sessions_note(r->sessions, rec, &client);
        if (ruleset_match_record(r->rs, rec, &m) <= 0 || m.own_reject)
                return;
        if (in_session && addr_equal(&client, &m.addr)) {
                r->logged_in++;
                return;
        }
        if (exempt_reason(r->exempt, &m.addr) || adminkeys_exempts(r->admin, &m.addr, NULL)) {
                r->exempted++;
                return;
        }
        if (banset_covering(r->bans, &m.addr)) {
                r->already++;
                return;
        }
        r->hits++;
        count = tracker_hit(r->tracker, &m.addr, m.rule->id, m.rule->find_time_ms, m.rule->max_hits, at,
                            &first);
        if (count >= m.rule->max_hits) {
                tracker_forget(r->tracker, &m.addr);
                (void)impose(r, &m.addr, addr_host_plen(&m.addr), m.rule->id, m.rule->ban_time_ms, count, first,
                             at);
                r->host_bans++;
                maybe_ban_net(r, &m.addr, at);
        } else if (m.rule->max_hits > 1 && count + 1 == m.rule->max_hits)
                note_close(r, &m.addr, m.rule, count, at);
        if (!banset_covering(r->bans, &m.addr))
                maybe_ban_prefix(r, &m.addr, m.rule, at);
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
