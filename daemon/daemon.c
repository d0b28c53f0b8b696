/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * daemon: the glue.  One libev loop, no threads.  Lines from tail go to
 * rules; a match goes through the never-ban check and the tracker; a
 * crossed threshold becomes a ban; a change of bans asks the map writer
 * for a new map.  One ev_periodic, armed for the earliest due time, lifts
 * bans when they expire and forgets old records (wall-clock time, as bans
 * outlive restarts).  SIGHUP reloads, SIGTERM stops after the last map
 * write.
 *
 * Invariant: a ban is written to the map only after it is in the state
 * file (the state is saved when the map writer renders, if the bans
 * changed), so a kill -9 can never leave a ban in the map that a restart
 * would drop.
 */
#include "daemon-internal.h"

#include <errno.h>
#include <ifaddrs.h>
#include <signal.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "state.h"
#include "util.h"

#define STOP_TIMEOUT_S 30.0
/* Save the state this soon after the bans change (if no map write did it
   first), and at most this late after the log position moved (a crash
   re-reads at most that much). */
#define SAVE_BANS_S 2.0
#define SAVE_POSITION_S 60.0

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

/* ignore_mynetworks: what "postconf -h mynetworks" says. */
static void add_mynetworks(const Config *cfg, Exempt *e)
{
        size_t n = strv_length(cfg->postconf);
        _cleanup_free_ char **argv = xcalloc(n + 3, sizeof(char *));
        _cleanup_free_ char *out = NULL;
        Diags skipped = {0};
        int r;

        for (size_t i = 0; i < n; i++)
                argv[i] = cfg->postconf[i];
        argv[n] = (char *)"-h";
        argv[n + 1] = (char *)"mynetworks";
        r = run_capture(argv, 1 << 20, 10000, &out);
        if (r < 0) {
                log_err("ignore_mynetworks: %s -h mynetworks failed: %s; mynetworks is not protected",
                        cfg->postconf[0], r == -EIO && out ? strip(out) : strerror(-r));
                return;
        }
        n = exempt_add_mynetworks(e, out, "mynetworks", &skipped);
        for (size_t i = 0; i < skipped.n; i++)
                log_warn("ignore_mynetworks: '%s' in mynetworks is not an address or network; it is not read",
                         skipped.items[i]);
        diags_free(&skipped);
        log_info("ignore_mynetworks: %zu networks from mynetworks are never banned", n);
}

/* Build the never-ban list for cfg into e. */
static void build_exempt(const Config *cfg, Exempt *e)
{
        for (size_t i = 0; i < cfg->n_ignore; i++)
                exempt_add(e, &cfg->ignore[i], "ignore list");
        add_local_addresses(e);
        if (cfg->ignore_mynetworks)
                add_mynetworks(cfg, e);
}

/* --- state -------------------------------------------------------------- */

static void save_state(Daemon *d)
{
        State st = {0};
        _cleanup_free_ Ban **v = NULL;
        size_t n = banset_list(d->bans, false, &v);
        int r;

        st.log_file = d->cfg->log_file;
        st.n_pos = tail_positions(d->tail, st.pos, TAIL_MAX_POS);
        for (size_t i = 0; i < n; i++) {
                StateBan *sb = state_add_ban(&st);
                sb->addr = v[i]->addr;
                sb->plen = v[i]->plen;
                snprintf(sb->rule, sizeof(sb->rule), "%s", names_get(d->names, v[i]->rule));
                sb->active = v[i]->active;
                sb->manual = v[i]->manual;
                sb->count = v[i]->count;
                sb->hits = v[i]->hits;
                sb->first_hit_ms = v[i]->first_hit_ms;
                sb->last_hit_ms = v[i]->last_hit_ms;
                sb->banned_ms = v[i]->banned_ms;
                sb->expires_ms = v[i]->expires_ms;
        }
        r = state_save(d->cfg->state_file, &st);
        if (r < 0)
                log_err("%s: cannot save the state: %s", d->cfg->state_file, strerror(-r));
        else
                d->bans_dirty = false;
        st.log_file = NULL;
        state_clear(&st);
}

