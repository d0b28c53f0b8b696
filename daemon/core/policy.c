/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * policy: hits become bans.  A hit that passes the never-ban list and is
 * not banned already counts in the tracker; at a rule's max_hits its host
 * is banned, for ban_time escalated by ban_time_factor if it was banned
 * before within ban_memory (a repeat offender).  IPv6 hosts are counted
 * per network too: a network is banned once ipv6_net_hosts of its hosts
 * are, or once its hits reach max_hits x ipv6_net_factor (an attacker who
 * rotates through a /64 never reaches a threshold on one address).
 *
 * Time: a ban runs from the hit's own time, never later than now; a ban
 * already over by now (a catch-up over an old log) is not imposed, but its
 * record is kept for the repeat-offender memory, as if it had run.
 *
 * Invariant: a ban that becomes active is not in the state file yet
 * (Ban.in_state false) until the caller saves it and says so
 * (policy_mark_saved()); the plan holds such bans back while the state is
 * behind, so that no map shows a ban that a restart would drop.
 *
 * Security: the address is the rule's <ADDR>, judged by the caller's
 * rules; here, the never-ban list and the admin's OK entries always win,
 * for a ban by hand or from the fleet too, and a network is only banned
 * if no protected address is inside it.  Memory is bounded by the tracker
 * and ban set caps; the "said once" list of refused networks is bounded.
 */
#include "core/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/tracker.h"
#include "util/util.h"

#define NET_NOTED_MAX 1024 /* networks whose refusal was said; later ones are not "first" */

struct Policy {
        PolicySettings set;
        PolicyOps ops;
        void *ctx;
        Names *names;
        Tracker *tracker;
        Tracker *net_tracker; /* IPv6 hits per network of ipv6_net_prefix */
        Banset *bans;
        Exempt exempt;
        Addr *net_noted;
        size_t n_net_noted, cap_net_noted;
};

static void apply(Policy *p, const PolicySettings *s)
{
        p->set = *s;
        tracker_set_window(p->tracker, s->window_ms);
        tracker_set_max(p->tracker, s->max_tracked);
        tracker_set_window(p->net_tracker, s->window_ms);
        tracker_set_max(p->net_tracker, s->max_tracked);
        banset_set_net_prefix(p->bans, s->ipv6_net_hosts ? s->ipv6_net_prefix : 0);
}

Policy *policy_new(const PolicySettings *s, Names *names, const uint8_t hash_key[16], const PolicyOps *ops,
                   void *ctx)
{
        Policy *p = xcalloc(1, sizeof(*p));

        p->ops = *ops;
        p->ctx = ctx;
        p->names = names;
        p->tracker = tracker_new(s->max_tracked, hash_key);
        p->net_tracker = tracker_new(s->max_tracked, hash_key);
        p->bans = banset_new(hash_key);
        apply(p, s);
        return p;
}

Policy *policy_free(Policy *p)
{
        if (!p)
                return NULL;
        tracker_free(p->tracker);
        tracker_free(p->net_tracker);
        banset_free(p->bans);
        exempt_clear(&p->exempt);
        free(p->net_noted);
        free(p);
        return NULL;
}

void policy_configure(Policy *p, const PolicySettings *s)
{
        apply(p, s);
}

void policy_set_exempt(Policy *p, Exempt *e)
{
        exempt_clear(&p->exempt);
        p->exempt = *e;
        *e = (Exempt){0};
}

/* t + d milliseconds, saturated: times from the state file can be anything
   (a state file damaged by hand, or a ban for ever and a day). */
static int64_t add_ms(int64_t t, uint64_t d)
{
        int64_t r;

        if (d > INT64_MAX || __builtin_add_overflow(t, (int64_t)d, &r))
                return INT64_MAX;
        return r;
}

/* When the record of a ban that ended (or ends) is forgotten. */
static int64_t forget_time(const Policy *p, int64_t expires_ms, int64_t banned_ms)
{
        return add_ms(expires_ms ? expires_ms : banned_ms, p->set.ban_memory_ms);
}

