/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * backend: the places our bans go to, behind one interface.
 *
 * A BanBackend is one place that holds bans: the access(5) map smtpd
 * rejects from, the EHLO-keyword map that closes AUTH, the cidr: map of
 * network bans, the fleet's shared PostgreSQL table.  As with Postfix's
 * type:name tables and OpenSMTPD's table backends, each type is a vtable
 * (BackendType) named in one registry (backend.c); the service layer
 * holds a Backends set, built from the registry and the configuration,
 * and never names a concrete backend.  Adding a backend is one file with
 * its BackendType and one line in the registry.
 *
 * What a type says:
 *   - how a ban is written as a key, or that it cannot hold it (-EDOM),
 *     or that the ban is not its kind (BACKEND_PASS);
 *   - which networks a lookup of that key reaches (a bare "127" is
 *     reached from 127.0.0.1 and from 127::1), and which of the admin's
 *     own entries exempt an address (OK in the access map);
 *   - how it publishes: a snapshot (its writer asks the service for the
 *     bans through BackendHooks.plan, and reports the generation it wrote)
 *     or deltas (ban, unban, flush: the fleet);
 *   - how to remove everything of ours (set_block false: a flush);
 *   - how the MTA logs a rejection of ours (own_reject: match/ gets a
 *     pattern and knows nothing of maps);
 *   - its status.
 *
 * Generations: every change of the bans that a backend must show
 * (backends_request) takes the next generation.  A snapshot backend
 * notes the generation as its write starts (prepare, on the loop, right
 * before the fork that renders) and reports it when the write is in place; backends_written() is the
 * oldest generation that every snapshot backend shows, so a flush waits
 * for the generation that holds its change, never for "the next write".
 *
 * Placement: the backends that shut a client out (BACKEND_BLOCKS) are
 * asked in registry order, and the first whose key() takes a ban holds
 * it: the network map (any prefix) before the access map, so a network
 * goes to the cidr: map when there is one.  The other backends (the auth
 * map, the fleet) hold every ban their key() takes, besides.
 *
 * Library code: nothing here logs; what a backend has to tell goes to
 * BackendHooks.note, and the service layer logs it.  Security: keys are
 * made from parsed addresses only, never from text a client chose.
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/exempt.h"
#include "util/addr.h"
#include "util/util.h"

#define BACKEND_PASS      1 /* key(): not a ban of this backend's kind (a host for the network map) */
#define BACKEND_UNCHANGED 1 /* a completion: the backend already said this (nothing rewritten) */
#define BACKEND_SPECS_MAX 8

typedef struct BanBackend BanBackend;
typedef struct Backends Backends;

/* What a backend is configured with (the service layer fills it from the config). */
typedef struct BackendConf {
        /* Per type, its "type:name" (or connection string) from the config; none: off. */
        struct {
                const char *type;
                const char *spec;
        } specs[BACKEND_SPECS_MAX];
        size_t n_specs;
        char **postmap;
        uint64_t postmap_timeout_ms, debounce_ms;
        const char *reject_text; /* the text our REJECT entries carry */
        const char *host_name;   /* this host, in a shared backend (the fleet) */
} BackendConf;

/* The spec of type in c, or NULL. */
const char *backend_conf_spec(const BackendConf *c, const char *type);
void backend_conf_add(BackendConf *c, const char *type, const char *spec);

/* A ban as a backend gets it. */
typedef struct BackendBan {
        Addr addr;
        uint8_t plen;
        const char *key;    /* as this backend writes it (key()); "" for a backend without keys */
        const char *rule;   /* for the deltas (the fleet) */
        int64_t expires_ms; /* 0: never */
        uint32_t count;
} BackendBan;

/* A ban from a shared backend (another host of the fleet), for the service to judge. */
typedef struct BackendImport {
        Cidr net;
        bool active; /* false: lifted by origin */
        const char *origin, *rule;
        bool forever;
        int64_t remaining_ms; /* until it expires, by the shared clock */
        uint32_t count;
        int64_t age_ms; /* since it was banned */
} BackendImport;

