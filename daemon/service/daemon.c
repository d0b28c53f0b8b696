/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * daemon: the glue.  One libev loop, no threads.  Lines from tail go to
 * rules; a match goes to the policy (core/policy.c: the never-ban check,
 * the tracker, the bans), whose verdict is logged here; a change of bans
 * asks the map writer for a new map.  One ev_periodic, armed for the earliest due time, lifts
 * bans when they expire and forgets old records (wall-clock time, as bans
 * outlive restarts).  SIGHUP reloads, SIGTERM stops after the last map
 * write.
 *
 * Time: a hit is timed by its line's own stamp (never later than now),
 * and a ban runs from the time of the hit that crossed the threshold, so
 * that a catch-up over an old log does the same as following it would
 * have; a ban already over by now is not imposed.  The hits of a
 * logged-in smtpd session (session.c) are not counted.
 *
 * Invariant: a ban is written to the map only after it is in the state
 * file.  The state is saved by a child (saver.c) soon after the bans
 * change, so that the save has normally ended when the map writer
 * renders; while it is under way, or if it failed, the render leaves out
 * every active ban that the last good save does not hold (unbans and
 * expiries still go through), and the end of the save (or its retry,
 * with backoff) asks for the write that shows them.  So a kill -9 can
 * never leave a ban in the map that a restart would drop.
 *
 * Readiness: READY=1 comes when the rules are loaded, the log is followed
 * and the first map write has ended, in success or failure, or after
 * READY_WAIT_S at most.  A map that cannot be written does not stop us
 * from following the log and banning in memory; STATUS says so, and the
 * writer retries.
 *
 * Where bans go is the backends' business (backend/backend.h): the access
 * map, the auth map, the cidr: network map and the fleet are entries of
 * one registry, and this file only iterates the set: it plans what a
 * snapshot shows (plan()), answers a flush once every backend shows its
 * generation, and logs what the backends tell.  A host under a network
 * ban still has its hits counted when a backend is looked up by exact
 * address only (the auth map), so that a host that goes on failing is
 * banned, and shut out of AUTH, on its own.
 */
#include "service/daemon-internal.h"

#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/random.h>
#include <sysexits.h>
#include <time.h>

#include "backend/fleet.h"
#include "service/log.h"
#include "service/postconf.h"
#include "service/saver.h"
#include "service/sources.h"
#include "service/state.h"
#include "util/util.h"

#define STOP_TIMEOUT_S 30.0
/* Save the state this soon after the bans change (if no map write did it
   first), and at most this late after the log position moved (a crash
   re-reads at most that much). */
#define SAVE_BANS_S 2.0
#define SAVE_POSITION_S 60.0
#define READY_WAIT_S 5.0

/* --- configuration ------------------------------------------------------ */

static void log_diags(const Diags *d, const char *prefix)
{
        for (size_t i = 0; i < d->n; i++)
                log_event(LOG_EVENT_NONE, LOG_ERR, NULL, "%s%s", prefix, d->items[i]);
}

static int load_rules(Daemon *d, const Config *cfg, RuleSet **out, Diags *errors)
{
        Diags warnings = {0};
        int r = config_load_rules(cfg, d->opts->rules_override, d->names, out, errors, &warnings);

        for (size_t i = 0; i < warnings.n; i++)
                log_warn("%s", warnings.items[i]);
        diags_free(&warnings);
        return r;
}

