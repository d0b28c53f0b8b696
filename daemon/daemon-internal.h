/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The daemon's state, shared by daemon.c (the lifecycle: lines, bans, the
 * map, the state file, signals) and commands.c (the control commands).
 * Nothing outside these two files sees it.
 */

#include <ev.h>

#include "banset.h"
#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "exempt.h"
#include "mapwriter.h"
#include "names.h"
#include "notify.h"
#include "rules.h"
#include "tail.h"
#include "tracker.h"

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
        uint64_t unparsed;
        char last_ban[CIDR_STRLEN];
        char last_ban_rule[65];
        int64_t last_ban_ms;
} Stats;

typedef struct Daemon {
        struct ev_loop *loop;
        const DaemonOptions *opts;
        Config *cfg;
        Names *names;
        uint16_t manual_rule; /* the rule name "manual" */
        uint16_t net_rule;    /* the rule name "ipv6-network" */
        RuleSet *rules;
        Tracker *tracker;
        Banset *bans;
        MapWriter *map;
        MapWriter *auth_map; /* the EHLO-keyword map that closes AUTH; NULL: none */
        Tail *tail;
        Control *control;
        Notify *notify;
        Exempt exempt;
        uint8_t hash_key[16];
        int64_t started_ms;

        ev_signal sighup, sigterm, sigint;
        ev_periodic due; /* the earliest expiry or forget time */
        ev_timer stop_timeout;
        ev_timer save_timer;
        ev_tstamp save_due;         /* when the armed save_timer fires; 0: not armed */
        bool bans_dirty;            /* bans changed since the state was saved */
        ControlClient *flush_client; /* waits for the map write after a flush */
        bool ready;
        bool stopping;
        bool map_final, auth_final; /* stopping: this map's last write is over */
        Stats stats;
} Daemon;

/* daemon.c */
void daemon_bans_changed(Daemon *d);
/* Our block in the maps: present (a ban), or taken out (flush). */
void daemon_set_blocks(Daemon *d, bool present);
/* Write both maps as soon as possible. */
void daemon_write_now(Daemon *d);
void daemon_arm_due(Daemon *d);
/* Lift ban (an unban): log why, forget its hits, drop the record. */
void daemon_lift(Daemon *d, Ban *ban, const char *why);
/* The reload as systemd sees it: RELOADING=1, the reload, READY=1. */
int daemon_reload_notify(Daemon *d, char **why);
char *daemon_ban_text(const Ban *ban, char *buf);

/* commands.c */
ControlResult daemon_command(void *ctx, ControlClient *client, char **argv, size_t argc, Buf *out);
void daemon_client_gone(void *ctx, ControlClient *client);