const char *policy_never_banned(const Policy *p, const Addr *a, unsigned plen)
{
        const char *why;

        if (plen == addr_host_plen(a))
                why = exempt_reason(&p->exempt, a);
        else {
                Cidr nets[2] = {{.net = *a, .plen = (uint8_t)plen, .v4 = addr_is_v4(a)}};
                size_t n = p->ops.reach ? p->ops.reach(p->ctx, a, plen, nets) : 1;
                why = exempt_reason_nets(&p->exempt, nets, n);
        }
        if (!why && p->ops.admin)
                why = p->ops.admin(p->ctx, a, plen);
        return why;
}

/*
 * Ban a/plen for rule from at, the time of the hit that crossed the
 * threshold.  A repeat offender (banned before, within ban_memory) gets
 * ban_time_ms escalated.  A ban that would be over by now is not imposed
 * (TOO_LATE): its record is kept for the memory, as if it had run.
 */
static void impose(Policy *p, const Addr *a, uint8_t plen, uint16_t rule, uint64_t ban_time_ms, uint32_t hits,
                   int64_t first_ms, int64_t at, int64_t now, PolicyBan *out)
{
        Ban *b = banset_upsert(p->bans, a, plen);
        bool repeat = !b->active && b->count && forget_time(p, b->expires_ms, b->banned_ms) >= at;
        uint64_t len;

        b->count = repeat ? b->count + 1 : 1;
        b->rule = rule;
        b->manual = false;
        b->remote = false;
        b->hits = hits;
        b->first_hit_ms = first_ms;
        b->last_hit_ms = at;
        b->banned_ms = at;
        len = banset_escalate(ban_time_ms, b->count, p->set.ban_time_factor, p->set.ban_time_max_ms);
        out->addr = *a;
        out->plen = plen;
        out->rule = rule;
        out->hits = hits;
        out->at = at;
        out->len = len;
        if (len && add_ms(at, len) <= now) {
                int64_t forget;
                b->expires_ms = add_ms(at, len);
                forget = forget_time(p, b->expires_ms, b->banned_ms);
                if (forget > now)
                        banset_deactivate(p->bans, b, forget);
                else
                        banset_remove(p->bans, b);
                out->outcome = POLICY_TOO_LATE;
                return;
        }
        if (!b->active)
                b->in_state = false; /* new in the map's eyes: the next save must hold it first */
        banset_activate(p->bans, b, len ? add_ms(at, len) : 0);
        out->outcome = POLICY_IMPOSED;
        out->ban = b;
        out->repeat = b->count > 1;
}

/* Is this the first refusal of net?  (Bounded: later ones are not first.) */
static bool note_net_once(Policy *p, const Addr *net)
{
        for (size_t i = 0; i < p->n_net_noted; i++)
                if (addr_equal(&p->net_noted[i], net))
                        return false;
        if (p->n_net_noted >= NET_NOTED_MAX)
                return false;
        GROW(p->net_noted, p->cap_net_noted, p->n_net_noted + 1);
        p->net_noted[p->n_net_noted++] = *net;
        return true;
}

/*
 * May the IPv6 network out->addr/plen be banned now?  Not if it is banned
 * already (NONE), if no map can hold it (NO_KEY), or if it holds an
 * address that is never banned (REFUSED).
 */
static bool net_bannable(Policy *p, PolicyBan *out)
{
        char key[CIDR_STRLEN];
        const Ban *b = banset_get(p->bans, &out->addr, out->plen);

        if (b && b->active)
                return false;
        if (p->ops.key(p->ctx, &out->addr, out->plen, key, sizeof(key)) < 0) {
                out->outcome = POLICY_NO_KEY;
                return false;
        }
        out->why = policy_never_banned(p, &out->addr, out->plen);
        if (out->why) {
                out->outcome = POLICY_REFUSED;
                out->first = note_net_once(p, &out->addr);
                return false;
        }
        return true;
}

/* Ban a whole IPv6 network once enough of its hosts are banned. */
static void ban_net_of_hosts(Policy *p, const Addr *host, int64_t at, int64_t now,
                             PolicyBan *out)
{
        unsigned plen = p->set.ipv6_net_prefix;
        uint32_t hosts = banset_net_hosts(p->bans, host);

        if (!p->set.ipv6_net_hosts || addr_is_v4(host) || hosts < p->set.ipv6_net_hosts)
                return;
        *out = (PolicyBan){.cause = POLICY_BY_HOSTS,
                           .addr = *host,
                           .plen = (uint8_t)plen,
                           .rule = p->set.net_rule,
                           .hits = hosts,
                           .at = at};
        addr_mask(&out->addr, plen);
        if (!net_bannable(p, out))
                return;
        impose(p, &out->addr, (uint8_t)plen, p->set.net_rule, p->set.ban_time_ms, hosts, at, at, now, out);
}