/* The addresses of this machine's interfaces: never banned. */
static void add_local_addresses(Exempt *e)
{
        struct ifaddrs *ifa, *i;

        if (getifaddrs(&ifa) < 0) {
                log_warn("getifaddrs: %m; this host's own addresses are not protected");
                return;
        }
        for (i = ifa; i; i = i->ifa_next) {
                Cidr c = {0};
                if (!i->ifa_addr)
                        continue;
                if (i->ifa_addr->sa_family == AF_INET) {
                        static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
                        memcpy(c.net.b, mapped, 12);
                        memcpy(c.net.b + 12, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
                        c.plen = 32;
                        c.v4 = true;
                } else if (i->ifa_addr->sa_family == AF_INET6) {
                        memcpy(c.net.b, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
                        c.plen = 128;
                        c.v4 = addr_is_v4(&c.net);
                        if (c.v4)
                                c.plen = 32;
                } else
                        continue;
                exempt_add(e, &c, "an address of this host");
        }
        freeifaddrs(ifa);
}

/* ignore_mynetworks: what "postconf -h mynetworks" said (r, out). */
static void add_mynetworks(const Config *cfg, Exempt *e, int r, const char *out)
{
        Diags skipped = {0};
        size_t n;

        if (r < 0) {
                _cleanup_free_ char *said = xstrdup(out ? out : "");
                log_err("ignore_mynetworks: %s -h mynetworks failed: %s; mynetworks is not protected",
                        cfg->postconf[0], r == -EIO && out ? strip(said) : strerror(-r));
                return;
        }
        n = exempt_add_mynetworks(e, out, "mynetworks", &skipped);
        for (size_t i = 0; i < skipped.n; i++)
                log_warn("ignore_mynetworks: '%s' in mynetworks is not an address or network; it is not read",
                         skipped.items[i]);
        diags_free(&skipped);
        log_info("ignore_mynetworks: %zu networks from mynetworks are never banned", n);
}

/* Run cfg's postconf with these arguments: its output, or NULL (*r says why). */
static char *postconf_out(const Config *cfg, const char *a1, const char *a2, int *r)
{
        size_t n = strv_length(cfg->postconf);
        _cleanup_free_ char **argv = xcalloc(n + 3, sizeof(char *));
        char *out = NULL;

        for (size_t i = 0; i < n; i++)
                argv[i] = cfg->postconf[i];
        argv[n] = (char *)a1;
        argv[n + 1] = (char *)a2;
        *r = run_capture(argv, 1 << 20, 10000, &out);
        if (*r < 0 && *r != -EIO) {
                free(out);
                return NULL;
        }
        return out; /* on -EIO: what it said */
}

/*
 * network_map: its bans do nothing unless smtpd looks the client up in it,
 * and nothing else would tell the admin.  Look for "cidr:PATH" in main.cf
 * (postconf -n, restriction classes included) and in master.cf's -o
 * overrides (postconf -P).
 */
static void network_map_verdict(const Config *cfg, int r, const char *main_cf, const char *master_cf)
{
        _cleanup_free_ char *needle = xasprintf("cidr:%s", cfg->network_map);

        if (!main_cf) {
                log_warn("network_map: cannot read Postfix's settings with %s -n (%s); make sure "
                         "smtpd_client_restrictions has check_client_access %s after the access map",
                         cfg->postconf[0], strerror(-r), needle);
                return;
        }
        if (!strstr(main_cf, needle) && !(master_cf && strstr(master_cf, needle)))
                log_warn("network_map: Postfix's settings do not name %s; network bans have no effect until "
                         "smtpd_client_restrictions has check_client_access %s after the access map (their "
                         "banned hosts stay in the access map)",
                         needle, needle);
}

/* At the start (the loop does not run yet): ask postconf and wait. */
static void check_network_map(const Config *cfg)
{
        _cleanup_free_ char *main_cf = NULL, *master_cf = NULL;
        int r, r2;

        if (!cfg->network_map)
                return;
        main_cf = postconf_out(cfg, "-n", NULL, &r);
        if (r < 0)
                main_cf = mfree(main_cf);
        if (main_cf) {
                master_cf = postconf_out(cfg, "-P", NULL, &r2);
                if (r2 < 0)
                        master_cf = mfree(master_cf);
        }
        network_map_verdict(cfg, r, main_cf, master_cf);
}

/* At a reload: the same, with postconf's answers on the loop. */
typedef struct NetworkMapCheck {
        Daemon *d;
        int r;
        char *main_cf;
} NetworkMapCheck;

static void network_map_master_cb(void *ctx, int r, const char *out)
{
        NetworkMapCheck *c = ctx;

        if (r != -ECANCELED && c->d->cfg->network_map)
                network_map_verdict(c->d->cfg, c->r, c->main_cf, r == 0 ? out : NULL);
        free(c->main_cf);
        free(c);
}

static void network_map_main_cb(void *ctx, int r, const char *out)
{
        NetworkMapCheck *c = ctx;

        if (r == 0 && c->d->cfg->network_map) {
                c->main_cf = xstrdup(out);
                postconf_ask(c->d->postconf, c->d->cfg->postconf, "-P", NULL, network_map_master_cb, c);
                return;
        }
        if (r != -ECANCELED && c->d->cfg->network_map)
                network_map_verdict(c->d->cfg, r, NULL, NULL);
        free(c);
}

static void check_network_map_async(Daemon *d)
{
        NetworkMapCheck *c;

        if (!d->cfg->network_map)
                return;
        c = xcalloc(1, sizeof(NetworkMapCheck));
        c->d = d;
        postconf_ask(d->postconf, d->cfg->postconf, "-n", NULL, network_map_main_cb, c);
}

/* Build the never-ban list for cfg into e, with postconf's answer about mynetworks. */
static void build_exempt_with(const Config *cfg, Exempt *e, int mynetworks_r, const char *mynetworks)
{
        for (size_t i = 0; i < cfg->n_ignore; i++)
                exempt_add(e, &cfg->ignore[i], "ignore list");
        add_local_addresses(e);
        if (cfg->ignore_mynetworks)
                add_mynetworks(cfg, e, mynetworks_r, mynetworks);
        if (!cfg->ban_private)
                exempt_add_private(e);
}

/* Build the never-ban list for cfg into e (at the start: postconf is waited for). */
static void build_exempt(const Config *cfg, Exempt *e)
{
        _cleanup_free_ char *out = NULL;
        int r = 0;

        if (cfg->ignore_mynetworks)
                out = postconf_out(cfg, "-h", "mynetworks", &r);
        build_exempt_with(cfg, e, r, out);
}

/*
 * At a reload with ignore_mynetworks: the never-ban list of the new
 * config replaces the old one once postconf has said what mynetworks
 * is; until then the old one stays (no moment with mynetworks open).
 */
static void reload_mynetworks_cb(void *ctx, int r, const char *out)
{
        Daemon *d = ctx;
        Exempt e = {0};

        if (r == -ECANCELED)
                return;
        build_exempt_with(d->cfg, &e, r, out);
        policy_set_exempt(d->policy, &e);
        /* bans of addresses that mynetworks now covers are lifted by the render */
        (void)daemon_map_request(d, false);
}

const char *daemon_private_policy(const Daemon *d)
{
        return d->cfg->ban_private ? "may be banned (ban_private = yes)"
                                   : "never banned (ban_private = no): 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, "
                                     "100.64.0.0/10, 169.254.0.0/16, fc00::/7, fe80::/10";
}

/* The policy's settings from cfg and the rules. */
static void policy_settings(const Daemon *d, const Config *cfg, const RuleSet *rules, bool auth_map,
                            PolicySettings *s)
{
        config_policy_settings(cfg, ruleset_max_find_time(rules), s);
        s->count_under_net = auth_map;
        s->manual_rule = d->manual_rule;
        s->net_rule = d->net_rule;
}

/* What belongs to the backends, for the policy: keys, the networks they reach, the admin's entries. */
static int policy_key(void *ctx, const Addr *net, unsigned plen, char *key, size_t size)
{
        Daemon *d = ctx;
        return backends_key(d->backends, net, plen, key, size);
}

static size_t policy_reach(void *ctx, const Addr *net, unsigned plen, Cidr out[2])
{
        Daemon *d = ctx;
        return backends_reach(d->backends, net, plen, out);
}

static const char *policy_admin(void *ctx, const Addr *net, unsigned plen)
{
        Daemon *d = ctx;
        return backends_admin_exempts(d->backends, net, plen);
}

static const PolicyOps policy_ops = {policy_key, policy_reach, policy_admin};

/* --- state -------------------------------------------------------------- */

static void schedule_save(Daemon *d, double within);

/* The state file may not hold every active ban: a save is due, under way, or failed. */
bool daemon_state_behind(const Daemon *d) { return d->bans_dirty || saver_busy(d->saver); }

void daemon_schedule_save(Daemon *d, double within) { schedule_save(d, within); }

/* The map write that bans wait for, once the state holds them (or there was nothing to save). */
void daemon_map_after_save(Daemon *d)
{
        if (!d->map_after_save || d->stopping)
                return;
        d->map_after_save = false;
        (void)daemon_map_request(d, false);
}

static void save_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Daemon *d = w->data;

        (void)loop;
        (void)revents;
        d->save_due = 0;
        saver_start(d->saver);
        if (!saver_busy(d->saver))
                daemon_map_after_save(d); /* nothing was new, or the fork failed */
}

/* Save within `within` seconds (sooner if a save is already due sooner). */
static void schedule_save(Daemon *d, double within)
{
        ev_tstamp due = ev_now(d->loop) + within;

        if (d->save_due && d->save_due <= due)
                return;
        ev_timer_stop(d->loop, &d->save_timer);
        ev_timer_set(&d->save_timer, within, 0.);
        ev_timer_start(d->loop, &d->save_timer);
        d->save_due = due;
}

/* Read the state file; a damaged one is kept aside and we start fresh. */
static void load_state(Daemon *d, State *st)
{
        _cleanup_free_ char *why = NULL;
        StateLogInfo info;
        int r = state_load_info(d->cfg->state_file, st, &why, &info);

        if (r == -ENOENT)
                return;
        /* What a crash left in the change log, and what of it was used */
        if (r == 0 && info.skipped)
                log_info("%s.log: not used: %s", d->cfg->state_file, info.skipped);
        else if (r == 0 && info.ignored)
                log_info("%s.log: %zu bytes of a batch cut short ignored (a crash while it was written)",
                         d->cfg->state_file, info.ignored);
        if (r == 0 && info.batches)
                log_debug("%s.log: %zu batches of changes applied", d->cfg->state_file, info.batches);
        if (r == -EBADMSG) {
                _cleanup_free_ char *aside = state_set_aside(d->cfg->state_file);
                log_warn("%s: damaged (%s); starting without it%s%s", d->cfg->state_file, why,
                         aside ? ", the file is kept as " : "", aside ? aside : "");
                return;
        }
        if (r < 0)
                log_warn("%s: %s; starting without it", d->cfg->state_file, why ? why : strerror(-r));
}

/* The bans of the state file, as they stand now. */
static void restore_bans(Daemon *d, const State *st, int64_t now)
{
        size_t active = 0, remembered = 0;

        for (size_t i = 0; i < st->n_bans; i++) {
                const StateBan *sb = &st->bans[i];
                int r = policy_restore(d->policy,
                                       &(PolicyRecord){sb->addr, sb->plen, sb->rule, sb->origin, sb->active,
                                                       sb->manual, sb->count, sb->hits, sb->first_hit_ms,
                                                       sb->last_hit_ms, sb->banned_ms, sb->expires_ms},
                                       now);

                if (r == 1)
                        active++;
                else if (r == 0)
                        remembered++;
        }
        if (st->n_bans)
                log_info("%s: restored %zu bans (and %zu ended ones, remembered for repeat offenders)",
                         d->cfg->state_file, active, remembered);
        /* They come from the file, and the first save is a full one: not
           changes to list on the loop at that save (1,000,000 of them). */
        policy_clear_changes(d->policy);
}

/* --- bans and the map --------------------------------------------------- */

/* The due watcher is an ev_periodic, at an absolute wall-clock time, as a
   ban's end is: so libev must notice when the clock is set.  Unless it has
   a timerfd for that (TFD_TIMER_CANCEL_ON_SET: the kernel tells it), libev
   wakes every 59.743 s (MAX_BLOCKTIME in ev.c) just to look, and libev 4.33
   makes that timerfd only at the first ev_periodic_start.  So start and stop
   the due watcher once, before the loop runs (it cannot fire): from then on
   libev sleeps until something happens, and an idle daemon without a ban
   or a watchdog never wakes (issue 15).  Where libev has no timerfd this
   changes nothing. */
static void daemon_watch_clock(Daemon *d)
{
        ev_periodic_set(&d->due, ev_now(d->loop) + 86400., 0., NULL);
        ev_periodic_start(d->loop, &d->due);
        ev_periodic_stop(d->loop, &d->due);
}

void daemon_arm_due(Daemon *d)
{
        int64_t next = policy_next_due(d->policy);

        ev_periodic_stop(d->loop, &d->due);
        if (next) {
                ev_periodic_set(&d->due, (double)next / 1000.0, 0., NULL);
                ev_periodic_start(d->loop, &d->due);
        }
}

/* The one-line summary for systemd's STATUS=. */
static char *status_line(Daemon *d)
{
        Buf b = {0};
        PolicyStats ps;
        size_t bans, tracked;

        policy_stats(d->policy, &ps);
        bans = ps.active;
        tracked = ps.tracked;

        buf_printf(&b, "%zu ban%s, %zu address%s tracked", bans, bans == 1 ? "" : "s", tracked,
                   tracked == 1 ? "" : "es");
        if (d->stats.last_ban_ms) {
                char t[64];
                buf_printf(&b, "; last ban %s (%s) at %s", d->stats.last_ban, d->stats.last_ban_rule,
                           format_time(d->stats.last_ban_ms, t, sizeof(t)));
        }
        backends_status_short(d->backends, &b);
        if (source_problem(d->source))
                buf_printf(&b, "; log %s: %s", source_label(d->source), source_problem(d->source));
        if (d->save_failing)
                buf_printf(&b, "; state not saved, new bans held back, retrying: %s", d->save_error);
        {
                char h[256];
                if (health_problem(&d->health, h, sizeof(h)))
                        buf_printf(&b, "; %s", h);
        }
        return b.data;
}

uint64_t daemon_map_request(Daemon *d, bool now)
{
        return backends_request(d->backends, now);
}

void daemon_set_blocks(Daemon *d, bool present)
{
        backends_set_block(d->backends, present);
}

static char *status_text(void *d) { return status_line(d); }

void daemon_status_changed(Daemon *d)
{
        if (d->ready)
                notify_status_later(d->notify, status_text, d);
}

/*
 * The bans changed: the state first, then the map, then the timer.  The
 * save starts at the end of this loop iteration (every ban of one read
 * shares it), in a child (saver.c); its end asks for the map write, which
 * the writer starts at once after a quiet spell.  So the map never waits
 * for a save on the loop, and a write does not render while the bans it
 * should show are still unsaved (it would hold them back, and cost a
 * second write).  While saves fail, the retry keeps its backoff and the
 * map is asked for now: lifts go out, unsaved bans are held back.
 */
void daemon_bans_changed(Daemon *d)
{
        d->bans_dirty = true;
        daemon_arm_due(d);
        if (d->save_failing)
                (void)daemon_map_request(d, false);
        else {
                d->map_after_save = true;
                schedule_save(d, 0.);
        }
        daemon_status_changed(d);
}

char *daemon_ban_text(const Ban *ban, char *buf)
{
        char a[ADDR_STRLEN];

        if (ban_is_host(ban))
                snprintf(buf, CIDR_STRLEN, "%s", addr_format(&ban->addr, a));
        else
                snprintf(buf, CIDR_STRLEN, "%s/%u", addr_format(&ban->addr, a), ban->plen);
        return buf;
}

void daemon_lift(Daemon *d, const Ban *ban, const char *why)
{
        char text[CIDR_STRLEN];

        daemon_ban_text(ban, text);
        log_event(LOG_EVENT_UNBAN, LOG_NOTICE,
                  &(LogFields){.address = text, .rule = names_get(d->names, ban->rule)}, "unban %s: %s", text,
                  why);
        policy_lift(d->policy, ban);
        d->stats.unbans++;
        daemon_bans_changed(d);
}

const char *daemon_never_ban(const Daemon *d, const Addr *net, unsigned plen)
{
        return policy_never_banned(d->policy, net, plen);
}

/*
 * On the loop, right before the fork that renders b: the state holds
 * every ban before a map does.  If it is behind (a save is due or under
 * way, or failing), the render holds back the bans it does not hold, and
 * the end of the save asks for the write that shows them.  Nothing is
 * saved here: a hung disk must not hang the loop.
 */
static void prepare(void *ctx, BanBackend *b)
{
        Daemon *d = ctx;

        (void)b;
        /* The last write at a stop shows every ban: nothing follows it to wait for a child. */
        if (d->stopping && daemon_state_behind(d))
                (void)saver_save_sync(d->saver);
        else
                d->held_render |= daemon_state_behind(d);
}

/* A ban to lift, as plan notes it for the loop: Addr, plen, why, NUL. */
static void note_lift(Buf *notes, const Ban *ban, const char *why)
{
        uint8_t plen = ban->plen;

        buf_append(notes, &ban->addr, sizeof(ban->addr));
        buf_append(notes, &plen, 1);
        buf_append(notes, why, strlen(why) + 1);
}

/* In the writer's child, on a snapshot of the daemon: lifts go back as notes. */
static void plan(void *ctx, BanBackend *b, BackendEmit emit, void *emit_ctx, Buf *notes)
{
        Daemon *d = ctx;
        size_t n, n_lift = 0, held = 0, emitted = 0, n_nets = 0;
        PolicyPlan it;
        PolicyEntry e;

        policy_plan_start(d->policy, &it,
                          backend_type_of(b)->flags & BACKEND_EXACT ? POLICY_PLAN_HOSTS : POLICY_PLAN_ACCESS,
                          daemon_state_behind(d));
        while (policy_plan_next(&it, &e)) {
                char key[CIDR_STRLEN];

                if (!backends_holds(d->backends, b, &e.ban->addr, e.ban->plen, key, sizeof(key)))
                        continue;
                /* Added to the ignore list or set OK since the ban: lift it (on the loop). */
                if (e.exempt) {
                        note_lift(notes, e.ban, e.exempt);
                        n_lift++;
                        continue;
                }
                /* The state holds every ban before a map does (the network map too). */
                if (e.held) {
                        held++;
                        continue;
                }
                emitted++;
                n_nets += !key[0]; /* a backend without keys: the cidr: map */
                emit(emit_ctx, &(BackendBan){.addr = e.ban->addr,
                                             .plen = e.ban->plen,
                                             .key = key,
                                             .rule = names_get(d->names, e.ban->rule),
                                             .expires_ms = e.ban->expires_ms,
                                             .count = e.ban->count});
        }
        n = it.n; /* the active bans */
        policy_plan_end(&it);
        if (held)
                log_debug("%zu new bans held back from the map until the state is saved", held);
        log_debug("%s: rendered %zu of %zu bans as keys, %zu as networks, %zu to lift, %zu held back",
                  backend_name(b), emitted - n_nets, n, n_nets, n_lift, held);
}

/* On the loop: lift what a render found exempt now (an admin's OK, a new ignore entry). */
static void lift_noted(void *ctx, BanBackend *b, const char *data, size_t len)
{
        Daemon *d = ctx;
        size_t n_lift = 0;

        (void)b;
        while (len > sizeof(Addr) + 1) {
                Addr a;
                uint8_t plen;
                const char *why = data + sizeof(Addr) + 1;
                const char *nul = memchr(why, '\0', len - sizeof(Addr) - 1);
                const Ban *ban;

                if (!nul)
                        break;
                memcpy(&a, data, sizeof(a));
                plen = (uint8_t)data[sizeof(Addr)];
                ban = policy_get(d->policy, &a, plen);
                if (ban && ban->active) { /* not lifted meanwhile */
                        _cleanup_free_ char *text = xasprintf("never banned (%s)", why);
                        daemon_lift(d, ban, text);
                        n_lift++;
                }
                len -= (size_t)(nul + 1 - data);
                data = nul + 1;
        }
        if (n_lift)
                saver_start(d->saver);
}

/*
 * Answer the flushes that the backends now show: every snapshot backend
 * must have written a generation that holds the flush (on a failure of
 * one, every waiting flush is answered with it).
 */
static void answer_flushes(Daemon *d, BanBackend *b, int result)
{
        uint64_t written = backends_written(d->backends);
        size_t k = 0;

        for (size_t i = 0; i < d->n_flushes; i++) {
                FlushWaiter *w = &d->flushes[i];
                if (result < 0) {
                        _cleanup_free_ char *t = xasprintf("the map write failed: %s: %s; the daemon retries",
                                                           backend_name(b), backend_problem(b));
                        (void)control_reply(d->control, w->id, false, t);
                } else if (w->gen <= written) {
                        _cleanup_free_ char *t = xasprintf(
                                "the map %s has no block of ours any more\n%s%s%s", backends_primary_name(d->backends),
                                d->save_failing ? "warning: the state file cannot be saved (" : "",
                                d->save_failing ? d->save_error : "",
                                d->save_failing ? "); the bans come back at a restart unless it can\n" : "");
                        (void)control_reply(d->control, w->id, true, t);
                } else
                        d->flushes[k++] = *w; /* the write that shows it is still to come */
        }
        d->n_flushes = k;
}

static void become_ready(Daemon *d, bool waited)
{
        _cleanup_free_ char *status = NULL;
        const char *err = backends_problem(d->backends);

        if (d->ready || d->stopping)
                return;
        d->ready = true;
        ev_timer_stop(d->loop, &d->ready_timer);
        log_event(LOG_EVENT_START, LOG_INFO, NULL, "ready: %s %s%s%s, %zu rules, %zu bans%s%s%s%s",
                  source_problem(d->source) ? "waiting for" : "following", source_what(d->source),
                  source_problem(d->source) ? ": " : "", source_problem(d->source) ?: "", ruleset_count(d->rules),
                  policy_active(d->policy),
                  err[0] ? "; the map cannot be written yet (" : "", err,
                  err[0] ? "): bans are kept in memory and written when it can be" : "",
                  waited && !err[0] ? "; the first map write is still under way" : "");
        status = status_line(d);
        notify_ready(d->notify, status);
}

static void ready_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        become_ready(w->data, true);
}