static void save_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Daemon *d = w->data;

        (void)loop;
        (void)revents;
        d->save_due = 0;
        save_state(d);
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
        int r = state_load(d->cfg->state_file, st, &why);

        if (r == -ENOENT)
                return;
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
                bool live = sb->active && (sb->expires_ms == 0 || sb->expires_ms > now);
                int64_t forget = (sb->expires_ms ? sb->expires_ms : sb->banned_ms) + (int64_t)d->cfg->ban_memory_ms;
                uint16_t rule;
                Ban *b;

                if (!live && forget <= now)
                        continue; /* ended, and out of memory too */
                if (names_intern(d->names, sb->rule, &rule) < 0)
                        continue;
                b = banset_upsert(d->bans, &sb->addr, sb->plen);
                b->rule = rule;
                b->manual = sb->manual;
                b->count = sb->count;
                b->hits = sb->hits;
                b->first_hit_ms = sb->first_hit_ms;
                b->last_hit_ms = sb->last_hit_ms;
                b->banned_ms = sb->banned_ms;
                b->expires_ms = sb->expires_ms;
                if (live) {
                        banset_activate(d->bans, b, sb->expires_ms);
                        active++;
                } else {
                        banset_deactivate(d->bans, b, forget);
                        remembered++;
                }
        }
        if (st->n_bans)
                log_info("%s: restored %zu bans (and %zu ended ones, remembered for repeat offenders)",
                         d->cfg->state_file, active, remembered);
}

/* --- bans and the map --------------------------------------------------- */

void daemon_arm_due(Daemon *d)
{
        int64_t next = banset_next_due(d->bans);

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

        buf_printf(&b, "%zu bans, %zu addresses tracked", banset_active(d->bans), tracker_count(d->tracker));
        if (d->stats.last_ban_ms) {
                char t[64];
                buf_printf(&b, "; last ban %s (%s) at %s", d->stats.last_ban, d->stats.last_ban_rule,
                           format_time(d->stats.last_ban_ms, t, sizeof(t)));
        }
        if (mapwriter_stats(d->map)->last_error[0])
                buf_printf(&b, "; map not updated, retrying: %s", mapwriter_stats(d->map)->last_error);
        return b.data;
}