/* Count an IPv6 hit for its network too, and ban the network at max_hits x ipv6_net_factor. */
static void ban_net_of_hits(Policy *p, const PolicyHit *h, int64_t at, int64_t now,
                            PolicyBan *out)
{
        unsigned plen = p->set.ipv6_net_prefix, need = h->max_hits * p->set.ipv6_net_factor, count;
        Addr net = h->addr;
        int64_t first;

        if (!need || addr_is_v4(&h->addr))
                return;
        addr_mask(&net, plen);
        count = tracker_hit(p->net_tracker, &net, h->rule, h->find_time_ms, need, at, &first);
        if (count < need)
                return;
        tracker_forget(p->net_tracker, &net); /* banned, or told why not: count afresh */
        *out = (PolicyBan){.cause = POLICY_BY_NET_HITS,
                           .addr = net,
                           .plen = (uint8_t)plen,
                           .rule = h->rule,
                           .hits = count,
                           .at = at};
        if (!net_bannable(p, out))
                return;
        impose(p, &net, (uint8_t)plen, h->rule, h->ban_time_ms, count, first, at, now, out);
}

PolicyKind policy_judge(Policy *p, const PolicyHit *h, int64_t now, PolicyVerdict *v)
{
        const Ban *cover;
        int64_t first;

        *v = (PolicyVerdict){.max_hits = h->max_hits};
        if (h->own_reject)
                return v->kind = POLICY_OWN_REJECT;
        if (h->logged_in)
                return v->kind = POLICY_LOGGED_IN; /* a real user: stale recipients are not an attack */
        v->why = policy_never_banned(p, &h->addr, addr_host_plen(&h->addr));
        if (v->why)
                return v->kind = POLICY_EXEMPT;
        /* Under a network ban alone, a host's AUTH may still be open (an
           auth map is looked up by exact address): its hits still count,
           so that its own ban closes AUTH to it. */
        cover = banset_covering(p->bans, &h->addr);
        if (cover && (ban_is_host(cover) || !p->set.count_under_net)) {
                v->cover = cover;
                return v->kind = POLICY_ALREADY;
        }
        v->kind = POLICY_HIT;
        /* the record's own time, where the source knows it (never the future) */
        v->at = h->time_ms > 0 && h->time_ms < now ? h->time_ms : now;
        v->count = tracker_hit(p->tracker, &h->addr, h->rule, h->find_time_ms, h->max_hits, v->at, &first);
        if (v->count >= h->max_hits) {
                v->host.cause = POLICY_BY_HITS;
                impose(p, &h->addr, addr_host_plen(&h->addr), h->rule, h->ban_time_ms, v->count, first, v->at,
                       now, &v->host);
                tracker_forget(p->tracker, &h->addr);
                v->changed = true;
                if (v->host.outcome == POLICY_IMPOSED)
                        ban_net_of_hosts(p, &h->addr, v->at, now, &v->net);
        }
        if (!cover && !banset_covering(p->bans, &h->addr))
                ban_net_of_hits(p, h, v->at, now, &v->net);
        if (v->net.outcome == POLICY_IMPOSED || v->net.outcome == POLICY_TOO_LATE)
                v->changed = true;
        return v->kind;
}

int policy_ban(Policy *p, const Addr *net, uint8_t plen, uint64_t len_ms, int64_t now,
               const Ban **out, const char **why)
{
        char key[CIDR_STRLEN];
        Ban *b;

        *why = NULL;
        if (p->ops.key(p->ctx, net, plen, key, sizeof(key)) < 0)
                return -EDOM;
        *why = policy_never_banned(p, net, plen);
        if (*why)
                return -EPERM;
        b = banset_upsert(p->bans, net, plen);
        b->rule = p->set.manual_rule;
        b->manual = true;
        b->remote = false;
        b->count++;
        b->hits = 0;
        b->first_hit_ms = b->last_hit_ms = 0;
        b->banned_ms = now;
        if (!b->active)
                b->in_state = false; /* the next save must hold it before the map does */
        banset_activate(p->bans, b, len_ms ? add_ms(now, len_ms) : 0);
        if (ban_is_host(b))
                tracker_forget(p->tracker, net);
        *out = b;
        return 0;
}