/* What the backends ask of the service layer. */
typedef void (*BackendEmit)(void *emit_ctx, const BackendBan *ban);
typedef struct BackendHooks {
        /*
         * On the loop, as a write of b starts, right before the fork that
         * renders it: the map shows the bans as they are now, so the state
         * must hold them (save it here).  May be NULL.
         */
        void (*prepare)(void *ctx, BanBackend *b);
        /*
         * In the writer's forked child, on a copy-on-write snapshot of the
         * process: call emit for every ban b is to show now (those
         * backends_holds() gives b, that may be banned and that the state
         * file holds).  It must change nothing outside the process: what
         * the service must do because of it (bans found exempt, to lift)
         * goes into notes, in a form of its own, and comes back to lift().
         */
        void (*plan)(void *ctx, BanBackend *b, BackendEmit emit, void *emit_ctx, Buf *notes);
        /* On the loop: the notes of a render of b (before done); may be NULL. */
        void (*lift)(void *ctx, BanBackend *b, const char *notes, size_t len);
        /* A write of b ended: result 0 or BACKEND_UNCHANGED (it shows gen), or -errno. */
        void (*done)(void *ctx, BanBackend *b, uint64_t gen, int result, size_t entries);
        /* Something to tell, at a syslog priority (the service logs it). */
        void (*note)(void *ctx, BanBackend *b, int priority, const char *text);
        /*
         * A write of b failed, and an episode of failures began or changed
         * its cause (the retries in between are notes at LOG_DEBUG).
         */
        void (*write_failed)(void *ctx, BanBackend *b, const char *text);
        /* The admin's entries of b changed: bans they exempt now are to be lifted. */
        void (*admin_changed)(void *ctx, BanBackend *b);
        /* A shared backend heard another host's ban or unban: true if the bans changed. */
        bool (*imported)(void *ctx, BanBackend *b, const BackendImport *ban);
        /* After a burst of imports (changed: they changed the bans), or the link went up or down. */
        void (*import_done)(void *ctx, BanBackend *b);
        /* Publish every local active ban to b again (backend_ban() each). */
        void (*resync)(void *ctx, BanBackend *b);
        /* Something a stop waits for (besides a write: backends_done) ended. */
        void (*progress)(void *ctx, BanBackend *b);
} BackendHooks;

/* Figures for status that only the service knows. */
typedef struct BackendCounts {
        size_t remote_bans; /* active bans that came from a shared backend */
        uint64_t refused;   /* imports not imposed here */
} BackendCounts;

enum {
        BACKEND_BLOCKS = 1 << 0,   /* a ban here shuts the client out (placement: see above) */
        BACKEND_SNAPSHOT = 1 << 1, /* publishes whole snapshots, with generations */
        BACKEND_PRIMARY = 1 << 2,  /* readiness waits for its first write; it tells unchanged writes */
        /* looked up by the exact client address: a network ban elsewhere does not close it */
        BACKEND_EXACT = 1 << 3,
        /* carries the stamp of the BACKEND_COMPANION backends (their change restarts smtpd) */
        BACKEND_CARRIER = 1 << 4,
        BACKEND_COMPANION = 1 << 5, /* written inside the carrier's render, stamped into it */
        BACKEND_SHARED = 1 << 6,    /* shared with other hosts: deltas (ban, unban, flush) and imports */
        BACKEND_LIVE = 1 << 7,      /* a reload may turn it on or off (close: it removes what it held) */
};