/* The bans changed: a new map soon, the state before it, the timer. */
void daemon_bans_changed(Daemon *d)
{
        _cleanup_free_ char *status = NULL;

        d->bans_dirty = true;
        daemon_arm_due(d);
        mapwriter_request(d->map);
        schedule_save(d, SAVE_BANS_S);
        if (d->ready) {
                status = status_line(d);
                notify_status(d->notify, status);
        }
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

void daemon_lift(Daemon *d, Ban *ban, const char *why)
{
        char text[CIDR_STRLEN];

        daemon_ban_text(ban, text);
        log_event(LOG_EVENT_UNBAN, LOG_NOTICE,
                  &(LogFields){.address = text, .rule = names_get(d->names, ban->rule)}, "unban %s: %s", text,
                  why);
        if (ban_is_host(ban))
                tracker_forget(d->tracker, &ban->addr);
        banset_remove(d->bans, ban);
        d->stats.unbans++;
        daemon_bans_changed(d);
}

/* Is this host ban covered by an active network ban (rendered instead)? */
static bool under_net_ban(Daemon *d, const Ban *b)
{
        Ban *net;

        if (addr_is_v4(&b->addr) || b->plen != 128 || !d->cfg->ipv6_net_hosts)
                return false;
        net = banset_get(d->bans, &b->addr, (uint8_t)d->cfg->ipv6_net_prefix);
        return net && net->active;
}

static size_t render_entries(void *ctx, const AdminKeys *admin, Buf *out)
{
        Daemon *d = ctx;
        _cleanup_free_ Ban **v = NULL;
        _cleanup_free_ Ban **lift = NULL;
        _cleanup_free_ const char **lift_why = NULL;
        size_t n = banset_list(d->bans, true, &v), written = 0, n_lift = 0;

        /* The state holds every ban before the map does. */
        if (d->bans_dirty)
                save_state(d);
        lift = xcalloc(n ? n : 1, sizeof(Ban *));
        lift_why = xcalloc(n ? n : 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                char key[CIDR_STRLEN];
                const char *why = NULL;
                bool host = ban_is_host(v[i]);

                if (mapfile_key(&v[i]->addr, v[i]->plen, key, sizeof(key)) < 0)
                        continue;
                if (host && under_net_ban(d, v[i]))
                        continue;
                /* Added to the ignore list or set OK since the ban: lift it. */
                why = host ? exempt_reason(&d->exempt, admin, &v[i]->addr)
                           : exempt_reason_net(&d->exempt, admin, &v[i]->addr, v[i]->plen, key);
                if (why) {
                        lift_why[n_lift] = why;
                        lift[n_lift++] = v[i];
                        continue;
                }
                /* The admin's own line for this key decides; never duplicate it. */
                if (adminkeys_has(admin, key))
                        continue;
                buf_printf(out, "%s REJECT %s\n", key, d->cfg->reject_text);
                written++;
        }
        for (size_t i = 0; i < n_lift; i++) {
                _cleanup_free_ char *why = xasprintf("never banned (%s)", lift_why[i]);
                daemon_lift(d, lift[i], why);
        }
        if (n_lift)
                save_state(d);
        return written;
}

static void map_done(void *ctx, int result, size_t entries)
{
        Daemon *d = ctx;
        _cleanup_free_ char *status = NULL;

        if (d->flush_client) {
                ControlClient *cl = d->flush_client;
                d->flush_client = NULL;
                if (result < 0)
                        control_reply(cl, false, mapwriter_stats(d->map)->last_error);
                else {
                        _cleanup_free_ char *t = xasprintf("the map %s has no block of ours any more\n",
                                                           mapwriter_path(d->map));
                        control_reply(cl, true, t);
                }
        }
        if (d->stopping) {
                /* Bans that came during the last write get one more, at once;
                   after a failure, stop anyway: the state file has the bans. */
                if (result >= 0 && mapwriter_busy(d->map))
                        mapwriter_request_now(d->map);
                else
                        ev_break(d->loop, EVBREAK_ALL);
                return;
        }
        if (result < 0) {
                /* The writer logged it and retries; systemctl status shows it. */
                status = status_line(d);
                notify_status(d->notify, status);
                return;
        }
        if (result == MAPWRITER_UNCHANGED)
                log_info("%s: already up to date (%zu %s); not rewritten, postmap not run",
                         mapwriter_path(d->map), entries, entries == 1 ? "entry" : "entries");
        else
                log_event(LOG_EVENT_MAP_WRITTEN, LOG_INFO, NULL, "%s: written, %zu %s",
                          mapwriter_path(d->map), entries, entries == 1 ? "entry" : "entries");
        status = status_line(d);
        if (d->ready) {
                notify_status(d->notify, status); /* no more "map not updated" */
                return;
        }
        d->ready = true;
        notify_ready(d->notify, status);
        log_event(LOG_EVENT_START, LOG_INFO, NULL, "ready: following %s, %zu rules, %zu bans", d->cfg->log_file,
                  ruleset_count(d->rules), banset_active(d->bans));
}

static const MapWriterOps map_ops = {render_entries, map_done};

/*
 * Ban a/plen from now on for rule.  A repeat offender (banned before,
 * within ban_memory) gets ban_time_ms escalated by ban_time_factor.
 * *len is the length of the ban, 0 for ever.
 */
static Ban *impose(Daemon *d, const Addr *a, uint8_t plen, uint16_t rule, uint64_t ban_time_ms, uint32_t hits,
                   int64_t first_ms, int64_t now, uint64_t *len)
{
        Ban *b = banset_upsert(d->bans, a, plen);
        bool repeat = !b->active && b->count &&
                      (b->expires_ms ? b->expires_ms : b->banned_ms) + (int64_t)d->cfg->ban_memory_ms >= now;

        b->count = repeat ? b->count + 1 : 1;
        b->rule = rule;
        b->manual = false;
        b->hits = hits;
        b->first_hit_ms = first_ms;
        b->last_hit_ms = now;
        b->banned_ms = now;
        *len = banset_escalate(ban_time_ms, b->count, d->cfg->ban_time_factor, d->cfg->ban_time_max_ms);
        banset_activate(d->bans, b, *len ? now + (int64_t)*len : 0);
        return b;
}

/* Ban a whole IPv6 network once enough of its hosts are banned. */
static void maybe_ban_net(Daemon *d, const Addr *host, int64_t now)
{
        unsigned plen = d->cfg->ipv6_net_prefix;
        uint32_t hosts = banset_net_hosts(d->bans, host);
        char key[CIDR_STRLEN], text[CIDR_STRLEN], dur[32];
        Addr net = *host;
        const char *why;
        uint64_t len;
        Ban *b;

        if (!d->cfg->ipv6_net_hosts || addr_is_v4(host) || hosts < d->cfg->ipv6_net_hosts)
                return;
        addr_mask(&net, plen);
        b = banset_get(d->bans, &net, (uint8_t)plen);
        if (b && b->active)
                return;
        if (mapfile_key(&net, plen, key, sizeof(key)) < 0) {
                log_event(LOG_EVENT_NONE, LOG_NOTICE, NULL,
                          "%s/%u: %u of its hosts are banned, but no access(5) key can match the whole "
                          "network (its prefix holds zero groups that smtpd writes as '::'); its hosts "
                          "stay banned one by one",
                          addr_format(&net, text), plen, hosts);
                return;
        }
        why = exempt_reason_net(&d->exempt, mapwriter_admin_keys(d->map), &net, plen, key);
        if (why) {
                log_debug("%s/%u: not banned as a network: %s", addr_format(&net, text), plen, why);
                return;
        }
        b = impose(d, &net, (uint8_t)plen, d->net_rule, d->cfg->ban_time_ms, hosts, now, now, &len);
        d->stats.net_bans++;
        daemon_ban_text(b, text);
        log_event(LOG_EVENT_BAN, LOG_NOTICE,
                  &(LogFields){.address = text, .rule = "ipv6-network", .expires_ms = b->expires_ms ? b->expires_ms : -1},
                  "ban %s: %u of its hosts are banned, for %s", text, hosts,
                  len ? format_duration(len, dur, sizeof(dur)) : "ever");
}

static void ban(Daemon *d, const Addr *a, const Rule *rule, unsigned hits, int64_t first_ms, int64_t now)
{
        uint64_t len;
        Ban *b = impose(d, a, addr_host_plen(a), rule->id, rule->ban_time_ms, hits, first_ms, now, &len);
        char text[ADDR_STRLEN], dur[32];

        tracker_forget(d->tracker, a);
        mapwriter_set_block(d->map, true);

        d->stats.bans++;
        addr_format(a, text);
        snprintf(d->stats.last_ban, sizeof(d->stats.last_ban), "%s", text);
        snprintf(d->stats.last_ban_rule, sizeof(d->stats.last_ban_rule), "%s", rule->name);
        d->stats.last_ban_ms = now;
        log_event(LOG_EVENT_BAN, LOG_NOTICE,
                  &(LogFields){.address = text, .rule = rule->name, .expires_ms = len ? now + (int64_t)len : -1},
                  "ban %s: %u hits of rule %s, for %s%s", text, hits, rule->name,
                  len ? format_duration(len, dur, sizeof(dur)) : "ever",
                  b->count > 1 ? " (a repeat offender)" : "");
        maybe_ban_net(d, a, now);
        daemon_bans_changed(d);
}

static void due_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
        Daemon *d = w->data;
        int64_t now = now_ms();
        bool changed = false;
        Ban *b;

        (void)loop;
        (void)revents;
        while ((b = banset_pop_due(d->bans, now))) {
                if (!b->active) {
                        banset_remove(d->bans, b); /* out of the repeat-offender memory */
                        d->bans_dirty = true;
                        continue;
                }
                {
                        char text[CIDR_STRLEN];
                        daemon_ban_text(b, text);
                        log_event(LOG_EVENT_EXPIRE, LOG_INFO,
                                  &(LogFields){.address = text, .rule = names_get(d->names, b->rule)},
                                  "unban %s: the ban expired", text);
                }
                d->stats.expired++;
                if (d->cfg->ban_memory_ms)
                        banset_deactivate(d->bans, b, now + (int64_t)d->cfg->ban_memory_ms);
                else
                        banset_remove(d->bans, b);
                changed = true;
        }
        if (changed)
                daemon_bans_changed(d);
        else {
                if (d->bans_dirty)
                        schedule_save(d, SAVE_BANS_S);
                daemon_arm_due(d);
        }
}

