/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * commands: what autoblacklistctl can ask the running daemon.
 *
 *   status                 counters, the last ban, the map, memory
 *   list [--json]          the bans
 *   ban ADDR[/LEN] [DURATION]
 *   unban ADDR[/LEN]
 *   reload                 as SIGHUP
 *   flush --yes [--fleet]  lift every ban and take our block out of the map
 *                          (--fleet: on every host of the fleet too)
 *   help
 *
 * Security: the words come from a local admin through a 0600 socket, but
 * they are still checked like any input: an address must pass inet_pton(),
 * a duration parse_duration(), and a ban is refused for what is never
 * banned (loopback, the ignore list, OK in the map).
 */
#include "service/daemon-internal.h"

#include <errno.h>

#include "service/log.h"
#include "util/util.h"

static void put_time(Buf *out, int64_t ms)
{
        char t[64];
        buf_puts(out, ms ? format_time(ms, t, sizeof(t)) : "never");
}

static void json_string(Buf *out, const char *s)
{
        buf_append(out, "\"", 1);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        buf_printf(out, "\\%c", c);
                else if (c < 0x20)
                        buf_printf(out, "\\u%04x", c);
                else
                        buf_append(out, s, 1);
        }
        buf_append(out, "\"", 1);
}

/*
 * s for a terminal: rule names come from the state file, which a crash or
 * a hand edit may have filled with anything; a control character or a
 * backslash is written as \xHH, so that `list` cannot move the cursor.
 */
static const char *text_safe(const char *s, char *buf, size_t size)
{
        size_t n = 0;

        for (; *s && n + 5 < size; s++) {
                unsigned char c = (unsigned char)*s;
                if (c < 0x20 || c == 0x7f || c == '\\')
                        n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
                else
                        buf[n++] = (char)c;
        }
        buf[n] = '\0';
        return buf;
}

static void json_time(Buf *out, int64_t ms)
{
        char t[64];
        if (ms)
                buf_printf(out, "\"%s\"", format_time(ms, t, sizeof(t)));
        else
                buf_puts(out, "null");
}

/*
 * "memory: 1.2 MiB for 20000 tracked addresses (63 bytes each), ...".  A
 * figure per entry only from 1000 entries on: below that the tables'
 * fixed part is most of it, and "131168 bytes per address" misleads.
 */
static void put_memory(Buf *out, size_t tmem, size_t tn, const char *twhat, size_t bmem, size_t bn,
                       const char *bwhat)
{
        const size_t each_from = 1000;

        buf_printf(out, "memory: %.1f KiB for %zu %s", (double)tmem / 1024, tn, twhat);
        if (tn >= each_from)
                buf_printf(out, " (%zu bytes each)", tmem / tn);
        buf_printf(out, ", %.1f KiB for %zu %s", (double)bmem / 1024, bn, bwhat);
        if (bn >= each_from)
                buf_printf(out, " (%zu bytes each)", bmem / bn);
        buf_puts(out, "\n");
}

