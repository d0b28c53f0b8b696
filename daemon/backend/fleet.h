/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * fleet: several MX hosts share their bans through a PostgreSQL table.
 * The daemon publishes its own bans and unbans (an upsert into `bans`, a
 * trigger NOTIFYs every listener) and imports the others' bans, which it
 * hears with LISTEN.  libpq runs non-blocking inside the libev loop: the
 * database is never on the mail path, and a database that is down or slow
 * only delays the sharing.  While the link is down the changes wait in a
 * bounded, counted queue, pushed on reconnect; the others' changes are
 * caught up with a SELECT of the generations since the last one seen.
 *
 * Security: the rows come from the fleet's other hosts through a database
 * we do not control, so every row is parsed strictly (an address or
 * network that must pass cidr_parse(), a name of [-._A-Za-z0-9], numbers);
 * a row that fails is skipped and counted.  What a row says is a ban
 * request only: the daemon's exemptions decide.  The connection string
 * may hold a password: it is never logged (fleet_redact()).
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/util.h"

#define FLEET_NAME_MAX 64
#define FLEET_QUEUE_MAX 200000 /* changes waiting for the database */

/* A ban as the table holds it, from a notification or the catch-up. */
typedef struct FleetBan {
        uint64_t gen;
        char origin[FLEET_NAME_MAX + 1];
        Cidr net;
        bool active; /* false: lifted by origin */
        char rule[FLEET_NAME_MAX + 1];
        bool forever;
        int64_t remaining_ms; /* until it expires, by the database's clock */
        uint32_t count;
        int64_t age_ms; /* since it was banned */
} FleetBan;

typedef struct Fleet Fleet;

typedef struct FleetOps {
        /* A ban or unban of another host; true if the bans changed. */
        bool (*imported)(void *ctx, const FleetBan *b);
        /* After a burst of imports that changed the bans, or when the link went up or down. */
        void (*changed)(void *ctx);
        /* Publish every local active ban again (fleet_ban() each), after the queue overflowed. */
        void (*resync)(void *ctx);
        /* Something to tell, at a syslog priority: the link's ups and downs, refusals (the caller logs). */
        void (*note)(void *ctx, int priority, const char *text);
} FleetOps;

typedef struct FleetStats {
        bool connected;
        uint64_t pushed;   /* changes the database confirmed */
        uint64_t imported; /* the others' changes applied */
        uint64_t bad_rows; /* rows that did not parse */
        uint64_t dropped;  /* changes lost to a full queue */
        uint64_t reconnects;
        uint64_t last_gen;
        int64_t lag_ms; /* the last push: from our change to the database's confirmation */
        int64_t down_since_ms;
        char server[128]; /* host, port and database, never the password */
        char last_error[256];
} FleetStats;

/* A connection string or URI that libpq accepts; *why (to free) if not. */
int fleet_check_conninfo(const char *conninfo, char **why);
/* conninfo with any password replaced by "***", to show. */
char *fleet_redact(const char *conninfo);
/* A name of origin: 1 to 64 of [-._A-Za-z0-9]. */
bool fleet_name_valid(const char *s);
/* The schema the daemon creates (the same as conf/fleet-schema.sql). */
const char *fleet_schema_sql(void);
/* One row of the table as the schema's autoblacklist_payload() renders it. */
int fleet_parse_payload(const char *s, FleetBan *out);

int fleet_new(Fleet **out, struct ev_loop *loop, const char *conninfo, const char *name, const FleetOps *ops,
              void *ctx);
Fleet *fleet_free(Fleet *f);

/* Our own changes: a ban until expires_ms (0: never), an unban, every ban lifted. */
void fleet_ban(Fleet *f, const Addr *a, uint8_t plen, const char *rule, int64_t expires_ms, uint32_t count);
void fleet_unban(Fleet *f, const Addr *a, uint8_t plen);
void fleet_flush(Fleet *f);
/* A ban expired here: delete the expired rows (whoever notices first). */
void fleet_expired(Fleet *f);

const char *fleet_name(const Fleet *f);
const FleetStats *fleet_stats(const Fleet *f);
size_t fleet_queued(const Fleet *f);
/* How long the oldest queued change has waited, 0 if none. */
int64_t fleet_queue_age_ms(const Fleet *f);
