/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The daemon's state, shared by daemon.c (the lifecycle: lines, bans, the
 * map, the state file, signals) and commands.c (the control commands).
 * Nothing outside these two files sees it.
 */

#include <ev.h>

#include "backend/backend.h"
#include "core/banset.h"
#include "service/conf.h"
#include "service/control.h"
#include "service/daemon.h"
#include "core/exempt.h"
#include "core/health.h"
#include "util/names.h"
#include "service/notify.h"
#include "core/policy.h"
#include "match/rules.h"
#include "core/session.h"
#include "source/source.h"

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

/* A flush request waiting for the backends' writes that show it. */
typedef struct FlushWaiter {
        uint64_t id;  /* the control request's id */
        uint64_t gen; /* the backends' generation that holds the flush */
} FlushWaiter;

typedef struct Daemon {
        struct ev_loop *loop;
        struct Postconf *postconf; /* postconf's answers at a reload, on the loop */
        const DaemonOptions *opts;
        Config *cfg;
        Names *names;
        uint16_t manual_rule; /* the rule name "manual" */
        uint16_t net_rule;    /* the rule name "ipv6-network" */
        RuleSet *rules;
        Policy *policy; /* the hits, the bans, the never-ban list */
        Sessions *sessions; /* the logged-in smtpd sessions */
        Health health;      /* is the log still readable to us? */
        Backends *backends; /* where the bans go: the maps, the fleet (backend/backend.h) */
        LogSource *source; /* where the records come from */
        char *source_why;  /* why this source */
        Control *control;
        Notify *notify;
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
        struct Saver *saver;        /* writes the state file in a child (saver.h) */
        bool held_render;           /* a render ran while the state was behind */
        bool map_after_save;        /* bans changed: the map is asked for once a save holds them */
        /* Flushes wait for a written generation (backends_written()) at
           least as new as their own change. */
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
        ev_timer ready_timer; /* READY even if the first map write takes long */
        bool ready;
        bool stopping;
        Stats stats;
} Daemon;

/* daemon.c */
void daemon_bans_changed(Daemon *d);
bool daemon_state_behind(const Daemon *d);
void daemon_schedule_save(Daemon *d, double within);
void daemon_map_after_save(Daemon *d);
/* Tell systemd the new STATUS= line (once ready). */
void daemon_status_changed(Daemon *d);
/* The backends must show a change (now: skip the debounce); returns the generation that will. */
uint64_t daemon_map_request(Daemon *d, bool now);
/* Our block in the maps: present (a ban), or taken out (flush). */
void daemon_set_blocks(Daemon *d, bool present);
void daemon_arm_due(Daemon *d);
/* Lift ban (an unban): log why, forget its hits, drop the record. */
void daemon_lift(Daemon *d, const Ban *ban, const char *why);
/* The reload as systemd sees it: RELOADING=1, the reload, READY=1. */
int daemon_reload_notify(Daemon *d, char **why);
char *daemon_ban_text(const Ban *ban, char *buf);
/* Why net/plen is never banned (the lists, then the backends' admin entries), or NULL. */
const char *daemon_never_ban(const Daemon *d, const Addr *net, unsigned plen);
/* Whether private address space is banned, for the log and status. */
const char *daemon_private_policy(const Daemon *d);

/* daemon-fleet.c: the hooks of fleet mode (BackendHooks of a shared backend) */
bool daemon_fleet_imported(void *ctx, BanBackend *b, const BackendImport *fb);
void daemon_fleet_changed(void *ctx, BanBackend *b);
void daemon_fleet_resync(void *ctx, BanBackend *b);
/* The figures of fleet mode for the backends' status. */
BackendCounts daemon_fleet_counts(Daemon *d);

/* commands.c */
ControlResult daemon_command(void *ctx, uint64_t id, char **argv, size_t argc, Buf *out);