/* At a stop: break the loop once the last writes are done (or given up). */
static void stop_if_written(Daemon *d)
{
        if (backends_stopped(d->backends))
                ev_break(d->loop, EVBREAK_ALL);
}

/* A backend's write ended: the flushes it completes, the log, readiness, STATUS=. */
static void backend_written(void *ctx, BanBackend *b, uint64_t gen, int result, size_t entries)
{
        Daemon *d = ctx;
        const BackendType *t = backend_type_of(b);

        (void)gen;
        answer_flushes(d, b, result);
        if (d->stopping) {
                stop_if_written(d);
                return;
        }
        if (result == BACKEND_UNCHANGED && (t->flags & BACKEND_PRIMARY))
                log_info("%s: already up to date (%zu %s); not rewritten, postmap not run", backend_name(b), entries,
                         entries == 1 ? "entry" : "entries");
        else if (result >= 0 && result != BACKEND_UNCHANGED)
                log_event(LOG_EVENT_MAP_WRITTEN, LOG_INFO, NULL, "%s: written, %zu %s", backend_name(b), entries,
                          entries == 1 ? "entry" : "entries");
        if (!d->ready && (t->flags & BACKEND_PRIMARY)) {
                become_ready(d, false); /* the first write ended, well or not */
                return;
        }
        /* "map not updated" comes and goes; systemctl status shows it */
        daemon_status_changed(d);
}