/* One type of backend: its vtable.  Any operation may be NULL (not this type's job). */
typedef struct BackendType {
        const char *type;     /* its name in the registry and in BackendConf.specs */
        const char *what;     /* for messages: "map", "auth map", "network map", "fleet" */
        const char *conf_key; /* its setting, for messages: "auth_map"; NULL: the service tells */
        unsigned flags;
        /* Set b up from its spec (backend_conf_spec(c, type), not NULL); -errno and *why. */
        int (*open)(BanBackend *b, const char *spec, const BackendConf *c, struct ev_loop *loop, char **why);
        void (*close)(BanBackend *b);
        /* Turned off by a reload (BACKEND_LIVE): take away what it held, before close. */
        void (*remove)(BanBackend *b);
        /* May a reload give it spec?  0, or -errno and *why (the reload is rejected). */
        int (*check)(const BanBackend *b, const char *spec, char **why);
        /* A reload with this spec and conf: 0; 1: write at once (it moved); -1: the change needs a restart.
         */
        int (*configure)(BanBackend *b, const char *spec, const BackendConf *c);
        /* net/plen as this backend's key: 0, BACKEND_PASS, or -EDOM (it cannot hold exactly that). */
        int (*key)(const BanBackend *b, const Addr *net, unsigned plen, char *key, size_t size);
        /* The networks a lookup of key reaches besides net/plen itself (at most 1 more). */
        size_t (*reach)(const BanBackend *b, const Addr *net, unsigned plen, const char *key, Cidr *out);
        /* Why the admin's own entries exempt net/plen (key: as the holder writes it, or NULL), or NULL. */
        const char *(*exempts)(BanBackend *b, const Addr *net, unsigned plen, const char *key);
        /* The entry line of ban (snapshot), into out; false if the admin's own entry decides. */
        bool (*entry)(BanBackend *b, const BackendBan *ban, const void *admin, const BackendConf *c,
                      Buf *out);
        /* Snapshots: write within the debounce delay, or at once. */
        void (*request)(BanBackend *b, bool now);
        /* With present false the next writes leave everything of ours out (a flush). */
        void (*set_block)(BanBackend *b, bool present);
        bool (*busy)(const BanBackend *b);
        /* A companion: write the snapshot of entries (n of them) now; its stamp line into carrier. */
        void (*publish)(BanBackend *b, const Buf *entries, size_t n, Buf *carrier);
        /* Deltas. */
        void (*ban)(BanBackend *b, const BackendBan *ban);
        void (*unban)(BanBackend *b, const Addr *a, uint8_t plen);
        void (*flush)(BanBackend *b);
        void (*expired)(BanBackend *b);
        /* A map that held our block at the last run (its state key): 1 if ours leaves it now, 0, -errno. */
        int (*retire)(BanBackend *b, const char *state_key);
        /* Stopping: is nothing left besides its own write (a map it is retiring)? */
        bool (*settled)(const BanBackend *b);
        /* The regex of the MTA's log line of a rejection of ours (it holds c->reject_text), to free; NULL:
         * none. */
        char *(*own_reject)(const BackendConf *c);
        /* Status lines, and the STATUS= clause ("; ..."). */
        void (*status)(BanBackend *b, const BackendCounts *counts, Buf *out);
        void (*status_short)(BanBackend *b, Buf *out);
        /* The last failure, "" if none. */
        const char *(*problem)(const BanBackend *b);
        /* The file or place, for messages. */
        const char *(*name)(const BanBackend *b);
        /* What the state file records to find it again at the next start (type:path), to free. */
        char *(*state_key)(const BanBackend *b);
} BackendType;

/* The registry. */
size_t backend_types(const BackendType *const **out);
const BackendType *backend_type(const char *name);

/* --- the set the service holds ------------------------------------------- */

/* failed (if not NULL): the type that could not be set up, on an error. */
int backends_new(Backends **out, struct ev_loop *loop, const BackendConf *c, const BackendHooks *hooks,
                 void *ctx, const BackendType **failed, char **why);
Backends *backends_free(Backends *s);
/* Before a reload: may every backend take c?  0, or -errno and *why. */
int backends_check(const Backends *s, const BackendConf *c, char **why);
/*
 * A reload: each backend takes the new settings; a backend turned on or
 * off where only a start can do that is noted.  True if a backend wants
 * its write at once (the access map moved).
 */
bool backends_configure(Backends *s, const BackendConf *c);
size_t backends_count(const Backends *s);
BanBackend *backends_get(const Backends *s, size_t i);
/* The first backend with all these flags, or NULL. */
BanBackend *backends_find(const Backends *s, unsigned flags);

/* The key net/plen is held under ("" in a backend without keys: the cidr: map), or -EDOM if none can hold it.
 */
int backends_key(const Backends *s, const Addr *net, unsigned plen, char *key, size_t size);
/* Can a backend that shuts clients out hold exactly net/plen? */
bool backends_can_hold(const Backends *s, const Addr *net, unsigned plen);
/* Does b hold net/plen (its key into key)? */
bool backends_holds(const Backends *s, const BanBackend *b, const Addr *net, unsigned plen, char *key,
                    size_t size);