static ControlResult cmd_status(Daemon *d, Buf *out)
{
        BackendCounts counts = {0};
        size_t tracked, records = banset_records(d->bans);
        char up[32];

        tracker_expire(d->tracker, now_ms()); /* count only what still counts */
        tracked = tracker_count(d->tracker);
        buf_printf(out, "uptime: %s\n",
                   format_duration((uint64_t)(now_ms() - d->started_ms) / 1000 * 1000, up, sizeof(up)));
        buf_printf(out, "source: %s (%s)\n", source_kind(d->source), d->source_why);
        source_status(d->source, out);
        buf_printf(out, "hits: %llu (and %llu already banned, %llu never banned, %llu own rejections)\n",
                   (unsigned long long)d->stats.hits, (unsigned long long)d->stats.already_banned,
                   (unsigned long long)d->stats.exempt, (unsigned long long)d->stats.own_rejects);
        buf_printf(out, "bans: %zu active, %zu ended and remembered; since start %llu by rules, %llu networks, "
                        "%llu by hand, %llu lifted, %llu expired, %llu not imposed (over by their log time)\n",
                   banset_active(d->bans), records - banset_active(d->bans), (unsigned long long)d->stats.bans,
                   (unsigned long long)d->stats.net_bans, (unsigned long long)d->stats.manual_bans,
                   (unsigned long long)d->stats.unbans, (unsigned long long)d->stats.expired,
                   (unsigned long long)d->stats.too_late);
        buf_printf(out, "tracked addresses: %zu (at most %zu; %llu evicted)\n", tracked, d->cfg->max_tracked,
                   (unsigned long long)tracker_evictions(d->tracker));
        if (d->stats.last_ban_ms) {
                buf_printf(out, "last ban: %s (%s) at ", d->stats.last_ban, d->stats.last_ban_rule);
                put_time(out, d->stats.last_ban_ms);
                buf_puts(out, "\n");
        } else
                buf_puts(out, "last ban: none since start\n");
        /* the maps and the fleet: each backend's own lines */
        if (backends_shared(d->backends))
                counts = daemon_fleet_counts(d);
        backends_status(d->backends, &counts, out);
        if (d->save_failing)
                buf_printf(out, "state: %s: not saved: %s; new bans are held back from the map, retrying\n",
                           d->cfg->state_file, d->save_error);
        else
                buf_printf(out, "state: %s\n", d->cfg->state_file);
        put_memory(out, tracker_memory(d->tracker) + tracker_memory(d->net_tracker), tracked, "tracked addresses",
                   banset_memory(d->bans), records, "ban records");
        buf_printf(out, "rules: %zu%s\n", ruleset_count(d->rules), ruleset_jit(d->rules) ? "" : " (no JIT)");
        buf_printf(out, "private addresses: %s\n", daemon_private_policy(d));
        {
                char h[256];
                const char *p = health_problem(&d->health, h, sizeof(h));
                buf_printf(out, "log health: %s\n", p ? p : "ok");
        }
        buf_printf(out, "logged-in sessions: %zu held (%llu evicted), %llu hits of theirs not counted\n",
                   sessions_count(d->sessions), (unsigned long long)sessions_evictions(d->sessions),
                   (unsigned long long)d->stats.logged_in);
        buf_printf(out, "log messages dropped by the flood limiter: %llu\n", (unsigned long long)log_dropped());
        return CONTROL_OK;
}

static ControlResult cmd_list(Daemon *d, bool json, Buf *out)
{
        _cleanup_free_ Ban **v = NULL;
        size_t n = banset_list(d->bans, true, &v);
        char text[CIDR_STRLEN];

        if (json) {
                buf_puts(out, "[");
                for (size_t i = 0; i < n; i++) {
                        buf_puts(out, i ? ",\n {" : "\n {");
                        buf_puts(out, "\"address\": ");
                        json_string(out, daemon_ban_text(v[i], text));
                        buf_printf(out, ", \"network\": %s, \"rule\": ",
                                   ban_is_host(v[i]) ? "false" : "true");
                        json_string(out, names_get(d->names, v[i]->rule));
                        buf_printf(out, ", \"manual\": %s, \"hits\": %u, \"bans\": %u, \"first_hit\": ",
                                   v[i]->manual ? "true" : "false", v[i]->hits, v[i]->count);
                        json_time(out, v[i]->first_hit_ms);
                        buf_puts(out, ", \"last_hit\": ");
                        json_time(out, v[i]->last_hit_ms);
                        buf_puts(out, ", \"banned\": ");
                        json_time(out, v[i]->banned_ms);
                        buf_puts(out, ", \"expires\": ");
                        json_time(out, v[i]->expires_ms);
                        buf_printf(out, ", \"remote\": %s, \"origin\": ", v[i]->remote ? "true" : "false");
                        if (v[i]->remote)
                                json_string(out, names_get(d->names, v[i]->origin));
                        else
                                buf_puts(out, "null");
                        buf_puts(out, "}");
                }
                buf_puts(out, n ? "\n]\n" : "]\n");
                return CONTROL_OK;
        }
        buf_printf(out, "%-40s %-26s %5s %4s  %-20s  %s\n", "ADDRESS", "RULE", "HITS", "BANS", "BANNED", "EXPIRES");
        for (size_t i = 0; i < n; i++) {
                char t1[64], t2[64], rule[4 * 65 + 8], origin[4 * 65 + 8];
                buf_printf(out, "%-40s %-26s %5u %4u  %-20s  %s", daemon_ban_text(v[i], text),
                           text_safe(names_get(d->names, v[i]->rule), rule, sizeof(rule)), v[i]->hits, v[i]->count,
                           format_time(v[i]->banned_ms, t1, sizeof(t1)),
                           v[i]->expires_ms ? format_time(v[i]->expires_ms, t2, sizeof(t2)) : "never");
                /* a ban of another host of the fleet says whose */
                if (v[i]->remote)
                        buf_printf(out, "  from %s", text_safe(names_get(d->names, v[i]->origin), origin, sizeof(origin)));
                buf_puts(out, "\n");
        }
        return CONTROL_OK;
}