static void backend_said(void *ctx, BanBackend *b, int priority, const char *text)
{
        (void)ctx;
        (void)b;
        log_event(LOG_EVENT_NONE, priority, NULL, "%s", text);
}

static void backend_write_failed(void *ctx, BanBackend *b, const char *text)
{
        (void)ctx;
        (void)b;
        log_event(LOG_EVENT_POSTMAP_FAILED, LOG_ERR, NULL, "%s", text);
}

/*
 * The admin's entries changed (their edit of the map, or our own write):
 * a ban that they accept now (ADDR OK) is lifted at once, so that the
 * next write, one write for all of them, drops our entry before postmap
 * would warn of a duplicate key.
 */
static void admin_changed(void *ctx, BanBackend *b)
{
        Daemon *d = ctx;
        _cleanup_free_ const Ban **v = NULL;
        size_t n = policy_list(d->policy, true, &v);

        (void)b;
        for (size_t i = 0; i < n; i++) {
                const char *why;

                if (!backends_can_hold(d->backends, &v[i]->addr, v[i]->plen))
                        continue;
                why = daemon_never_ban(d, &v[i]->addr, v[i]->plen);
                if (why) {
                        _cleanup_free_ char *t = xasprintf("never banned (%s)", why);
                        daemon_lift(d, v[i], t);
                }
        }
}