/*
 * Why net/plen is never banned: loopback and the lists of e (checked over
 * every network a lookup of its key reaches), then the admin's own
 * entries in each backend; NULL if it may be banned.
 */
const char *backends_exempts(const Backends *s, const Exempt *e, const Addr *net, unsigned plen);
/* Its two halves: the networks lookups of net/plen reach as its holder writes it (1 or 2), ... */
size_t backends_reach(const Backends *s, const Addr *net, unsigned plen, Cidr out[2]);
/* ... and why the admin's own entries in a backend exempt it, or NULL. */
const char *backends_admin_exempts(const Backends *s, const Addr *net, unsigned plen);
/* Is a backend looked up by exact address only (a host under a network ban still needs its own ban)? */
bool backends_exact(const Backends *s);
bool backends_shared(const Backends *s);

/* Generations: a change to show (now: skip the debounce); returns its generation. */
uint64_t backends_request(Backends *s, bool now);
/* The oldest generation every snapshot backend shows. */
uint64_t backends_written(const Backends *s);
void backends_set_block(Backends *s, bool present);
/* Deltas to the shared backends. */
void backends_ban(Backends *s, const Addr *a, uint8_t plen, const char *rule, int64_t expires_ms,
                  uint32_t count);
void backends_unban(Backends *s, const Addr *a, uint8_t plen);
void backends_flush_shared(Backends *s);
void backends_expired(Backends *s);
/* The previous run's place (as backends_state_key gave it): 1 if ours leaves it now, 0, -errno. */
int backends_retire(Backends *s, const char *state_key);
char *backends_state_key(const Backends *s);

/* Stopping: each backend writes what is pending; true once all are done (or given up). */
bool backends_stop(Backends *s);
bool backends_stopped(const Backends *s);

/* Status: every backend's lines; the STATUS= clauses; the primary backend's problem ("" if none). */
void backends_status(const Backends *s, const BackendCounts *counts, Buf *out);
void backends_status_short(const Backends *s, Buf *out);
const char *backends_problem(const Backends *s);
const char *backends_primary_name(const Backends *s);

/* The own-rejection pattern for these settings (the first backend type that has one), to free; NULL if none.
 */
char *backends_own_reject(const BackendConf *c);

/* --- for the backend types ----------------------------------------------- */

const BackendType *backend_type_of(const BanBackend *b);
void *backend_data(const BanBackend *b);
void backend_set_data(BanBackend *b, void *data);
const BackendConf *backend_conf(const BanBackend *b);
bool backend_stopping(const BanBackend *b);
/* On the loop before a snapshot's render: the state is saved, the generation taken. */
void backend_prepare(BanBackend *b);
/*
 * In the writer's child: a snapshot's render, the service's plan through
 * the type's entry() (the companions' too, for a carrier); returns the
 * entry count.  notes: for backend_lift on the loop.
 */
size_t backend_render(BanBackend *b, const void *admin, Buf *out, Buf *notes);
/* On the loop: what a render noted (bans it found exempt). */
void backend_lift(BanBackend *b, const char *notes, size_t len);
/* A write ended (result as BackendHooks.done has it). */
void backend_done(BanBackend *b, int result, size_t entries);
void backend_note(BanBackend *b, int priority, const char *fmt, ...) _printf_(3, 4);
/* A map writer's message (MapWriterOps.log): failed goes to write_failed, the rest to note. */
void backend_writer_said(BanBackend *b, int priority, bool failed, const char *text);
void backend_admin_changed(BanBackend *b);
bool backend_import(BanBackend *b, const BackendImport *ban);
void backend_import_done(BanBackend *b);
void backend_resync(BanBackend *b);
void backend_progress(BanBackend *b);
/* Delta to one backend (the service's resync). */
void backend_ban(BanBackend *b, const Addr *a, uint8_t plen, const char *rule, int64_t expires_ms,
                 uint32_t count);
const char *backend_name(const BanBackend *b);
const char *backend_problem(const BanBackend *b);