/* --- lines -------------------------------------------------------------- */

static void on_line(void *ctx, const char *line, size_t len)
{
        Daemon *d = ctx;
        RuleMatch m;
        const char *why;
        char text[ADDR_STRLEN];
        unsigned count;
        int64_t now, first;
        int r;

        if (!d->save_due)
                schedule_save(d, SAVE_POSITION_S);
        r = ruleset_match(d->rules, line, len, &m);
        if (r < 0) {
                d->stats.unparsed++;
                return;
        }
        if (r == 0)
                return;
        if (m.own_reject) {
                d->stats.own_rejects++;
                return;
        }
        why = exempt_reason(&d->exempt, mapwriter_admin_keys(d->map), &m.addr);
        if (why) {
                d->stats.exempt++;
                log_debug("%s matched rule %s but is never banned (%s)", addr_format(&m.addr, text),
                          m.rule->name, why);
                return;
        }
        if (banset_covering(d->bans, &m.addr)) {
                d->stats.already_banned++;
                return;
        }
        now = now_ms();
        count = tracker_hit(d->tracker, &m.addr, m.rule->id, m.rule->find_time_ms, m.rule->max_hits, now,
                            &first);
        d->stats.hits++;
        addr_format(&m.addr, text);
        log_event(LOG_EVENT_HIT, LOG_INFO, &(LogFields){.address = text, .rule = m.rule->name},
                  "hit %s: rule %s (%u/%u)", text, m.rule->name, MIN(count, m.rule->max_hits),
                  m.rule->max_hits);
        if (count >= m.rule->max_hits)
                ban(d, &m.addr, m.rule, count, first, now);
}