static void stop_progress(void *ctx, BanBackend *b)
{
        Daemon *d = ctx;

        (void)b;
        if (d->stopping)
                stop_if_written(d);
}

static const BackendHooks backend_hooks = {
        .prepare = prepare,
        .plan = plan,
        .lift = lift_noted,
        .done = backend_written,
        .note = backend_said,
        .write_failed = backend_write_failed,
        .admin_changed = admin_changed,
        .imported = daemon_fleet_imported,
        .import_done = daemon_fleet_changed,
        .resync = daemon_fleet_resync,
        .progress = stop_progress,
};

/* Say that a ban from the log's past is over already (the policy did not impose it). */
static void log_too_late(const char *text, const char *rule, unsigned hits, int64_t at, uint64_t len)
{
        char t[64], dur[32];

        log_info("not banning %s: %u hits of rule %s at %s, but a ban of %s from then is over already", text, hits,
                 rule, format_time(at, t, sizeof(t)), format_duration(len, dur, sizeof(dur)));
}

/* What led to a network's ban (or to its refusal), for the log. */
static void net_cause(Daemon *d, const PolicyBan *b, char *why, size_t size)
{
        if (b->cause == POLICY_BY_HOSTS)
                snprintf(why, size, "%u of its hosts are banned", b->hits);
        else
                snprintf(why, size, "its addresses have %u hits of rule %s", b->hits, names_get(d->names, b->rule));
}

/* A network the policy did not ban: say why (the admin sees several banned hosts of one network and no network ban). */
static void report_net_refused(Daemon *d, const PolicyBan *b)
{
        char text[ADDR_STRLEN], why[96];

        net_cause(d, b, why, sizeof(why));
        if (b->outcome == POLICY_NO_KEY)
                log_event(LOG_EVENT_NONE, LOG_NOTICE, NULL,
                          "%s/%u: %s, but no access(5) key can match the whole network (its prefix holds "
                          "zero groups that smtpd writes as '::', or a bare number that IPv4 lookups reach); "
                          "set network_map = cidr:... to ban it; its hosts stay banned one by one",
                          addr_format(&b->addr, text), b->plen, why);
        else if (b->first)
                log_notice("%s/%u: %s, but the network is not banned as a whole: %s; its hosts stay "
                           "banned one by one",
                           addr_format(&b->addr, text), b->plen, why, b->why);
        else
                log_debug("%s/%u: %s, but it is not banned as a network: %s", addr_format(&b->addr, text), b->plen,
                          why, b->why);
}

/*
 * Tell about a ban the policy imposed or found over already: the log, the
 * counters, the fleet.  Returns whether it is in force.
 */
static bool report_ban(Daemon *d, const PolicyBan *b, unsigned max_hits)
{
        const char *rule = names_get(d->names, b->rule);
        char text[CIDR_STRLEN], dur[32], why[96];

        daemon_ban_text(&(Ban){.addr = b->addr, .plen = b->plen}, text);
        if (b->outcome == POLICY_TOO_LATE) {
                d->stats.too_late++;
                log_too_late(text, rule, b->hits, b->at, b->len);
                return false;
        }
        if (b->outcome != POLICY_IMPOSED) {
                if (b->outcome != POLICY_NONE)
                        report_net_refused(d, b);
                return false;
        }
        backends_ban(d->backends, &b->addr, b->plen, rule, b->ban->expires_ms, b->ban->count);
        if (b->cause == POLICY_BY_HOSTS) {
                d->stats.net_bans++;
                log_event(LOG_EVENT_BAN, LOG_NOTICE,
                          &(LogFields){.address = text, .rule = rule,
                                       .expires_ms = b->ban->expires_ms ? b->ban->expires_ms : -1},
                          "ban %s: %u of its hosts are banned, for %s", text, b->hits,
                          b->len ? format_duration(b->len, dur, sizeof(dur)) : "ever");
                return true;
        }
        daemon_set_blocks(d, true);
        if (b->cause == POLICY_BY_NET_HITS)
                d->stats.net_bans++;
        else
                d->stats.bans++;
        snprintf(d->stats.last_ban, sizeof(d->stats.last_ban), "%s", text);
        snprintf(d->stats.last_ban_rule, sizeof(d->stats.last_ban_rule), "%s", rule);
        d->stats.last_ban_ms = b->at;
        if (b->cause == POLICY_BY_NET_HITS) {
                net_cause(d, b, why, sizeof(why));
                log_event(LOG_EVENT_BAN, LOG_NOTICE,
                          &(LogFields){.address = text,
                                       .rule = rule,
                                       .expires_ms = b->ban->expires_ms ? b->ban->expires_ms : -1},
                          "ban %s: %s (%u x %u), for %s%s", text, why, max_hits, d->cfg->ipv6_net_factor,
                          b->len ? format_duration(b->len, dur, sizeof(dur)) : "ever",
                          b->repeat ? " (a repeat offender)" : "");
        } else
                log_event(LOG_EVENT_BAN, LOG_NOTICE,
                          &(LogFields){.address = text, .rule = rule, .expires_ms = b->len ? b->ban->expires_ms : -1},
                          "ban %s: %u hits of rule %s, for %s%s", text, b->hits, rule,
                          b->len ? format_duration(b->len, dur, sizeof(dur)) : "ever",
                          b->repeat ? " (a repeat offender)" : "");
        return true;
}

static void due_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
        Daemon *d = w->data;
        _cleanup_free_ PolicyExpired *v = NULL;
        bool forgot;
        size_t n = policy_expire(d->policy, now_ms(), &v, &forgot);

        (void)loop;
        (void)revents;
        if (forgot)
                d->bans_dirty = true; /* out of the repeat-offender memory */
        for (size_t i = 0; i < n; i++) {
                char text[CIDR_STRLEN];
                daemon_ban_text(&(Ban){.addr = v[i].addr, .plen = v[i].plen}, text);
                log_event(LOG_EVENT_EXPIRE, LOG_INFO, &(LogFields){.address = text, .rule = names_get(d->names, v[i].rule)},
                          "unban %s: the ban expired", text);
                d->stats.expired++;
                backends_expired(d->backends);
        }
        if (n)
                daemon_bans_changed(d);
        else {
                if (d->bans_dirty)
                        schedule_save(d, SAVE_BANS_S);
                daemon_arm_due(d);
        }
}

