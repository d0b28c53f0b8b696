/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * daemon: the glue.  One libev loop, no threads.  Lines from tail go to
 * rules; a match goes through the never-ban check and the tracker; a
 * crossed threshold becomes a ban; a change of bans asks the map writer
 * for a new map.  One ev_periodic, armed for the earliest expiry, lifts
 * bans when they are due (wall-clock time, as bans are kept across
 * restarts).  SIGHUP reloads, SIGTERM stops after the last map write.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <sys/random.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "banset.h"
#include "conf.h"
#include "exempt.h"
#include "log.h"
#include "mapwriter.h"
#include "names.h"
#include "rules.h"
#include "state.h"
#include "tail.h"
#include "tracker.h"
#include "util.h"

#define STOP_TIMEOUT_S 30.0
#define MAX_TRACKED_DEFAULT 200000
/* Save the state this soon after the bans change, and at most this late
   after the log position moved (a crash re-reads at most that much). */
#define SAVE_BANS_S 2.0
#define SAVE_POSITION_S 60.0

typedef struct Stats {
        uint64_t matches;
        uint64_t hits;
        uint64_t bans;
        uint64_t unbans;
        uint64_t expired;
        uint64_t exempt;
        uint64_t already_banned;
        uint64_t own_rejects;
        uint64_t unparsed;
        char last_ban[ADDR_STRLEN];
        int64_t last_ban_ms;
} Stats;

typedef struct Daemon {
        struct ev_loop *loop;
        const DaemonOptions *opts;
        const char *config_path;
        Config *cfg;
        Names *names;
        RuleSet *rules;
        Tracker *tracker;
        Banset *bans;
        MapWriter *map;
        Tail *tail;
        Exempt exempt;
        uint8_t hash_key[16];

        ev_signal sighup, sigterm, sigint;
        ev_periodic expiry;
        ev_timer stop_timeout;
        ev_timer save_timer;
        ev_tstamp save_due; /* when the armed save_timer fires; 0: not armed */
        bool ready;
        bool stopping;
        int exit_code;
        Stats stats;
} Daemon;

/* --- configuration ------------------------------------------------------ */

static void print_diags(const Diags *d, const char *prefix)
{
        for (size_t i = 0; i < d->n; i++)
                log_event(LOG_EVENT_NONE, LOG_ERR, NULL, "%s%s", prefix, d->items[i]);
}

static int load_config(Daemon *d, Config **out, Diags *errors)
{
        if (access(d->config_path, F_OK) < 0 && !d->opts->config_path) {
                /* no file at the default place: built-in defaults */
                *out = config_new_default();
                return 0;
        }
        return config_load(d->config_path, out, errors);
}

static int load_rules(Daemon *d, const Config *cfg, RuleSet **out, Diags *errors)
{
        RuleDefaults defs = {
                .max_hits = cfg->max_hits,
                .find_time_ms = cfg->find_time_ms,
                .ban_time_ms = cfg->ban_time_ms,
                .reject_text = cfg->reject_text,
        };
        Diags warnings = {0};
        int r;

        r = ruleset_load(out, d->opts->rules_override ? d->opts->rules_override : cfg->rules, &defs,
                         d->names, errors, &warnings);
        for (size_t i = 0; i < warnings.n; i++)
                log_warn("%s", warnings.items[i]);
        diags_free(&warnings);
        return r;
}

static void build_exempt(Daemon *d)
{
        exempt_clear(&d->exempt);
        for (size_t i = 0; i < d->cfg->n_ignore; i++)
                exempt_add(&d->exempt, &d->cfg->ignore[i], "ignore list");
}

/* --- state ------------------------------------------------------------- */

