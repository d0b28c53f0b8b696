/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * daemon-fleet: fleet mode inside the daemon.  The fleet backend
 * (backend/fleet-backend.c, over fleet.c's link to the shared table)
 * hands us the other hosts' rows; here they become bans of our ban set, marked remote
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

bool daemon_fleet_imported(void *ctx, BanBackend *from, const BackendImport *fb)
{
        Daemon *d = ctx;
        Ban *b = banset_get(d->bans, &fb->net.net, fb->net.plen);
        char text[CIDR_STRLEN], until[64];
        const char *why;
        int64_t now = now_ms(), expires;
        uint16_t rule, origin;

        if (!fb->active) {
                if (!b || !b->active)
                        return false;
                /* as daemon_lift(), but one map request for a whole burst (a flush --fleet) */
                daemon_ban_text(b, text);
                log_event(LOG_EVENT_UNBAN, LOG_NOTICE, &(LogFields){.address = text, .rule = names_get(d->names, b->rule)},
                          "unban %s: lifted on the fleet by %s", text, fb->origin);
                if (ban_is_host(b))
                        tracker_forget(d->tracker, &b->addr);
                banset_remove(d->bans, b);
                d->stats.unbans++;
                d->fleet_dirty = true;
                return true;
        }
        if (!fb->forever && fb->remaining_ms <= 0)
                return false; /* over already */
        expires = fb->forever ? 0 : now + fb->remaining_ms;
        if (b && b->active && !b->remote)
                return false; /* our own ban of it stands */
        if (b && b->active && b->remote && streq(names_get(d->names, b->origin), fb->origin) &&
            (fb->forever ? b->expires_ms == 0 : b->expires_ms && llabs(b->expires_ms - expires) < 2000))
                return false; /* the same row again (a catch-up overlaps what we heard) */
        cidr_format(&fb->net, text);
        if (cidr_is_host(&fb->net))
                daemon_ban_text(&(Ban){.addr = fb->net.net, .plen = fb->net.plen}, text);
        (void)from;
        if (!backends_can_hold(d->backends, &fb->net.net, fb->net.plen)) {
                d->fleet_refused++;
                log_notice("fleet: %s's ban of %s is not imposed here: no access(5) key can match that network "
                           "(set network_map = cidr:...)",
                           fb->origin, text);
                return false;
        }
        why = daemon_never_ban(d, &fb->net.net, fb->net.plen);
        if (why) {
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
        b = banset_upsert(d->bans, &fb->net.net, fb->net.plen);
        b->rule = rule;
        b->manual = false;
        b->remote = true;
        b->origin = origin;
        b->count = fb->count;
        b->hits = 0;
        b->first_hit_ms = b->last_hit_ms = 0;
        b->banned_ms = fb->age_ms > 0 && fb->age_ms < now ? now - fb->age_ms : now;
        if (!b->active)
                b->in_state = false; /* new in the map's eyes: the next save must hold it first */
        banset_activate(d->bans, b, expires);
        if (ban_is_host(b))
                tracker_forget(d->tracker, &b->addr);
        daemon_set_blocks(d, true);
        log_event(LOG_EVENT_BAN, LOG_INFO,
                  &(LogFields){.address = text, .rule = fb->rule, .expires_ms = expires ? expires : -1},
                  "ban %s: from the fleet, banned by %s (rule %s), until %s", text, fb->origin, fb->rule,
                  expires ? format_time(expires, until, sizeof(until)) : "ever");
        d->fleet_dirty = true;
        return true;
}

void daemon_fleet_changed(void *ctx, BanBackend *from)
{
        Daemon *d = ctx;

        (void)from;
        if (d->fleet_dirty) {
                d->fleet_dirty = false;
                daemon_bans_changed(d);
        } else
                daemon_status_changed(d);
}

void daemon_fleet_resync(void *ctx, BanBackend *to)
{
        Daemon *d = ctx;
        _cleanup_free_ Ban **v = NULL;
        size_t n = banset_list(d->bans, true, &v);

        for (size_t i = 0; i < n; i++)
                if (!v[i]->remote)
                        backend_ban(to, &v[i]->addr, v[i]->plen, names_get(d->names, v[i]->rule), v[i]->expires_ms,
                                    v[i]->count);
}

BackendCounts daemon_fleet_counts(Daemon *d)
{
        _cleanup_free_ Ban **v = NULL;
        size_t n = banset_list(d->bans, true, &v), k = 0;

        for (size_t i = 0; i < n; i++)
                k += v[i]->remote;
        return (BackendCounts){.remote_bans = k, .refused = d->fleet_refused};
}