/* ADDR or ADDR/LEN into a network; the text of the problem, if any. */
static const char *parse_target(const char *s, Cidr *c)
{
        int r = cidr_parse(s, c);

        if (r == -EDOM)
                return "host bits are set after the prefix length";
        if (r < 0)
                return "not an IPv4 or IPv6 address (or ADDRESS/LENGTH)";
        return NULL;
}

static ControlResult cmd_ban(Daemon *d, char **argv, size_t argc, Buf *out)
{
        uint64_t len = d->cfg->ban_time_ms;
        char text[CIDR_STRLEN], dur[32];
        const char *problem, *why;
        int64_t now = now_ms();
        Cidr c;
        Ban *b;

        if (argc < 2 || argc > 3) {
                buf_puts(out, "usage: ban ADDRESS[/LENGTH] [DURATION]");
                return CONTROL_ERROR;
        }
        problem = parse_target(argv[1], &c);
        if (problem) {
                buf_printf(out, "'%s': %s", argv[1], problem);
                return CONTROL_ERROR;
        }
        if (argc == 3 && (streq(argv[2], "forever") ? (len = 0, false) : parse_duration(argv[2], &len) < 0)) {
                buf_printf(out, "'%s' is not a duration (e.g. 90s, 10m, 1h, 7d, or forever)", argv[2]);
                return CONTROL_ERROR;
        }
        if (!backends_can_hold(d->backends, &c.net, c.plen)) {
                buf_printf(out, "%s: no access(5) key can match exactly this network; IPv4 networks need "
                                "a /8, /16 or /24, IPv6 ones whole 16-bit groups without '::' inside and "
                                "not one group of decimal digits (an IPv4 lookup reaches those); "
                                "network_map = cidr:... takes any network",
                           argv[1]);
                return CONTROL_ERROR;
        }
        why = daemon_never_ban(d, &c.net, c.plen);
        if (why) {
                buf_printf(out, "%s is never banned (%s)", argv[1], why);
                return CONTROL_ERROR;
        }
        b = banset_upsert(d->bans, &c.net, c.plen);
        b->rule = d->manual_rule;
        b->manual = true;
        b->remote = false;
        b->count++;
        b->hits = 0;
        b->first_hit_ms = b->last_hit_ms = 0;
        b->banned_ms = now;
        if (!b->active)
                b->in_state = false; /* the next save must hold it before the map does */
        banset_activate(d->bans, b, len ? now + (int64_t)len : 0);
        backends_ban(d->backends, &b->addr, b->plen, "manual", b->expires_ms, b->count);
        if (cidr_is_host(&c))
                tracker_forget(d->tracker, &c.net);
        daemon_set_blocks(d, true);
        d->stats.manual_bans++;
        daemon_ban_text(b, text);
        log_event(LOG_EVENT_BAN, LOG_NOTICE,
                  &(LogFields){.address = text, .rule = "manual", .expires_ms = len ? b->expires_ms : -1},
                  "ban %s: by hand, for %s", text, len ? format_duration(len, dur, sizeof(dur)) : "ever");
        daemon_bans_changed(d);
        buf_printf(out, "banned %s until ", text);
        put_time(out, b->expires_ms);
        buf_puts(out, "\n");
        return CONTROL_OK;
}