static void save_state(Daemon *d)
{
        State st = {0};
        int r;

        st.log_file = d->cfg->log_file;
        st.n_pos = tail_positions(d->tail, st.pos, TAIL_MAX_POS);
        r = state_save(d->cfg->state_file, &st);
        if (r < 0)
                log_err("%s: cannot save the state: %s", d->cfg->state_file, strerror(-r));
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

/* --- bans and the map --------------------------------------------------- */

static void arm_expiry(Daemon *d)
{
        int64_t next = banset_next_expiry(d->bans);

        ev_periodic_stop(d->loop, &d->expiry);
        if (next) {
                ev_periodic_set(&d->expiry, (double)next / 1000.0, 0., NULL);
                ev_periodic_start(d->loop, &d->expiry);
        }
}

static size_t render_entries(void *ctx, const AdminKeys *admin, Buf *out)
{
        Daemon *d = ctx;
        _cleanup_free_ Ban **v = NULL;
        size_t n = banset_list(d->bans, true, &v), written = 0;

        for (size_t i = 0; i < n; i++) {
                char key[CIDR_STRLEN];
                if (mapfile_key(&v[i]->addr, v[i]->plen, key, sizeof(key)) < 0)
                        continue;
                /* The admin's own line for this key decides; never duplicate it. */
                if (adminkeys_lookup(admin, key) == ADMIN_PERMIT || adminkeys_has(admin, key))
                        continue;
                buf_printf(out, "%s REJECT %s\n", key, d->cfg->reject_text);
                written++;
        }
        return written;
}

static void map_done(void *ctx, int result, size_t entries)
{
        Daemon *d = ctx;

        if (result < 0)
                return; /* the writer logged it and retries */
        log_event(LOG_EVENT_MAP_WRITTEN, LOG_INFO, NULL, "%s: written, %zu %s", mapwriter_path(d->map),
                  entries, entries == 1 ? "entry" : "entries");
        if (!d->ready) {
                d->ready = true;
                sd_notify(0, "READY=1\nSTATUS=Following the log");
                log_event(LOG_EVENT_START, LOG_INFO, NULL, "ready: following %s, %zu rules, %zu bans",
                          d->cfg->log_file, ruleset_count(d->rules), banset_active(d->bans));
        }
        if (d->stopping && !mapwriter_busy(d->map))
                ev_break(d->loop, EVBREAK_ALL);
}

static const MapWriterOps map_ops = {render_entries, map_done};

static void ban(Daemon *d, const Addr *a, const Rule *rule, unsigned hits, int64_t first_ms, int64_t now)
{
        Ban *b = banset_upsert(d->bans, a, addr_is_v4(a) ? 32 : 128);
        int64_t expires = rule->ban_time_ms ? now + (int64_t)rule->ban_time_ms : 0;
        char text[ADDR_STRLEN], dur[32];

        b->rule = rule->id;
        b->hits = hits;
        b->first_hit_ms = first_ms;
        b->last_hit_ms = now;
        b->banned_ms = now;
        b->manual = false;
        b->count++;
        banset_activate(d->bans, b, expires);
        tracker_forget(d->tracker, a);
        arm_expiry(d);
        mapwriter_request(d->map);

        d->stats.bans++;
        addr_format(a, text);
        memcpy(d->stats.last_ban, text, sizeof(text));
        d->stats.last_ban_ms = now;
        log_event(LOG_EVENT_BAN, LOG_NOTICE,
                  &(LogFields){.address = text, .rule = rule->name, .expires_ms = expires ? expires : -1},
                  "ban %s: %u hits of rule %s, for %s", text, hits, rule->name,
                  rule->ban_time_ms ? format_duration(rule->ban_time_ms, dur, sizeof(dur)) : "ever");
}

static void expiry_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
        Daemon *d = w->data;
        int64_t now = now_ms();
        Ban *b;
        bool changed = false;

        (void)loop;
        (void)revents;
        while ((b = banset_pop_expired(d->bans, now))) {
                char text[ADDR_STRLEN];
                addr_format(&b->addr, text);
                log_event(LOG_EVENT_EXPIRE, LOG_INFO,
                          &(LogFields){.address = text, .rule = names_get(d->names, b->rule)},
                          "unban %s: the ban expired", text);
                d->stats.expired++;
                banset_remove(d->bans, b);
                changed = true;
        }
        if (changed)
                mapwriter_request(d->map);
        arm_expiry(d);
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
        d->stats.matches++;
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

/* --- signals ------------------------------------------------------------ */

static void reload(Daemon *d)
{
        Diags errors = {0};
        Config *cfg = NULL;
        RuleSet *rules = NULL;
        struct timespec ts;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
        r = load_config(d, &cfg, &errors);
        if (r == 0)
                r = load_rules(d, cfg, &rules, &errors);
        if (r < 0) {
                print_diags(&errors, "reload: ");
                log_event(LOG_EVENT_RELOAD_REJECTED, LOG_ERR, NULL,
                          "reload rejected (%zu problems); the previous configuration and rules stay "
                          "in effect",
                          errors.n);
                config_free(cfg);
                diags_free(&errors);
                sd_notify(0, "READY=1");
                return;
        }
        diags_free(&errors);
        if (!streq(cfg->log_file, d->cfg->log_file) || !streq(cfg->state_file, d->cfg->state_file) ||
            !streq(cfg->control_socket, d->cfg->control_socket))
                log_warn("reload: log_file, state_file and control_socket changes take effect at "
                         "the next restart");
        ruleset_free(d->rules);
        d->rules = rules;
        /* keep the paths that need a restart */
        free(cfg->log_file);
        cfg->log_file = xstrdup(d->cfg->log_file);
        free(cfg->state_file);
        cfg->state_file = xstrdup(d->cfg->state_file);
        free(cfg->control_socket);
        cfg->control_socket = xstrdup(d->cfg->control_socket);
        config_free(d->cfg);
        d->cfg = cfg;
        log_setup(cfg->log_target);
        build_exempt(d);
        tracker_set_window(d->tracker, ruleset_max_find_time(d->rules));
        mapwriter_configure(d->map, cfg->map_type, cfg->map_path, cfg->postmap, cfg->debounce_ms);
        mapwriter_request(d->map); /* the reject text or the admin keys may differ */
        log_event(LOG_EVENT_RELOAD, LOG_INFO, NULL, "reloaded: %zu rules", ruleset_count(d->rules));
        sd_notify(0, "READY=1");
}

static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
        (void)loop;
        (void)revents;
        reload(w->data);
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
        sd_notify(0, "STOPPING=1");
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

static void daemon_done(Daemon *d)
{
        if (d->loop)
                ev_timer_stop(d->loop, &d->save_timer);
        d->tail = tail_free(d->tail);
        d->map = mapwriter_free(d->map);
        d->rules = ruleset_free(d->rules);
        d->tracker = tracker_free(d->tracker);
        d->bans = banset_free(d->bans);
        d->names = names_free(d->names);
        exempt_clear(&d->exempt);
        d->cfg = config_free(d->cfg);
}

int daemon_run(const DaemonOptions *opts)
{
        Daemon d = {.opts = opts, .exit_code = 0};
        Diags errors = {0};
        int r;

        d.config_path = opts->config_path ? opts->config_path : DEFAULT_CONFIG_FILE;
        if (load_config(&d, &d.cfg, &errors) < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        fprintf(stderr, "%s\n", errors.items[i]);
                diags_free(&errors);
                return 78; /* EX_CONFIG */
        }
        log_setup(d.cfg->log_target);
        d.names = names_new();
        if (load_rules(&d, d.cfg, &d.rules, &errors) < 0) {
                for (size_t i = 0; i < errors.n; i++)
                        fprintf(stderr, "%s\n", errors.items[i]);
                diags_free(&errors);
                daemon_done(&d);
                return 78;
        }
        if (!ruleset_jit(d.rules))
                log_warn("PCRE2 JIT is not available here; matching uses the slower interpreter");
        build_exempt(&d);

        if (getrandom(d.hash_key, sizeof(d.hash_key), 0) != sizeof(d.hash_key)) {
                log_err("getrandom: %m");
                daemon_done(&d);
                return 1;
        }
        d.loop = ev_default_loop(EVFLAG_AUTO);
        if (!d.loop) {
                log_err("cannot create the event loop");
                daemon_done(&d);
                return 1;
        }
        d.tracker = tracker_new(MAX_TRACKED_DEFAULT, d.hash_key);
        tracker_set_window(d.tracker, ruleset_max_find_time(d.rules));
        d.bans = banset_new(d.hash_key);
        r = mapwriter_new(&d.map, d.loop, d.cfg->map_type, d.cfg->map_path, d.cfg->postmap,
                          d.cfg->debounce_ms, &map_ops, &d);
        if (r < 0) {
                log_err("%s: %s", d.cfg->map_path, strerror(-r));
                daemon_done(&d);
                return 1;
        }
        r = tail_new(&d.tail, d.loop, d.cfg->log_file, &tail_ops, &d);
        if (r < 0) {
                log_err("%s: cannot follow: %s", d.cfg->log_file, strerror(-r));
                daemon_done(&d);
                return 1;
        }

        signal(SIGPIPE, SIG_IGN);
        ev_signal_init(&d.sighup, sighup_cb, SIGHUP);
        ev_signal_init(&d.sigterm, sigterm_cb, SIGTERM);
        ev_signal_init(&d.sigint, sigterm_cb, SIGINT);
        d.sighup.data = d.sigterm.data = d.sigint.data = &d;
        ev_signal_start(d.loop, &d.sighup);
        ev_signal_start(d.loop, &d.sigterm);
        ev_signal_start(d.loop, &d.sigint);
        ev_init(&d.expiry, expiry_cb);
        d.expiry.data = &d;

        ev_init(&d.save_timer, save_timer_cb);
        d.save_timer.data = &d;

        /* The first map write makes us ready; the log may produce bans meanwhile. */
        mapwriter_request_now(d.map);
        {
                State st = {0};
                bool same_log;
                load_state(&d, &st);
                same_log = st.log_file && streq(st.log_file, d.cfg->log_file);
                if (st.n_pos && !same_log)
                        log_info("%s: the saved position is for %s; starting as configured", d.cfg->state_file,
                                 st.log_file ? st.log_file : "another log");
                r = tail_start(d.tail, same_log ? st.pos : NULL, same_log ? st.n_pos : 0,
                               d.cfg->start_at == START_AT_BEGINNING);
                state_clear(&st);
        }
        if (r < 0) {
                daemon_done(&d);
                return 1;
        }
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
        return d.exit_code;
}