static const TailOps tail_ops = {on_line};

/* --- reload, stop ------------------------------------------------------- */

/* Reload config and rules; on failure *why says what was wrong. */
static int daemon_reload(Daemon *d, char **why)
{
        Diags errors = {0};
        Config *cfg = NULL;
        RuleSet *rules = NULL;
        Exempt exempt = {0};
        int r;

        *why = NULL;
        r = config_load_or_default(d->opts->config_path, &cfg, &errors);
        if (r == 0)
                r = load_rules(d, cfg, &rules, &errors);
        if (r < 0) {
                Buf b = {0};
                log_diags(&errors, "reload: ");
                log_event(LOG_EVENT_RELOAD_REJECTED, LOG_ERR, NULL,
                          "reload rejected (%zu problems); the previous configuration and rules stay in effect",
                          errors.n);
                for (size_t i = 0; i < errors.n; i++)
                        buf_printf(&b, "%s%s", i ? "; " : "", errors.items[i]);
                *why = b.data ? b.data : xstrdup("reload failed");
                config_free(cfg);
                diags_free(&errors);
                return -EINVAL;
        }
        diags_free(&errors);
        if (!streq(cfg->log_file, d->cfg->log_file) || !streq(cfg->state_file, d->cfg->state_file) ||
            !streq(cfg->control_socket, d->cfg->control_socket))
                log_warn("reload: log_file, state_file and control_socket changes take effect at the next start");
        /* keep the paths that need a restart */
        free(cfg->log_file);
        cfg->log_file = xstrdup(d->cfg->log_file);
        free(cfg->state_file);
        cfg->state_file = xstrdup(d->cfg->state_file);
        free(cfg->control_socket);
        cfg->control_socket = xstrdup(d->cfg->control_socket);
        build_exempt(cfg, &exempt);

        ruleset_free(d->rules);
        d->rules = rules;
        config_free(d->cfg);
        d->cfg = cfg;
        exempt_clear(&d->exempt);
        d->exempt = exempt;
        log_setup(cfg->log_target);
        tracker_set_window(d->tracker, ruleset_max_find_time(d->rules));
        tracker_set_max(d->tracker, cfg->max_tracked);
        banset_set_net_prefix(d->bans, cfg->ipv6_net_hosts ? cfg->ipv6_net_prefix : 0);
        mapwriter_configure(d->map, cfg->map_type, cfg->map_path, cfg->postmap, cfg->postmap_timeout_ms,
                            cfg->debounce_ms);
        mapwriter_request(d->map); /* the reject text, the ignore list or the admin keys may differ */
        log_event(LOG_EVENT_RELOAD, LOG_INFO, NULL, "reloaded: %zu rules", ruleset_count(d->rules));
        return 0;
}

int daemon_reload_notify(Daemon *d, char **why)
{
        int r;

        notify_reloading(d->notify);
        r = daemon_reload(d, why);
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
        tail_poll_now(d->tail);
        if (!mapwriter_busy(d->map)) {
                ev_break(loop, EVBREAK_ALL);
                return;
        }
        mapwriter_request_now(d->map);
        ev_timer_init(&d->stop_timeout, stop_timeout_cb, STOP_TIMEOUT_S, 0.);
        ev_timer_start(loop, &d->stop_timeout);
}

/* --- run ---------------------------------------------------------------- */

static const ControlOps control_ops = {daemon_command, daemon_client_gone};