/* --- lines -------------------------------------------------------------- */

/* A change of the log's health: said once an episode, in the log and in STATUS. */
static void health_changed(Daemon *d, HealthChange c)
{
        _cleanup_free_ char *status = NULL;
        char h[256];

        switch (c) {
        case HEALTH_SAME:
                return;
        case HEALTH_UNPARSED_START:
        case HEALTH_SILENT_START:
                log_warn("%s: %s", source_label(d->source),
                         health_problem(&d->health, h, sizeof(h)));
                break;
        case HEALTH_UNPARSED_END:
                log_notice("%s: the log lines have a readable syslog header again",
                           source_label(d->source));
                break;
        case HEALTH_SILENT_END:
                log_notice("%s: a rule matches again", source_label(d->source));
                break;
        }
        if (d->ready) {
                status = status_line(d);
                notify_status(d->notify, status);
        }
}

/* Is this a line of a program that faces clients (smtpd, postscreen of any instance)? */
static bool client_facing(const LogRecord *rec)
{
        size_t n = rec->tag_len;

        if (n < 7 || memcmp(rec->tag, "postfix", 7) != 0)
                return false;
        return (n >= 13 && memcmp(rec->tag + n - 6, "/smtpd", 6) == 0) ||
               (n >= 18 && memcmp(rec->tag + n - 11, "/postscreen", 11) == 0);
}

static void on_record(void *ctx, const LogRecord *rec)
{
        Daemon *d = ctx;
        RuleMatch m;
        PolicyVerdict v;
        char text[ADDR_STRLEN];
        Addr client;
        SessionAnswer session;
        bool matched, changed;

        if (!d->save_due)
                schedule_save(d, SAVE_POSITION_S);
        session = sessions_track(d->sessions, rec, &client);
        matched = ruleset_match_record(d->rules, rec, &m) > 0;
        health_changed(d, health_record(&d->health, client_facing(rec), matched,
                                        rec->time_ms > 0 ? rec->time_ms : now_ms()));
        if (!matched)
                return;
        if (session == SESSION_ASK) /* only for a match: most records need no lookup */
                session = sessions_lookup(d->sessions, rec, &client) ? SESSION_IN : SESSION_OUT;
        switch (policy_judge(d->policy,
                             &(PolicyHit){.addr = m.addr,
                                          .rule = m.rule->id,
                                          .max_hits = m.rule->max_hits,
                                          .find_time_ms = m.rule->find_time_ms,
                                          .ban_time_ms = m.rule->ban_time_ms,
                                          .time_ms = rec->time_ms,
                                          .own_reject = m.own_reject,
                                          .logged_in = session == SESSION_IN && addr_equal(&client, &m.addr)},
                             now_ms(), &v)) {
        case POLICY_OWN_REJECT:
                d->stats.own_rejects++;
                log_debug("%s: rule %s saw our own rejection; not counted", addr_format(&m.addr, text),
                          m.rule->name);
                return;
        case POLICY_LOGGED_IN:
                d->stats.logged_in++;
                log_debug("%s matched rule %s in a logged-in session; not counted", addr_format(&m.addr, text),
                          m.rule->name);
                return;
        case POLICY_EXEMPT:
                d->stats.exempt++;
                log_debug("%s matched rule %s but is never banned (%s)", addr_format(&m.addr, text),
                          m.rule->name, v.why);
                return;
        case POLICY_ALREADY:
                d->stats.already_banned++;
                log_debug("%s matched rule %s (%s:%u) but is already banned (/%u)", addr_format(&m.addr, text),
                          m.rule->name, m.rule->file, m.rule->line, v.cover->plen);
                return;
        case POLICY_HIT:
                break;
        }
        d->stats.hits++;
        addr_format(&m.addr, text);
        log_event(LOG_EVENT_HIT, LOG_INFO, &(LogFields){.address = text, .rule = m.rule->name},
                  "hit %s: rule %s (%u/%u)", text, m.rule->name, MIN(v.count, m.rule->max_hits),
                  m.rule->max_hits);
        /* the host's ban, then its network's (for its hosts or its hits) */
        changed = report_ban(d, &v.host, v.max_hits);
        changed |= report_ban(d, &v.net, v.max_hits);
        if (changed)
                daemon_bans_changed(d);
        else if (v.changed) {
                /* a ban over already: remembered, saved, not in the map */
                d->bans_dirty = true;
                daemon_arm_due(d);
                schedule_save(d, SAVE_BANS_S);
        }
}

/* A line without a syslog header (the file source): the log's health hears of it. */
static void on_unparsed(void *ctx, const char *line, size_t len)
{
        Daemon *d = ctx;

        (void)line;
        (void)len;
        health_changed(d, health_unparsed(&d->health));
        if (!d->save_due)
                schedule_save(d, SAVE_POSITION_S);
}

/* The log became unreadable, missing, ... or fine again: systemctl status shows it. */
static void on_source_changed(void *ctx)
{
        Daemon *d = ctx;
        _cleanup_free_ char *status = NULL;

        if (!d->ready)
                return;
        status = status_line(d);
        notify_status(d->notify, status);
}

/* What the source says, logged (refused journal entries: at most a few per burst, the flood limiter). */
static void on_source_report(void *ctx, int prio, SourceEvent ev, const char *text)
{
        static const LogEvent events[] = {
                [SOURCE_EVENT_NONE] = LOG_EVENT_NONE,
                [SOURCE_EVENT_ROTATE] = LOG_EVENT_ROTATE,
                [SOURCE_EVENT_SKIPPED] = LOG_EVENT_SKIPPED,
                [SOURCE_EVENT_SPOOFED] = LOG_EVENT_SPOOFED,
        };

        (void)ctx;
        log_event(ev < ELEMENTSOF(events) ? events[ev] : LOG_EVENT_NONE, prio, NULL, "%s", text);
}

static const LogSourceOps source_ops = {on_record, on_unparsed, on_source_report, on_source_changed};

/* --- reload, stop ------------------------------------------------------- */

