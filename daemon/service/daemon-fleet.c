/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * daemon-fleet: fleet mode inside the daemon.  fleet.c is the link to the
 * shared table; here its rows become bans of our ban set, marked remote
 * with their origin host, and reach the map through the daemon's one
 * debounced, atomic map write (daemon_bans_changed()), like our own bans.
 *
 * Local exemptions always win: a remote ban of an address that this host
 * never bans (its own addresses, loopback, private space, the admin's OK
 * entries, ignore) is not imposed here, and that is logged.  A ban we
 * already hold ourselves stands as ours.  An unban from another host lifts
 * the ban here too, ours or not.  Imported bans are never published again
 * (only impose(), `ban`, `unban` and `flush --fleet` publish), so nothing
 * loops back as a new ban.
 */
#include "service/daemon-internal.h"

#include <errno.h>
#include <unistd.h>

#include "service/log.h"
#include "util/util.h"

/*
 * Rule and host names from the fleet are interned like our own (2 bytes a
 * ban), and an interned name stays for the daemon's life: a fleet host
 * that invents names could fill the table that our own rules need.  So at
 * most this many names come from the fleet; a ban under yet another rule
 * name is imposed as rule "fleet", one of yet another host is refused.
 */
#define FLEET_NAMES_MAX 1024

/* The id of a name from the fleet (or of fallback, past the bound); false if none. */
static bool fleet_intern(Daemon *d, const char *name, const char *fallback, uint16_t *out)
{
        if (names_find(d->names, name, out) == 0)
                return true;
        if (d->fleet_names >= FLEET_NAMES_MAX)
                return fallback && names_intern(d->names, fallback, out) == 0;
        if (names_intern(d->names, name, out) < 0)
                return false;
        d->fleet_names++;
        return true;
}

static bool imported(void *ctx, const FleetBan *fb)
{
        Daemon *d = ctx;
        const Ban *b = policy_get(d->policy, &fb->net.net, fb->net.plen);
        char text[CIDR_STRLEN], until[64];
        const char *why;
        int64_t now = now_ms(), expires;
        uint16_t rule, origin;
        PolicyImport im = {.addr = fb->net.net,
                           .plen = fb->net.plen,
                           .origin = fb->origin,
                           .forever = fb->forever,
                           .remaining_ms = fb->remaining_ms,
                           .age_ms = fb->age_ms,
                           .count = fb->count};
        PolicyImportCheck check;

        if (!fb->active) {
                if (!b || !b->active)
                        return false;
                /* as daemon_lift(), but one map request for a whole burst (a flush --fleet) */
                daemon_ban_text(b, text);
                log_event(LOG_EVENT_UNBAN, LOG_NOTICE, &(LogFields){.address = text, .rule = names_get(d->names, b->rule)},
                          "unban %s: lifted on the fleet by %s", text, fb->origin);
                policy_lift(d->policy, b);
                d->stats.unbans++;
                d->fleet_dirty = true;
                return true;
        }
        /* over already, our own ban of it stands, or the same row again (a
           catch-up overlaps what we heard) */
        check = policy_import_check(d->policy, &im, mapwriter_admin_keys(d->map), now, &why);
        if (check == POLICY_IMPORT_OVER || check == POLICY_IMPORT_OURS || check == POLICY_IMPORT_SAME)
                return false;
        cidr_format(&fb->net, text);
        if (cidr_is_host(&fb->net))
                daemon_ban_text(&(Ban){.addr = fb->net.net, .plen = fb->net.plen}, text);
        if (check == POLICY_IMPORT_NO_KEY) {
                d->fleet_refused++;
                log_notice("fleet: %s's ban of %s is not imposed here: no access(5) key can match that network "
                           "(set network_map = cidr:...)",
                           fb->origin, text);
                return false;
        }
        if (check == POLICY_IMPORT_EXEMPT) {
                d->fleet_refused++;
                log_event(LOG_EVENT_NONE, LOG_NOTICE, &(LogFields){.address = text, .rule = fb->rule},
                          "fleet: %s's ban of %s (rule %s) is not imposed here: never banned (%s)", fb->origin,
                          text, fb->rule, why);
                return false;
        }
        if (!fleet_intern(d, fb->origin, NULL, &origin) || !fleet_intern(d, fb->rule, "fleet", &rule)) {
                log_warn("fleet: %u rule and host names came from the fleet, the most taken; %s's ban of %s is "
                         "not imposed",
                         d->fleet_names, fb->origin, text);
                return false;
        }
        b = policy_import(d->policy, &im, rule, origin, now);
        expires = b->expires_ms;
        daemon_set_blocks(d, true);
        log_event(LOG_EVENT_BAN, LOG_INFO,
                  &(LogFields){.address = text, .rule = fb->rule, .expires_ms = expires ? expires : -1},
                  "ban %s: from the fleet, banned by %s (rule %s), until %s", text, fb->origin, fb->rule,
                  expires ? format_time(expires, until, sizeof(until)) : "ever");
        d->fleet_dirty = true;
        return true;
}