static int64_t import_expires(const PolicyImport *im, int64_t now)
{
        return im->forever ? 0 : now + im->remaining_ms;
}

PolicyImportCheck policy_import_check(Policy *p, const PolicyImport *im, int64_t now,
                                      const char **why)
{
        const Ban *b = banset_get(p->bans, &im->addr, im->plen);
        char key[CIDR_STRLEN];
        int64_t expires;
        uint16_t origin;

        *why = NULL;
        if (!im->forever && im->remaining_ms <= 0)
                return POLICY_IMPORT_OVER;
        expires = import_expires(im, now);
        if (b && b->active && !b->remote)
                return POLICY_IMPORT_OURS;
        if (b && b->active && b->remote && names_find(p->names, im->origin, &origin) == 0 &&
            origin == b->origin &&
            (im->forever ? b->expires_ms == 0 : b->expires_ms && llabs(b->expires_ms - expires) < 2000))
                return POLICY_IMPORT_SAME; /* a catch-up overlaps what we heard */
        if (p->ops.key(p->ctx, &im->addr, im->plen, key, sizeof(key)) < 0)
                return POLICY_IMPORT_NO_KEY;
        *why = policy_never_banned(p, &im->addr, im->plen);
        return *why ? POLICY_IMPORT_EXEMPT : POLICY_IMPORT_OK;
}

const Ban *policy_import(Policy *p, const PolicyImport *im, uint16_t rule, uint16_t origin, int64_t now)
{
        Ban *b = banset_upsert(p->bans, &im->addr, im->plen);

        b->rule = rule;
        b->manual = false;
        b->remote = true;
        b->origin = origin;
        b->count = im->count;
        b->hits = 0;
        b->first_hit_ms = b->last_hit_ms = 0;
        b->banned_ms = im->age_ms > 0 && im->age_ms < now ? now - im->age_ms : now;
        if (!b->active)
                b->in_state = false; /* new in the map's eyes: the next save must hold it first */
        banset_activate(p->bans, b, import_expires(im, now));
        if (ban_is_host(b))
                tracker_forget(p->tracker, &b->addr);
        return b;
}

int policy_restore(Policy *p, const PolicyRecord *r, int64_t now)
{
        bool live = r->active && (r->expires_ms == 0 || r->expires_ms > now);
        int64_t forget = forget_time(p, r->expires_ms, r->banned_ms);
        uint16_t rule;
        Ban *b;

        if (!live && forget <= now)
                return -ESTALE; /* ended, and out of memory too */
        if (names_intern(p->names, r->rule, &rule) < 0)
                return -ENOSPC;
        b = banset_upsert(p->bans, &r->addr, r->plen);
        b->rule = rule;
        b->manual = r->manual;
        b->count = r->count;
        b->hits = r->hits;
        b->first_hit_ms = r->first_hit_ms;
        b->last_hit_ms = r->last_hit_ms;
        b->banned_ms = r->banned_ms;
        b->expires_ms = r->expires_ms;
        b->remote = r->origin && r->origin[0] && names_intern(p->names, r->origin, &b->origin) == 0;
        if (!live) {
                banset_deactivate(p->bans, b, forget);
                return 0;
        }
        b->in_state = true; /* it comes from there */
        banset_activate(p->bans, b, r->expires_ms);
        return 1;
}

void policy_lift(Policy *p, const Ban *ban)
{
        Ban *b = (Ban *)ban; /* ours: the caller only reads it */

        if (ban_is_host(b))
                tracker_forget(p->tracker, &b->addr);
        banset_remove(p->bans, b);
}

void policy_forget_hits(Policy *p, const Addr *a)
{
        tracker_forget(p->tracker, a);
}

size_t policy_flush(Policy *p)
{
        _cleanup_free_ Ban **v = NULL;
        size_t n = banset_list(p->bans, false, &v);

        for (size_t i = 0; i < n; i++)
                policy_lift(p, v[i]);
        return n;
}

