/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * fleet-backend: the fleet's shared PostgreSQL table (fleet.c) as a
 * backend.  It publishes deltas, not snapshots: our own bans and unbans,
 * and a flush of the whole fleet, go into fleet.c's queue as they happen;
 * the others' rows come back as imports, which the service judges (local
 * exemptions always win) and imposes.  It takes any host or network
 * (the table's key is a cidr), and shuts no client out by itself: the
 * maps do.  A write here is never waited for: a database that is down
 * only delays the sharing.
 *
 * Security: see fleet.h (rows are parsed strictly; the connection string
 * is never shown with its password).  Nothing here logs.
 */
#include "backend/backend.h"

#include <syslog.h>

#include "backend/fleet.h"

typedef struct FleetBackend {
        BanBackend *b;
        Fleet *f;
} FleetBackend;

static bool imported(void *ctx, const FleetBan *fb)
{
        FleetBackend *fl = ctx;
        BackendImport imp = {
                .net = fb->net,
                .active = fb->active,
                .origin = fb->origin,
                .rule = fb->rule,
                .forever = fb->forever,
                .remaining_ms = fb->remaining_ms,
                .count = fb->count,
                .age_ms = fb->age_ms,
        };

        return backend_import(fl->b, &imp);
}

static void changed(void *ctx)
{
        FleetBackend *fl = ctx;
        backend_import_done(fl->b);
}

static void resync(void *ctx)
{
        FleetBackend *fl = ctx;
        backend_resync(fl->b);
}

static void note(void *ctx, int priority, const char *text)
{
        FleetBackend *fl = ctx;
        backend_note(fl->b, priority, "%s", text);
}

static const FleetOps fleet_ops = {imported, changed, resync, note};

static int fb_open(BanBackend *b, const char *spec, const BackendConf *c, struct ev_loop *loop, char **why)
{
        FleetBackend *fl = xcalloc(1, sizeof(FleetBackend));
        int r;

        fl->b = b;
        r = fleet_new(&fl->f, loop, spec, c->host_name ? c->host_name : "", &fleet_ops, fl);
        if (r < 0) {
                *why = xasprintf("fleet: %s", strerror(-r));
                free(fl);
                return r;
        }
        backend_set_data(b, fl);
        return 0;
}

static void fb_close(BanBackend *b)
{
        FleetBackend *fl = backend_data(b);

        fleet_free(fl->f);
        free(fl);
}

static int fb_key(const BanBackend *b, const Addr *net, unsigned plen, char *key, size_t size)
{
        (void)b;
        (void)net;
        (void)plen;
        if (size)
                key[0] = '\0'; /* the table's key is the network itself */
        return 0;
}

static void fb_ban(BanBackend *b, const BackendBan *ban)
{
        FleetBackend *fl = backend_data(b);
        fleet_ban(fl->f, &ban->addr, ban->plen, ban->rule, ban->expires_ms, ban->count);
}

static void fb_unban(BanBackend *b, const Addr *a, uint8_t plen)
{
        FleetBackend *fl = backend_data(b);
        fleet_unban(fl->f, a, plen);
}

static void fb_flush(BanBackend *b)
{
        FleetBackend *fl = backend_data(b);
        fleet_flush(fl->f);
}

static void fb_expired(BanBackend *b)
{
        FleetBackend *fl = backend_data(b);
        fleet_expired(fl->f);
}

static void fb_status(BanBackend *b, const BackendCounts *counts, Buf *out)
{
        FleetBackend *fl = backend_data(b);
        const FleetStats *s = fleet_stats(fl->f);
        char dur[32];

        if (s->connected)
                buf_printf(out, "fleet: connected to %s as %s, lag %lld ms\n", s->server, fleet_name(fl->f),
                           (long long)(fleet_queued(fl->f) ? fleet_queue_age_ms(fl->f) : s->lag_ms));
        else
                buf_printf(out, "fleet: down for %s (%s), banning locally as %s; retrying\n",
                           format_duration((uint64_t)(now_ms() - s->down_since_ms) / 1000 * 1000, dur,
                                           sizeof(dur)),
                           s->last_error, fleet_name(fl->f));
        buf_printf(out,
                   "fleet changes: %zu queued (oldest %lld ms), %llu pushed, %llu dropped; %zu remote bans, "
                   "%llu imported, %llu not imposed here, %llu bad rows; generation %llu, %llu reconnects\n",
                   fleet_queued(fl->f), (long long)fleet_queue_age_ms(fl->f), (unsigned long long)s->pushed,
                   (unsigned long long)s->dropped, counts->remote_bans, (unsigned long long)s->imported,
                   (unsigned long long)counts->refused, (unsigned long long)s->bad_rows,
                   (unsigned long long)s->last_gen, (unsigned long long)s->reconnects);
}

static void fb_status_short(BanBackend *b, Buf *out)
{
        FleetBackend *fl = backend_data(b);
        const FleetStats *s = fleet_stats(fl->f);

        if (!s->connected)
                buf_printf(out, "; fleet database down, banning locally, %zu changes queued: %s",
                           fleet_queued(fl->f), s->last_error);
}

static const char *fb_problem(const BanBackend *b)
{
        FleetBackend *fl = backend_data(b);
        return fleet_stats(fl->f)->connected ? "" : fleet_stats(fl->f)->last_error;
}

static const char *fb_name(const BanBackend *b)
{
        FleetBackend *fl = backend_data(b);
        return fleet_name(fl->f);
}

const BackendType backend_fleet = {
        .type = "fleet",
        .what = "fleet",
        .flags = BACKEND_SHARED,
        .open = fb_open,
        .close = fb_close,
        .key = fb_key,
        .ban = fb_ban,
        .unban = fb_unban,
        .flush = fb_flush,
        .expired = fb_expired,
        .status = fb_status,
        .status_short = fb_status_short,
        .problem = fb_problem,
        .name = fb_name,
};