static void daemon_done(Daemon *d)
{
        if (d->loop) {
                ev_timer_stop(d->loop, &d->save_timer);
                ev_periodic_stop(d->loop, &d->due);
        }
        d->control = control_free(d->control);
        d->notify = notify_free(d->notify);
        d->tail = tail_free(d->tail);
        d->map = mapwriter_free(d->map);
        d->rules = ruleset_free(d->rules);
        d->tracker = tracker_free(d->tracker);
        d->bans = banset_free(d->bans);
        d->names = names_free(d->names);
        exempt_clear(&d->exempt);
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
        bool same_log;
        int r;

        if (config_load_or_default(opts->config_path, &d.cfg, &errors) < 0) {
                diags_print(stderr, &errors, "");
                diags_free(&errors);
                return 78; /* EX_CONFIG */
        }
        log_setup(d.cfg->log_target);
        d.names = names_new();
        (void)names_intern(d.names, "manual", &d.manual_rule);
        (void)names_intern(d.names, "ipv6-network", &d.net_rule);
        if (load_rules(&d, d.cfg, &d.rules, &errors) < 0) {
                diags_print(stderr, &errors, "");
                diags_free(&errors);
                return fail(&d, 78);
        }
        if (!ruleset_jit(d.rules))
                log_warn("PCRE2 JIT is not available here; matching uses the slower interpreter");
        build_exempt(d.cfg, &d.exempt);

        if (getrandom(d.hash_key, sizeof(d.hash_key), 0) != sizeof(d.hash_key)) {
                log_err("getrandom: %m");
                return fail(&d, 1);
        }
        d.loop = ev_default_loop(EVFLAG_AUTO);
        if (!d.loop) {
                log_err("cannot create the event loop");
                return fail(&d, 1);
        }
        d.started_ms = now_ms();
        d.notify = notify_new(d.loop);
        d.tracker = tracker_new(d.cfg->max_tracked, d.hash_key);
        tracker_set_window(d.tracker, ruleset_max_find_time(d.rules));
        d.bans = banset_new(d.hash_key);
        banset_set_net_prefix(d.bans, d.cfg->ipv6_net_hosts ? d.cfg->ipv6_net_prefix : 0);
        r = mapwriter_new(&d.map, d.loop, d.cfg->map_type, d.cfg->map_path, d.cfg->postmap,
                          d.cfg->postmap_timeout_ms, d.cfg->debounce_ms, &map_ops, &d);
        if (r < 0) {
                log_err("%s: %s", d.cfg->map_path, strerror(-r));
                return fail(&d, 1);
        }
        r = tail_new(&d.tail, d.loop, d.cfg->log_file, &tail_ops, &d);
        if (r < 0) {
                log_err("%s: cannot follow: %s", d.cfg->log_file, strerror(-r));
                return fail(&d, 1);
        }
        r = control_new(&d.control, d.loop, d.cfg->control_socket, &control_ops, &d);
        if (r < 0) {
                log_err("%s: cannot create the control socket: %s", d.cfg->control_socket, strerror(-r));
                return fail(&d, 1);
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
        ev_init(&d.save_timer, save_timer_cb);
        d.save_timer.data = &d;

        /* Bans and position from the state file; then the first map write,
           which makes us ready.  The log may produce bans meanwhile. */
        load_state(&d, &st);
        restore_bans(&d, &st, d.started_ms);
        daemon_arm_due(&d);
        mapwriter_request_now(d.map);
        same_log = st.log_file && streq(st.log_file, d.cfg->log_file);
        if (st.n_pos && !same_log)
                log_info("%s: the saved position is for %s; starting as configured", d.cfg->state_file,
                         st.log_file ? st.log_file : "another log");
        r = tail_start(d.tail, same_log ? st.pos : NULL, same_log ? st.n_pos : 0,
                       d.cfg->start_at == START_AT_BEGINNING);
        state_clear(&st);
        if (r < 0)
                return fail(&d, 1);
        ev_run(d.loop, 0);

        save_state(&d);
        {
                const TailStats *ts = tail_stats(d.tail);
                log_event(LOG_EVENT_STOP, LOG_INFO, NULL,
                          "stopped: %llu lines (%llu bytes, %llu cut, %llu rotations, %llu truncations), "
                          "%llu hits, %llu bans, %llu already banned, %llu never banned",
                          (unsigned long long)ts->lines, (unsigned long long)ts->bytes,
                          (unsigned long long)ts->cut, (unsigned long long)ts->rotations,
                          (unsigned long long)ts->truncations, (unsigned long long)d.stats.hits,
                          (unsigned long long)d.stats.bans, (unsigned long long)d.stats.already_banned,
                          (unsigned long long)d.stats.exempt);
        }
        daemon_done(&d);
        ev_loop_destroy(d.loop);
        return 0;
}