size_t policy_expire(Policy *p, int64_t now, PolicyExpired **out, bool *forgot)
{
        PolicyExpired *v = NULL;
        size_t n = 0, cap = 0;
        Ban *b;

        *forgot = false;
        while ((b = banset_pop_due(p->bans, now))) {
                if (!b->active) {
                        banset_remove(p->bans, b); /* out of the repeat-offender memory */
                        *forgot = true;
                        continue;
                }
                GROW(v, cap, n + 1);
                v[n++] = (PolicyExpired){b->addr, b->plen, b->rule};
                /* remembered from its end on, as policy_restore() and the
                   repeat-offender check count it */
                if (p->set.ban_memory_ms)
                        banset_deactivate(p->bans, b, forget_time(p, b->expires_ms, b->banned_ms));
                else
                        banset_remove(p->bans, b);
        }
        *out = v;
        return n;
}

int64_t policy_next_due(const Policy *p)
{
        return banset_next_due(p->bans);
}

/* Is this host ban covered by an active network ban, which the access map shows instead? */
static bool under_net_ban(Policy *p, const Ban *b, bool state_behind)
{
        const Ban *net;

        /* With a cidr: network map the hosts stay in the access map too: if
           smtpd was not pointed at the network map, they are still banned. */
        if (addr_is_v4(&b->addr) || b->plen != 128 || p->set.network_map)
                return false;
        net = banset_get(p->bans, &b->addr, (uint8_t)p->set.ipv6_net_prefix);
        /* a network ban held back (the state does not hold it yet) is not
           written: the host must be, or it would be open again */
        return net && net->active && (!state_behind || net->in_state);
}

void policy_plan_start(Policy *p, PolicyPlan *it, PolicyPlanKind kind,
                       bool state_behind)
{
        *it = (PolicyPlan){.p = p, .kind = kind, .state_behind = state_behind};
        it->n = banset_list(p->bans, true, &it->v);
}

bool policy_plan_next(PolicyPlan *it, PolicyEntry *e)
{
        while (it->i < it->n) {
                Ban *b = it->v[it->i++];
                bool host = ban_is_host(b);

                if (it->kind == POLICY_PLAN_HOSTS && !host)
                        continue;
                if (it->p->ops.key(it->p->ctx, &b->addr, b->plen, e->key, sizeof(e->key)) < 0)
                        continue;
                if (it->kind == POLICY_PLAN_ACCESS && host && under_net_ban(it->p, b, it->state_behind))
                        continue;
                e->ban = b;
                /* added to the ignore list or set OK since the ban: to lift */
                e->exempt = policy_never_banned(it->p, &b->addr, b->plen);
                e->held = it->state_behind && !b->in_state;
                return true;
        }
        return false;
}

void policy_plan_end(PolicyPlan *it)
{
        free(it->v);
        it->v = NULL;
        it->n = it->i = 0;
}

const Ban *policy_get(Policy *p, const Addr *a, uint8_t plen)
{
        return banset_get(p->bans, a, plen);
}

const Ban *policy_covering(Policy *p, const Addr *a)
{
        return banset_covering(p->bans, a);
}

size_t policy_list(Policy *p, bool active_only, const Ban ***out)
{
        return banset_list(p->bans, active_only, (Ban ***)out);
}

size_t policy_take_changes(Policy *p, BanChange **out)
{
        return banset_take_changes(p->bans, out);
}

void policy_clear_changes(Policy *p)
{
        banset_clear_changes(p->bans);
}

void policy_mark_saved(Policy *p, const Ban *b)
{
        (void)p;
        ((Ban *)b)->in_state = b->active;
}

void policy_tidy(Policy *p, int64_t now)
{
        tracker_expire(p->tracker, now);
}

size_t policy_active(const Policy *p)
{
        return banset_active(p->bans);
}

void policy_stats(const Policy *p, PolicyStats *s)
{
        s->active = banset_active(p->bans);
        s->records = banset_records(p->bans);
        s->tracked = tracker_count(p->tracker);
        s->evicted = tracker_evictions(p->tracker);
        s->tracker_memory = tracker_memory(p->tracker) + tracker_memory(p->net_tracker);
        s->ban_memory = banset_memory(p->bans);
}