/* Reload config and rules; on failure *why says what was wrong. */
static int daemon_reload(Daemon *d, char **why)
{
        Diags errors = {0};
        Config *cfg = NULL;
        RuleSet *rules = NULL;
        Exempt exempt = {0};
        BackendConf bc;
        char *specs[2] = {NULL, NULL};
        bool now;
        int r;

        *why = NULL;
        r = config_load_or_default(d->opts->config_path, &cfg, &errors);
        if (r == 0)
                r = load_rules(d, cfg, &rules, &errors);
        if (r < 0) {
                Buf b = {0};
                log_diags(&errors, "reload: ");
                log_event(LOG_EVENT_RELOAD_REJECTED, LOG_ERR, NULL,
                          "reload rejected (%zu problem%s); the previous configuration and rules stay in effect",
                          errors.n, errors.n == 1 ? "" : "s");
                for (size_t i = 0; i < errors.n; i++)
                        buf_printf(&b, "%s%s", i ? "; " : "", errors.items[i]);
                *why = b.data ? b.data : xstrdup("reload failed");
                config_free(cfg);
                diags_free(&errors);
                return -EINVAL;
        }
        diags_free(&errors);
        config_backends(cfg, NULL, &bc, specs);
        r = backends_check(d->backends, &bc, why);
        free(specs[0]);
        free(specs[1]);
        if (r < 0) {
                log_event(LOG_EVENT_RELOAD_REJECTED, LOG_ERR, NULL, "reload rejected: %s", *why);
                config_free(cfg);
                ruleset_free(rules);
                return r;
        }
        if (!streq(cfg->log_file, d->cfg->log_file) || !streq(cfg->state_file, d->cfg->state_file) ||
            !streq(cfg->control_socket, d->cfg->control_socket) || !streq(cfg->log_source, d->cfg->log_source) ||
            !streq(cfg->fleet ?: "", d->cfg->fleet ?: "") || !streq(cfg->fleet_name ?: "", d->cfg->fleet_name ?: ""))
                log_warn("reload: log_source, log_file, state_file, control_socket and fleet changes take effect "
                         "at the next start");
        cfg->log_source = d->cfg->log_source;
        cfg->log_file_set = d->cfg->log_file_set;
        /* keep the paths that need a restart */
        free(cfg->log_file);
        cfg->log_file = xstrdup(d->cfg->log_file);
        free(cfg->state_file);
        cfg->state_file = xstrdup(d->cfg->state_file);
        free(cfg->control_socket);
        cfg->control_socket = xstrdup(d->cfg->control_socket);
        free(cfg->fleet);
        cfg->fleet = d->cfg->fleet ? xstrdup(d->cfg->fleet) : NULL;
        free(cfg->fleet_name);
        cfg->fleet_name = d->cfg->fleet_name ? xstrdup(d->cfg->fleet_name) : NULL;
        /* with ignore_mynetworks, postconf answers on the loop (reload_mynetworks_cb) */
        if (!cfg->ignore_mynetworks)
                build_exempt_with(cfg, &exempt, 0, NULL);
        {
                /* what the source takes without a restart (the journal's users may have changed) */
                SourceConfig sc;
                Diags notes = {0};
                sources_config(cfg, source_kind(d->source), &sc, &notes);
                for (size_t i = 0; i < notes.n; i++)
                        log_notice("reload: %s", notes.items[i]);
                diags_free(&notes);
                source_configure(d->source, &sc.set);
                sources_config_clear(&sc);
        }
        ruleset_free(d->rules);
        d->rules = rules;
        config_free(d->cfg);
        d->cfg = cfg;
        /* the questions of an earlier reload are for a config that is gone */
        postconf_cancel(d->postconf);
        if (cfg->ignore_mynetworks)
                postconf_ask(d->postconf, cfg->postconf, "-h", "mynetworks", reload_mynetworks_cb, d);
        else
                policy_set_exempt(d->policy, &exempt);
        log_setup(cfg->log_target, cfg->log_level);
        log_info("private address space: %s", daemon_private_policy(d));
        check_network_map_async(d);
        {
                PolicySettings ps;
                policy_settings(d, cfg, d->rules, backends_exact(d->backends), &ps);
                policy_configure(d->policy, &ps);
        }
        /* the access map may move, the network map come or go, the postmap command change */
        config_backends(cfg, NULL, &bc, specs);
        now = backends_configure(d->backends, &bc);
        free(specs[0]);
        free(specs[1]);
        control_set_pending_timeout(d->control, cfg->control_timeout_ms);
        /* the reject text, the ignore list or the admin keys may differ */
        (void)daemon_map_request(d, now);
        log_event(LOG_EVENT_RELOAD, LOG_INFO, NULL, "reloaded: %zu rules", ruleset_count(d->rules));
        return 0;
}

int daemon_reload_notify(Daemon *d, char **why)
{
        int r;

        if (d->stopping) {
                /* no map move during the last writes, and no READY=1 after STOPPING=1 */
                *why = xstrdup("the daemon is stopping");
                log_warn("reload refused: the daemon is stopping");
                return -ESHUTDOWN;
        }
        notify_reloading(d->notify);
        r = daemon_reload(d, why);
        /* and look at the log again now: an admin may have fixed it */
        source_poll(d->source);
        /* READY=1 also when the reload was rejected: the old config runs on */
        notify_ready(d->notify, NULL);
        return r;
}

static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
        _cleanup_free_ char *why = NULL;

        (void)loop;
        (void)revents;
        (void)daemon_reload_notify(w->data, &why);
}

static void stop_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)w;
        (void)revents;
        log_err("stop: the last map write did not finish within %.0fs; exiting anyway", STOP_TIMEOUT_S);
        ev_break(loop, EVBREAK_ALL);
}

static void sigterm_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
        Daemon *d = w->data;

        (void)revents;
        if (d->stopping)
                return;
        d->stopping = true;
        notify_stopping(d->notify);
        log_event(LOG_EVENT_STOP, LOG_INFO, NULL, "stopping");
        /* Read what is left, then let a pending map write finish. */
        source_poll(d->source);
        (void)backends_stop(d->backends);
        stop_if_written(d);
        ev_timer_init(&d->stop_timeout, stop_timeout_cb, STOP_TIMEOUT_S, 0.);
        ev_timer_start(loop, &d->stop_timeout);
}

/*
 * The state names the place that held our block at the last run; if that
 * is not access_map any more (changed while we were stopped), our block
 * leaves it, as on a reload.
 */
static void retire_previous_map(Daemon *d, const char *map)
{
        int r = map ? backends_retire(d->backends, map) : 0;

        if (r < 0)
                log_warn("%s: the previous run's map (%s); our block may remain in it: %s", d->cfg->state_file,
                         map, strerror(-r));
        else if (r > 0)
                log_notice("access_map: was %s at the last run, now %s:%s; our block leaves the old map", map,
                           d->cfg->map_type, d->cfg->map_path);
}

/* --- run ---------------------------------------------------------------- */

static const ControlOps control_ops = {daemon_command};

static void daemon_done(Daemon *d)
{
        d->saver = saver_free(d->saver);
        if (d->loop) {
                ev_timer_stop(d->loop, &d->save_timer);
                ev_timer_stop(d->loop, &d->ready_timer);
                ev_periodic_stop(d->loop, &d->due);
        }
        d->control = control_free(d->control);
        d->backends = backends_free(d->backends);
        d->notify = notify_free(d->notify);
        d->source = source_free(d->source);
        d->source_why = mfree(d->source_why);
        d->postconf = postconf_free(d->postconf);
        free(d->flushes);
        free(d->saved_position);
        d->rules = ruleset_free(d->rules);
        d->policy = policy_free(d->policy);
        d->sessions = sessions_free(d->sessions);
        d->names = names_free(d->names);
        d->cfg = config_free(d->cfg);
}

static int fail(Daemon *d, int status)
{
        daemon_done(d);
        return status;
}