static void changed(void *ctx)
{
        Daemon *d = ctx;

        if (d->fleet_dirty) {
                d->fleet_dirty = false;
                daemon_bans_changed(d);
        } else
                daemon_status_changed(d);
}

static void resync(void *ctx)
{
        Daemon *d = ctx;
        _cleanup_free_ const Ban **v = NULL;
        size_t n = policy_list(d->policy, true, &v);

        for (size_t i = 0; i < n; i++)
                if (!v[i]->remote)
                        fleet_ban(d->fleet, &v[i]->addr, v[i]->plen, names_get(d->names, v[i]->rule),
                                  v[i]->expires_ms, v[i]->count);
}

static const FleetOps fleet_ops = {imported, changed, resync};

int daemon_fleet_start(Daemon *d)
{
        char host[256] = "";
        const char *name = d->cfg->fleet_name;
        int r;

        if (!d->cfg->fleet)
                return 0;
        if (!name) {
                if (gethostname(host, sizeof(host) - 1) < 0 || !fleet_name_valid(host)) {
                        log_err("fleet: the host name '%s' cannot name this host in the fleet; set fleet_name",
                                host);
                        return -EINVAL;
                }
                name = host;
        }
        r = fleet_new(&d->fleet, d->loop, d->cfg->fleet, name, &fleet_ops, d);
        if (r < 0) {
                log_err("fleet: %s", strerror(-r));
                return r;
        }
        log_info("fleet: sharing bans as %s", name);
        return 0;
}

static size_t remote_bans(Daemon *d)
{
        _cleanup_free_ const Ban **v = NULL;
        size_t n = policy_list(d->policy, true, &v), k = 0;

        for (size_t i = 0; i < n; i++)
                k += v[i]->remote;
        return k;
}

void daemon_fleet_status(Daemon *d, Buf *out)
{
        const FleetStats *s;
        char dur[32];

        if (!d->fleet) {
                buf_puts(out, "fleet: off\n");
                return;
        }
        s = fleet_stats(d->fleet);
        if (s->connected)
                buf_printf(out, "fleet: connected to %s as %s, lag %lld ms\n", s->server, fleet_name(d->fleet),
                           (long long)(fleet_queued(d->fleet) ? fleet_queue_age_ms(d->fleet) : s->lag_ms));
        else
                buf_printf(out, "fleet: down for %s (%s), banning locally as %s; retrying\n",
                           format_duration((uint64_t)(now_ms() - s->down_since_ms) / 1000 * 1000, dur, sizeof(dur)),
                           s->last_error, fleet_name(d->fleet));
        buf_printf(out,
                   "fleet changes: %zu queued (oldest %lld ms), %llu pushed, %llu dropped; %zu remote bans, "
                   "%llu imported, %llu not imposed here, %llu bad rows; generation %llu, %llu reconnects\n",
                   fleet_queued(d->fleet), (long long)fleet_queue_age_ms(d->fleet), (unsigned long long)s->pushed,
                   (unsigned long long)s->dropped, remote_bans(d), (unsigned long long)s->imported,
                   (unsigned long long)d->fleet_refused, (unsigned long long)s->bad_rows,
                   (unsigned long long)s->last_gen, (unsigned long long)s->reconnects);
}

void daemon_fleet_status_short(Daemon *d, Buf *out)
{
        const FleetStats *s;

        if (!d->fleet)
                return;
        s = fleet_stats(d->fleet);
        if (!s->connected)
                buf_printf(out, "; fleet database down, banning locally, %zu changes queued: %s",
                           fleet_queued(d->fleet), s->last_error);
}
