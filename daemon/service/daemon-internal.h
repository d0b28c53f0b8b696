/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The daemon's state, shared by daemon.c (the lifecycle: lines, bans, the
 * map, the state file, signals) and commands.c (the control commands).
 * Nothing outside these two files sees it.
 */

#include <ev.h>

#include "core/banset.h"
#include "service/conf.h"
#include "service/control.h"
#include "service/daemon.h"
#include "core/exempt.h"
#include "backend/fleet.h"
#include "core/health.h"
#include "backend/mapwriter.h"
#include "util/names.h"
#include "service/notify.h"
#include "match/rules.h"
#include "core/session.h"
#include "source/source.h"
#include "core/tracker.h"

typedef struct Stats {
        uint64_t hits;
        uint64_t bans;        /* by rules */
        uint64_t net_bans;    /* whole IPv6 networks */
        uint64_t manual_bans; /* autoblacklistctl ban */
        uint64_t unbans;      /* autoblacklistctl unban, OK in the map, ignore list */
        uint64_t expired;
        uint64_t exempt;
        uint64_t already_banned;
        uint64_t own_rejects;
        uint64_t logged_in; /* hits of a logged-in session, not counted */
        uint64_t too_late;  /* bans that would already have ended by their log time */
        char last_ban[CIDR_STRLEN];
        char last_ban_rule[65];
        int64_t last_ban_ms;
} Stats;

/* A flush request waiting for the map write that shows it. */
typedef struct FlushWaiter {
        uint64_t id;  /* the control request's id */
        uint64_t gen; /* the map generation that holds the flush */
} FlushWaiter;

/* What a map writer's callbacks get: the daemon, and whether this writer
   only takes our block out of a map we no longer use (access_map moved). */
typedef struct MapSlot {
        struct Daemon *d;
        MapWriter *mw;
        bool retiring;
} MapSlot;

typedef struct Daemon {
        struct ev_loop *loop;
        const DaemonOptions *opts;
        Config *cfg;
        Names *names;
        uint16_t manual_rule; /* the rule name "manual" */
        uint16_t net_rule;    /* the rule name "ipv6-network" */
        RuleSet *rules;
        Tracker *tracker;
        Tracker *net_tracker; /* IPv6 hits per network of ipv6_net_prefix */
        Banset *bans;
        Sessions *sessions; /* the logged-in smtpd sessions */
        Health health;      /* is the log still readable to us? */
        MapWriter *map;      /* the current access_map; slots[cur].mw */
        MapWriter *auth_map; /* the EHLO-keyword map that closes AUTH; NULL: none */
        MapSlot slots[2]; /* the current writer and one that is retiring */
        unsigned cur;
        ev_idle reap;     /* frees a retired writer outside its own callback */
        LogSource *source; /* where the records come from */
        char *source_why;  /* why this source */
        Control *control;
        Notify *notify;
        Exempt exempt;
        Fleet *fleet;          /* fleet mode (daemon-fleet.c); NULL: off */
        bool fleet_dirty;      /* imports changed the bans */
        uint64_t fleet_refused; /* remote bans not imposed here (exempt) */
        unsigned fleet_names;   /* rule and host names that came from the fleet */
        uint8_t hash_key[16];
        int64_t started_ms;

        ev_signal sighup, sigterm, sigint;
        ev_periodic due; /* the earliest expiry or forget time */
        ev_timer stop_timeout;
        ev_timer save_timer;
        ev_tstamp save_due;         /* when the armed save_timer fires; 0: not armed */
        bool bans_dirty;            /* bans changed since the state was saved */
        /*
         * Map generations: every change the map must show bumps `wanted`;
         * a write shows what was wanted when it rendered (`rendering`), and
         * once it is in place that is `written`.  A flush waits for a
         * written generation at least as new as its own change.
         */
        uint64_t gen_wanted, gen_rendering, gen_written;
        uint64_t auth_gen_rendering, auth_gen_written; /* the same for the auth map */
        FlushWaiter *flushes;
        size_t n_flushes, cap_flushes;
        /* The state file's retry after a failure (Ban.in_state says which
           bans its last good save holds: only they may reach the map). */
        bool save_failing;
        /* The snapshot the change log extends (none yet: the next save is
           a full one), and what the last save said of the positions. */
        bool snap_ok;
        uint64_t snap_hash;
        size_t snap_bytes, log_bytes;
        char *saved_position; /* the source's position in the last save */
        double save_backoff_s;
        char save_error[128];
        Addr *net_noted; /* networks whose "not banned as a network" was said */
        size_t n_net_noted, cap_net_noted;
        ev_stat map_stat;     /* the admin's edits of the map */
        ev_timer ready_timer; /* READY even if the first map write takes long */
        bool ready;
        bool stopping;
        bool final_written;   /* stopping: the current map's last write is done */
        bool auth_final;      /* stopping: the auth map's last write is done */
        bool retire_given_up; /* stopping: the old map's cleanup failed */
        Stats stats;
} Daemon;

/* daemon.c */
void daemon_bans_changed(Daemon *d);
/* Tell systemd the new STATUS= line (once ready). */
void daemon_status_changed(Daemon *d);
/* The map must change (now: skip the debounce); returns the generation that will show it. */
uint64_t daemon_map_request(Daemon *d, bool now);
/* Our block in the maps: present (a ban), or taken out (flush). */
void daemon_set_blocks(Daemon *d, bool present);
void daemon_arm_due(Daemon *d);
/* Lift ban (an unban): log why, forget its hits, drop the record. */
void daemon_lift(Daemon *d, Ban *ban, const char *why);
/* The reload as systemd sees it: RELOADING=1, the reload, READY=1. */
int daemon_reload_notify(Daemon *d, char **why);
char *daemon_ban_text(const Ban *ban, char *buf);
/*
 * The access(5) key for a ban of net/plen into key, or "" for a network
 * that goes into the cidr: network map (network_map); -EDOM if neither
 * can hold it.
 */
int daemon_net_key(const Daemon *d, const Addr *net, unsigned plen, char *key, size_t size);
/* Whether private address space is banned, for the log and status. */
const char *daemon_private_policy(const Daemon *d);

/* daemon-fleet.c: the hooks of fleet mode */
int daemon_fleet_start(Daemon *d);
/* The fleet link for status (lines) and STATUS= (a clause, or nothing). */
void daemon_fleet_status(Daemon *d, Buf *out);
void daemon_fleet_status_short(Daemon *d, Buf *out);

/* commands.c */
ControlResult daemon_command(void *ctx, uint64_t id, char **argv, size_t argc, Buf *out);