int daemon_run(const DaemonOptions *opts)
{
        Daemon d = {.opts = opts};
        Diags errors = {0};
        State st = {0};
        PolicySettings ps;
        Exempt exempt = {0};
        int r;

        if (config_load_or_default(opts->config_path, &d.cfg, &errors) < 0) {
                diags_print(stderr, &errors, "");
                diags_free(&errors);
                return EX_CONFIG;
        }
        log_setup(d.cfg->log_target, d.cfg->log_level);
        d.names = names_new();
        (void)names_intern(d.names, "manual", &d.manual_rule);
        (void)names_intern(d.names, "ipv6-network", &d.net_rule);
        if (load_rules(&d, d.cfg, &d.rules, &errors) < 0) {
                diags_print(stderr, &errors, "");
                diags_free(&errors);
                return fail(&d, EX_CONFIG);
        }
        if (!ruleset_jit(d.rules))
                log_warn("PCRE2 JIT is not available here; matching uses the slower interpreter");
        if (getrandom(d.hash_key, sizeof(d.hash_key), 0) != sizeof(d.hash_key)) {
                log_err("getrandom: %m");
                return fail(&d, EX_OSERR);
        }
        /* an auth map is made below, and only at the start */
        policy_settings(&d, d.cfg, d.rules, d.cfg->auth_map_path != NULL, &ps);
        d.policy = policy_new(&ps, d.names, d.hash_key, &policy_ops, &d);
        build_exempt(d.cfg, &exempt);
        policy_set_exempt(d.policy, &exempt);
        log_info("private address space: %s", daemon_private_policy(&d));
        check_network_map(d.cfg);
        d.loop = ev_default_loop(EVFLAG_AUTO);
        if (!d.loop) {
                log_err("cannot create the event loop");
                return fail(&d, EX_OSERR);
        }
        d.started_ms = now_ms();
        d.postconf = postconf_new(d.loop);
        d.notify = notify_new(d.loop);
        d.sessions = sessions_new(SESSIONS_MAX_DEFAULT);
        {
                BackendConf bc;
                char *specs[2] = {NULL, NULL};
                char host[256] = "";
                _cleanup_free_ char *why = NULL;
                const BackendType *failed = NULL;
                const char *name = d.cfg->fleet_name;

                if (d.cfg->fleet && !name) {
                        if (gethostname(host, sizeof(host) - 1) < 0 || !fleet_name_valid(host)) {
                                log_err("fleet: the host name '%s' cannot name this host in the fleet; set "
                                        "fleet_name",
                                        host);
                                return fail(&d, EX_CONFIG);
                        }
                        name = host;
                }
                config_backends(d.cfg, name, &bc, specs);
                r = backends_new(&d.backends, d.loop, &bc, &backend_hooks, &d, &failed, &why);
                free(specs[0]);
                free(specs[1]);
                if (r < 0) {
                        log_err("%s", why);
                        /* a map that cannot be made, or a fleet that cannot be set up */
                        return fail(&d, failed && (failed->flags & BACKEND_SHARED) ? EX_UNAVAILABLE : EX_CANTCREAT);
                }
                if (backends_shared(d.backends))
                        log_info("fleet: sharing bans as %s", name);
        }
        {
                const char *kind = sources_choose(d.cfg, &d.source_why);
                SourceConfig sc;
                Diags notes = {0};

                sources_config(d.cfg, kind, &sc, &notes);
                for (size_t i = 0; i < notes.n; i++)
                        log_notice("%s", notes.items[i]);
                diags_free(&notes);
                r = source_new(&d.source, kind, d.loop, &sc.set, &source_ops, &d);
                sources_config_clear(&sc);
                if (r < 0) {
                        if (streq(kind, "file"))
                                log_err("%s: cannot follow: %s", d.cfg->log_file, strerror(-r));
                        else
                                log_err("%s: cannot open it: %s", kind, strerror(-r));
                        return fail(&d, EX_NOINPUT);
                }
                log_info("following %s (%s)", source_what(d.source), d.source_why);
        }
        r = control_new(&d.control, d.loop, d.cfg->control_socket, d.cfg->control_timeout_ms, &control_ops, &d);
        if (r < 0) {
                log_err("%s: cannot create the control socket: %s", d.cfg->control_socket, strerror(-r));
                return fail(&d, EX_CANTCREAT);
        }

        signal(SIGPIPE, SIG_IGN);
        ev_signal_init(&d.sighup, sighup_cb, SIGHUP);
        ev_signal_init(&d.sigterm, sigterm_cb, SIGTERM);
        ev_signal_init(&d.sigint, sigterm_cb, SIGINT);
        d.sighup.data = d.sigterm.data = d.sigint.data = &d;
        ev_signal_start(d.loop, &d.sighup);
        ev_signal_start(d.loop, &d.sigterm);
        ev_signal_start(d.loop, &d.sigint);
        ev_init(&d.due, due_cb);
        d.due.data = &d;
        daemon_watch_clock(&d);
        ev_init(&d.save_timer, save_timer_cb);
        d.save_timer.data = &d;
        d.saver = saver_new(&d);
        ev_timer_init(&d.ready_timer, ready_timer_cb, READY_WAIT_S, 0.);
        d.ready_timer.data = &d;

        /* Bans and position from the state file; then the first map write,
           which makes us ready.  The log may produce bans meanwhile. */
        load_state(&d, &st);
        restore_bans(&d, &st, d.started_ms);
        retire_previous_map(&d, st.map);
        daemon_arm_due(&d);
        (void)daemon_map_request(&d, true);
        {
                _cleanup_free_ char *why = NULL;
                const char *pos = st.position;

                if (st.source && !streq(st.source, source_kind(d.source))) {
                        log_info("%s: the saved position is for the %s source; starting as configured",
                                 d.cfg->state_file, st.source);
                        pos = NULL;
                }
                r = source_start(d.source, pos, d.cfg->start_at == START_AT_BEGINNING, &why);
                if (why)
                        log_info("%s: %s; starting as configured", d.cfg->state_file, why);
                if (r < 0)
                        log_err("%s: cannot start reading: %s", source_label(d.source), strerror(-r));
        }
        state_clear(&st);
        if (r < 0)
                return fail(&d, EX_NOINPUT);
        /* Following the log: READY when the first map write ends, or soon anyway. */
        ev_timer_start(d.loop, &d.ready_timer);
        ev_run(d.loop, 0);

        d.snap_ok = false; /* a stopped daemon leaves one whole file, without a log */
        if (saver_save_sync(d.saver) < 0)
                log_err("%s: the bans since the last good save are lost at this stop", d.cfg->state_file);
        {
                _cleanup_buf_ Buf b = {0};
                source_summary(d.source, &b);
                log_event(LOG_EVENT_STOP, LOG_INFO, NULL,
                          "stopped: %s, %llu hits, %llu bans, %llu already banned, %llu never banned", b.data,
                          (unsigned long long)d.stats.hits, (unsigned long long)d.stats.bans,
                          (unsigned long long)d.stats.already_banned, (unsigned long long)d.stats.exempt);
        }
        daemon_done(&d);
        ev_loop_destroy(d.loop);
        return 0;
}