static ControlResult cmd_unban(Daemon *d, char **argv, size_t argc, Buf *out)
{
        char text[CIDR_STRLEN];
        const char *problem;
        Cidr c;
        Ban *b, *cover;

        if (argc != 2) {
                buf_puts(out, "usage: unban ADDRESS[/LENGTH]");
                return CONTROL_ERROR;
        }
        problem = parse_target(argv[1], &c);
        if (problem) {
                buf_printf(out, "'%s': %s", argv[1], problem);
                return CONTROL_ERROR;
        }
        b = banset_get(d->bans, &c.net, c.plen);
        if (!b || !b->active) {
                cover = cidr_is_host(&c) ? banset_covering(d->bans, &c.net) : NULL;
                if (cover)
                        buf_printf(out, "%s is not banned itself, but its network %s is: unban that", argv[1],
                                   daemon_ban_text(cover, text));
                else
                        buf_printf(out, "%s is not banned", argv[1]);
                /* forget its hits all the same: the admin trusts it now */
                if (cidr_is_host(&c))
                        tracker_forget(d->tracker, &c.net);
                return CONTROL_ERROR;
        }
        daemon_ban_text(b, text);
        backends_unban(d->backends, &b->addr, b->plen); /* an unban lifts it on every host */
        daemon_lift(d, b, "by hand");
        buf_printf(out, "unbanned %s\n", text);
        return CONTROL_OK;
}

static ControlResult cmd_flush(Daemon *d, uint64_t id, char **argv, size_t argc, Buf *out)
{
        _cleanup_free_ Ban **v = NULL;
        size_t n;

        bool fleet = argc == 3 && (streq(argv[2], "--fleet") || streq(argv[1], "--fleet"));

        if (!(argc == 2 && streq(argv[1], "--yes")) &&
            !(fleet && (streq(argv[1], "--yes") || streq(argv[2], "--yes")))) {
                buf_puts(out, "flush lifts every ban and takes our block out of the map; say 'flush --yes' "
                              "('flush --yes --fleet': on every host of the fleet)");
                return CONTROL_ERROR;
        }
        if (fleet && !backends_shared(d->backends)) {
                buf_puts(out, "flush --fleet: fleet mode is off (no fleet in the configuration)");
                return CONTROL_ERROR;
        }
        /* Without --fleet the others keep their bans, and ours stay in the table for them. */
        if (fleet)
                backends_flush_shared(d->backends);
        n = banset_list(d->bans, false, &v);
        for (size_t i = 0; i < n; i++) {
                if (ban_is_host(v[i]))
                        tracker_forget(d->tracker, &v[i]->addr);
                banset_remove(d->bans, v[i]);
        }
        log_event(LOG_EVENT_UNBAN, LOG_NOTICE, NULL, "flush%s: %zu ban records dropped; removing our block from %s",
                  fleet ? " (on the whole fleet)" : "", n, backends_primary_name(d->backends));
        d->stats.unbans += n;
        daemon_set_blocks(d, false);
        d->bans_dirty = true;
        daemon_arm_due(d);
        /* The answer waits for a write that rendered after this point: a
           write already under way shows the old bans and does not count. */
        GROW(d->flushes, d->cap_flushes, d->n_flushes + 1);
        d->flushes[d->n_flushes++] = (FlushWaiter){.id = id, .gen = daemon_map_request(d, true)};
        return CONTROL_PENDING;
}

ControlResult daemon_command(void *ctx, uint64_t id, char **argv, size_t argc, Buf *out)
{
        Daemon *d = ctx;

        if (streq(argv[0], "status") && argc == 1)
                return cmd_status(d, out);
        if (streq(argv[0], "list") && argc == 1)
                return cmd_list(d, false, out);
        if (streq(argv[0], "list") && argc == 2 && streq(argv[1], "--json"))
                return cmd_list(d, true, out);
        if (streq(argv[0], "ban"))
                return cmd_ban(d, argv, argc, out);
        if (streq(argv[0], "unban"))
                return cmd_unban(d, argv, argc, out);
        if (streq(argv[0], "flush"))
                return cmd_flush(d, id, argv, argc, out);
        if (streq(argv[0], "reload") && argc == 1) {
                _cleanup_free_ char *why = NULL;
                if (daemon_reload_notify(d, &why) < 0) {
                        buf_printf(out, "reload rejected, the previous configuration stays: %s", why);
                        return CONTROL_ERROR;
                }
                buf_printf(out, "reloaded: %zu rules\n", ruleset_count(d->rules));
                return CONTROL_OK;
        }
        if (streq(argv[0], "help") && argc == 1) {
                buf_puts(out, "status\nlist [--json]\nban ADDRESS[/LENGTH] [DURATION]\nunban ADDRESS[/LENGTH]\n"
                              "reload\nflush --yes [--fleet]\n");
                return CONTROL_OK;
        }
        buf_printf(out, "unknown command or arguments: '%s'; try 'help'", argv[0]);
        return CONTROL_ERROR;
}
