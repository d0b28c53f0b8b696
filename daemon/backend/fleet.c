/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * fleet: the link to the shared PostgreSQL table (see fleet.h for what
 * and why).  One non-blocking libpq connection in the libev loop, no
 * thread: PQconnectPoll() while connecting, then PQsendQuery() with
 * PQflush() as the socket takes it, and PQconsumeInput(), PQgetResult()
 * and PQnotifies() as it becomes readable.  One query at a time.
 *
 *   connect -> probe (the schema's version) [-> create the schema]
 *           -> LISTEN -> catch up (rows newer than the last generation seen)
 *           -> up: push our queued changes in batches, hear the others'
 *
 * Any failure, or no answer within FLEET_TIMEOUT_S, drops the connection;
 * it is retried with backoff.  Our changes stay queued until the database
 * confirmed them (a batch in flight when the link drops is sent again:
 * every statement is an idempotent upsert or update).  The catch-up starts
 * a few generations before the last one seen, because transactions may
 * commit in another order than they took their generations; a row applied
 * twice changes nothing, as a row is a state, not an event.
 *
 * A DNS name in host= is resolved by libpq inside PQconnectPoll(), which
 * blocks: give an address (hostaddr=, or a unix socket folder) where that
 * matters; see the README.
 */
#include "backend/fleet.h"
#include "backend/pq.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define FLEET_TIMEOUT_S 10.0   /* a connect or a query with no answer: the link is down */
#define FLEET_RETRY_MIN_S 1.0
#define FLEET_RETRY_MAX_S 60.0
#define FLEET_HEARTBEAT_S 30.0 /* an idle link asks something (and deletes expired rows) */
#define FLEET_BATCH_MAX 5000   /* changes in one query */
#define FLEET_CATCHUP_OVERLAP 1000
#define FLEET_UNBAN_KEEP "30 days" /* how long an unban of a ban for ever is told */
#define FLEET_CHANNEL "autoblacklist"
#define FLEET_SCHEMA_VERSION 1

static const char schema_sql[] =
        "-- The shared table of postfix-autoblacklist's fleet mode, schema version 1.\n"
        "-- autoblacklistd runs this text when it connects and finds no schema (all of\n"
        "-- it is idempotent); or run it yourself to create it with another role, e.g.\n"
        "--   psql \"dbname=mail user=admin\" -f fleet-schema.sql\n"
        "-- then grant the daemons' role SELECT, INSERT, UPDATE, DELETE on bans and\n"
        "-- USAGE on the sequence autoblacklist_generation.\n"
        "BEGIN;\n"
        "-- Two daemons that start at once must not create the schema twice.\n"
        "SELECT pg_advisory_xact_lock(1633839980);\n"
        "CREATE TABLE IF NOT EXISTS autoblacklist_schema (version integer NOT NULL);\n"
        "DO $$\n"
        "BEGIN\n"
        "    IF (SELECT max(version) FROM autoblacklist_schema) > 1 THEN\n"
        "        RAISE EXCEPTION 'the fleet schema is version %, this daemon knows version 1',\n"
        "            (SELECT max(version) FROM autoblacklist_schema);\n"
        "    END IF;\n"
        "END\n"
        "$$;\n"
        "-- Every change of a row takes the next generation: a host that was away\n"
        "-- asks for the rows newer than the last generation it saw.\n"
        "CREATE SEQUENCE IF NOT EXISTS autoblacklist_generation;\n"
        "CREATE TABLE IF NOT EXISTS bans (\n"
        "    network cidr PRIMARY KEY,  -- a host (/32, /128) or a network\n"
        "    rule text NOT NULL,\n"
        "    origin text NOT NULL,      -- the host that banned it (or lifted it)\n"
        "    banned_at timestamptz NOT NULL DEFAULT now(),\n"
        "    expires_at timestamptz,    -- NULL: never\n"
        "    ban_count integer NOT NULL DEFAULT 1,\n"
        "    active boolean NOT NULL DEFAULT true,  -- false: lifted, kept until expires_at\n"
        "    generation bigint NOT NULL DEFAULT nextval('autoblacklist_generation')\n"
        ");\n"
        "CREATE INDEX IF NOT EXISTS bans_expires_at ON bans (expires_at);\n"
        "CREATE INDEX IF NOT EXISTS bans_generation ON bans (generation);\n"
        "-- One row as the daemons read it, with times relative to the database's\n"
        "-- clock (the hosts' clocks may differ).\n"
        "CREATE OR REPLACE FUNCTION autoblacklist_payload(b bans) RETURNS text LANGUAGE sql STABLE AS $$\n"
        "    SELECT concat_ws(E'\\t', b.generation, b.origin, host(b.network) || '/' || masklen(b.network),\n"
        "        CASE WHEN b.active THEN 't' ELSE 'f' END, b.rule,\n"
        "        COALESCE(round(extract(epoch FROM b.expires_at - now()) * 1000)::bigint::text, ''),\n"
        "        b.ban_count, round(extract(epoch FROM now() - b.banned_at) * 1000)::bigint)\n"
        "$$;\n"
        "-- Every statement that adds or changes rows tells the listeners, 25 rows a\n"
        "-- message (a NOTIFY payload holds less than 8000 bytes), one row a line.\n"
        "CREATE OR REPLACE FUNCTION autoblacklist_notify() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "DECLARE\n"
        "    chunk text;\n"
        "BEGIN\n"
        "    FOR chunk IN\n"
        "        SELECT string_agg(p, E'\\n' ORDER BY g, p) FROM (\n"
        "            SELECT autoblacklist_payload(n) AS p, (row_number() OVER ()) / 25 AS g FROM changed_rows n) s\n"
        "        GROUP BY g\n"
        "    LOOP\n"
        "        PERFORM pg_notify('autoblacklist', chunk);\n"
        "    END LOOP;\n"
        "    RETURN NULL;\n"
        "END\n"
        "$$;\n"
        "CREATE OR REPLACE TRIGGER bans_notify_insert AFTER INSERT ON bans\n"
        "    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION autoblacklist_notify();\n"
        "CREATE OR REPLACE TRIGGER bans_notify_update AFTER UPDATE ON bans\n"
        "    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION autoblacklist_notify();\n"
        "INSERT INTO autoblacklist_schema (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM autoblacklist_schema);\n"
        "COMMIT;\n"
        ;

const char *fleet_schema_sql(void)
{
        return schema_sql;
}

typedef enum OpKind { OP_BAN, OP_UNBAN, OP_FLUSH } OpKind;

typedef struct Op {
        OpKind kind;
        Addr addr;
        uint8_t plen;
        uint32_t count;
        int64_t expires_ms; /* 0: never */
        int64_t queued_ms;
        char rule[FLEET_NAME_MAX + 1];
} Op;

typedef enum LinkState {
        LINK_DOWN,
        LINK_CONNECTING,
        LINK_PROBE,   /* SELECT the schema version */
        LINK_SCHEMA,  /* creating it */
        LINK_LISTEN,
        LINK_CATCHUP,
        LINK_UP,
} LinkState;

struct Fleet {
        struct ev_loop *loop;
        char *conninfo;
        char name[FLEET_NAME_MAX + 1];
        const FleetOps *ops;
        void *ctx;
        PGconn *conn;
        LinkState state;
        bool busy;         /* LINK_UP: a push or a heartbeat is in flight */
        bool changed;      /* imports changed the bans since ops->changed() */
        bool purge_wanted; /* delete the expired rows with the next query */
        bool resync_wanted;
        const char *resync_why;
        bool said_down;    /* the outage was logged */
        bool ever_up;
        char qerr[256];    /* the first error of the query in flight */
        char qerr_state[6];
        int qerr_version;
        size_t inflight; /* queued changes in the query in flight */
        Op *q;
        size_t q_head, q_n, q_cap;
        size_t caught_up;
        ev_io io;
        int io_fd, io_events;
        ev_timer retry, watchdog, heartbeat;
        ev_prepare kick; /* pushes what was queued during this loop iteration */
        double backoff_s;
        FleetStats stats;
};

static void pump(Fleet *f);
static void connect_start(Fleet *f);

/* --- pure parts ----------------------------------------------------------- */

bool fleet_name_valid(const char *s)
{
        size_t n = strlen(s);

        return n >= 1 && n <= FLEET_NAME_MAX &&
               s[strspn(s, "-._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")] == '\0';
}

int fleet_check_conninfo(const char *conninfo, char **why)
{
        char *err = NULL;
        PQconninfoOption *o;
        _cleanup_free_ char *shown = NULL;
        const char *no_pq;

        if (pq_load(&no_pq) < 0) {
                *why = xasprintf("the fleet needs libpq, which cannot be loaded (%s): install libpq5", no_pq);
                return -ENOENT;
        }
        o = PQ(PQconninfoParse)(conninfo, &err);
        if (o) {
                PQ(PQconninfoFree)(o);
                return 0;
        }
        /* libpq's message may quote the string: only a redacted one is shown */
        shown = fleet_redact(conninfo);
        if (streq(shown, conninfo) && err)
                *why = xasprintf("not a PostgreSQL connection string or URI: %s", strip(err));
        else
                *why = xstrdup("not a PostgreSQL connection string or URI");
        PQ(PQfreemem)(err);
        return -EINVAL;
}

/* Overwrite [p, end) with "***". */
static void mask(Buf *out, const char **p, const char *end)
{
        buf_puts(out, "***");
        *p = end;
}

/* The text of s with its password masked, for a string that libpq cannot parse. */
static char *redact_text(const char *s)
{
        Buf out = {0};
        const char *p = s;

        if (startswith(s, "postgresql://") || startswith(s, "postgres://")) {
                const char *auth = strstr(s, "://") + 3;
                const char *end = auth + strcspn(auth, "/?");
                const char *at = memrchr(auth, '@', (size_t)(end - auth));
                const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;

                if (colon) {
                        buf_append(&out, s, (size_t)(colon + 1 - s));
                        p = at;
                        buf_puts(&out, "***");
                }
                /* ...?password=X&... */
                while (*p) {
                        const char *q = strstr(p, "password=");
                        if (!q) {
                                buf_puts(&out, p);
                                break;
                        }
                        q += strlen("password=");
                        buf_append(&out, p, (size_t)(q - p));
                        p = q;
                        mask(&out, &p, q + strcspn(q, "&#"));
                }
        } else {
                /* keyword = value pairs; a value may be quoted with '' and \' */
                while (*p) {
                        const char *q = strstr(p, "password");
                        const char *v;
                        if (!q) {
                                buf_puts(&out, p);
                                break;
                        }
                        v = q + strlen("password");
                        v += strspn(v, " \t\n");
                        buf_append(&out, p, (size_t)(v - p));
                        p = v;
                        if (*v != '=')
                                continue;
                        v++;
                        v += strspn(v, " \t\n");
                        buf_append(&out, p, (size_t)(v - p));
                        p = v;
                        if (*v == '\'') {
                                const char *e = v + 1;
                                while (*e && *e != '\'')
                                        e += e[0] == '\\' && e[1] ? 2 : 1;
                                mask(&out, &p, *e ? e + 1 : e);
                        } else
                                mask(&out, &p, v + strcspn(v, " \t\n"));
                }
        }
        if (!out.data)
                return xstrdup("");
        return out.data;
}

/*
 * A string that holds a password is written again from what libpq parsed,
 * as keyword = 'value' pairs, the password '***': the result is always a
 * valid string of the same meaning (but the password), whatever quoting
 * or URI escapes the original used.
 */
char *fleet_redact(const char *s)
{
        PQconninfoOption *o;
        bool has_password = false;
        Buf out = {0};

        if (pq_load(NULL) < 0)
                return redact_text(s);
        o = PQ(PQconninfoParse)(s, NULL);
        if (!o)
                return redact_text(s);
        for (PQconninfoOption *p = o; p->keyword; p++)
                if (streq(p->keyword, "password") && p->val && *p->val)
                        has_password = true;
        if (!has_password) {
                PQ(PQconninfoFree)(o);
                return xstrdup(s);
        }
        for (PQconninfoOption *p = o; p->keyword; p++) {
                const char *v = streq(p->keyword, "password") ? "***" : p->val;
                if (!v || !*v)
                        continue;
                buf_printf(&out, "%s%s='", out.len ? " " : "", p->keyword);
                for (; *v; v++) {
                        if (*v == '\\' || *v == '\'')
                                buf_puts(&out, "\\");
                        buf_append(&out, v, 1);
                }
                buf_puts(&out, "'");
        }
        PQ(PQconninfoFree)(o);
        return out.data;
}

static bool parse_i64(const char *s, int64_t *out)
{
        char *end;
        long long v;

        if (!*s)
                return false;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
                return false;
        *out = v;
        return true;
}

int fleet_parse_payload(const char *s, FleetBan *out)
{
        _cleanup_free_ char *copy = xstrdup(s);
        char *w[9];
        size_t n = 0;
        int64_t v;
        char *p = copy;

        *out = (FleetBan){0};
        for (;;) {
                char *tab = strchr(p, '\t');
                if (n == 8)
                        return -EBADMSG;
                w[n++] = p;
                if (!tab)
                        break;
                *tab = '\0';
                p = tab + 1;
        }
        if (n != 8)
                return -EBADMSG;
        if (!parse_i64(w[0], &v) || v < 0)
                return -EBADMSG;
        out->gen = (uint64_t)v;
        if (!fleet_name_valid(w[1]) || !fleet_name_valid(w[4]))
                return -EBADMSG;
        strcpy(out->origin, w[1]);
        strcpy(out->rule, w[4]);
        if (cidr_parse(w[2], &out->net) < 0)
                return -EBADMSG;
        if (streq(w[3], "t"))
                out->active = true;
        else if (!streq(w[3], "f"))
                return -EBADMSG;
        if (!*w[5])
                out->forever = true;
        else if (!parse_i64(w[5], &out->remaining_ms))
                return -EBADMSG;
        if (!parse_i64(w[6], &v) || v < 0 || v > UINT32_MAX)
                return -EBADMSG;
        out->count = (uint32_t)v;
        if (!parse_i64(w[7], &out->age_ms))
                return -EBADMSG;
        return 0;
}

/* Tell the service layer (which logs): this module does not log. */
static void say(Fleet *f, int priority, const char *fmt, ...) _printf_(3, 4);
static void say(Fleet *f, int priority, const char *fmt, ...)
{
        _cleanup_free_ char *text = NULL;
        va_list ap;

        if (!f->ops->note)
                return;
        va_start(ap, fmt);
        if (vasprintf(&text, fmt, ap) < 0)
                oom();
        va_end(ap);
        f->ops->note(f->ctx, priority, text);
}

/* --- the queue ------------------------------------------------------------ */

size_t fleet_queued(const Fleet *f)
{
        return f ? f->q_n - f->q_head : 0;
}

int64_t fleet_queue_age_ms(const Fleet *f)
{
        if (!f || f->q_n == f->q_head)
                return 0;
        return now_ms() - f->q[f->q_head].queued_ms;
}

static void kick(Fleet *f)
{
        if (f->state == LINK_UP && !f->busy)
                ev_prepare_start(f->loop, &f->kick);
}

static Op *enqueue(Fleet *f, OpKind kind)
{
        if (fleet_queued(f) >= FLEET_QUEUE_MAX) {
                /* Keep what is in flight; drop the rest and publish every
                   local ban again once the queue has drained. */
                size_t lost = fleet_queued(f) - f->inflight;
                f->stats.dropped += lost;
                f->q_n = f->q_head + f->inflight;
                if (!f->resync_wanted)
                        say(f, LOG_WARNING, "fleet: %zu changes wait for the database, the most it holds; dropped %zu, "
                                 "every local ban is published again when it is back",
                                 (size_t)FLEET_QUEUE_MAX, lost);
                f->resync_wanted = true;
                f->resync_why = "changes were dropped while the database was away";
        }
        if (f->q_n == f->q_cap && f->q_head) {
                memmove(f->q, f->q + f->q_head, (f->q_n - f->q_head) * sizeof(Op));
                f->q_n -= f->q_head;
                f->q_head = 0;
        }
        GROW(f->q, f->q_cap, f->q_n + 1);
        f->q[f->q_n] = (Op){.kind = kind, .queued_ms = now_ms()};
        kick(f);
        return &f->q[f->q_n++];
}

void fleet_ban(Fleet *f, const Addr *a, uint8_t plen, const char *rule, int64_t expires_ms, uint32_t count)
{
        Op *op;

        if (!f)
                return;
        op = enqueue(f, OP_BAN);
        op->addr = *a;
        op->plen = plen;
        op->count = count;
        op->expires_ms = expires_ms;
        /* a rule name that the others would refuse goes as "unnamed" */
        snprintf(op->rule, sizeof(op->rule), "%s", fleet_name_valid(rule) ? rule : "unnamed");
}

void fleet_unban(Fleet *f, const Addr *a, uint8_t plen)
{
        Op *op;

        if (!f)
                return;
        op = enqueue(f, OP_UNBAN);
        op->addr = *a;
        op->plen = plen;
}

void fleet_flush(Fleet *f)
{
        if (f)
                (void)enqueue(f, OP_FLUSH);
}

void fleet_expired(Fleet *f)
{
        if (!f)
                return;
        f->purge_wanted = true;
        kick(f);
}

/* --- the connection ------------------------------------------------------- */

static void watch(Fleet *f, int events)
{
        int fd = PQ(PQsocket)(f->conn);

        if (fd == f->io_fd && events == f->io_events && ev_is_active(&f->io))
                return;
        ev_io_stop(f->loop, &f->io);
        f->io_fd = fd;
        f->io_events = events;
        if (fd < 0)
                return;
        ev_io_set(&f->io, fd, events);
        ev_io_start(f->loop, &f->io);
}

static void arm_watchdog(Fleet *f)
{
        ev_timer_stop(f->loop, &f->watchdog);
        ev_timer_set(&f->watchdog, FLEET_TIMEOUT_S, 0.);
        ev_timer_start(f->loop, &f->watchdog);
}

/* libpq's message, on one line. */
static void set_error(char *dst, size_t size, const char *msg)
{
        size_t n;

        char *o = dst;

        snprintf(dst, size, "%s", msg && *msg ? msg : "unknown error");
        for (const char *p = dst; *p; p++) {
                char c = *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p;
                if (c == ' ' && (o == dst || o[-1] == ' '))
                        continue;
                *o++ = c;
        }
        *o = '\0';
        n = strlen(dst);
        while (n && dst[n - 1] == ' ')
                dst[--n] = '\0';
}

static void link_down(Fleet *f, const char *why)
{
        bool was_up = f->state == LINK_UP;

        set_error(f->stats.last_error, sizeof(f->stats.last_error), why);
        if (!f->said_down) {
                say(f, LOG_ERR, "fleet: the database is not reachable: %s; banning locally, %zu changes queued, "
                        "retrying",
                        f->stats.last_error, fleet_queued(f));
                f->said_down = true;
        } else
                say(f, LOG_DEBUG, "fleet: still no database: %s", f->stats.last_error);
        ev_io_stop(f->loop, &f->io);
        f->io_fd = -1;
        ev_timer_stop(f->loop, &f->watchdog);
        ev_timer_stop(f->loop, &f->heartbeat);
        ev_prepare_stop(f->loop, &f->kick);
        if (f->conn)
                PQ(PQfinish)(f->conn);
        f->conn = NULL;
        f->state = LINK_DOWN;
        f->busy = false;
        f->inflight = 0;
        f->stats.connected = false;
        if (was_up || !f->stats.down_since_ms)
                f->stats.down_since_ms = now_ms();
        ev_timer_set(&f->retry, f->backoff_s, 0.);
        ev_timer_start(f->loop, &f->retry);
        f->backoff_s = MIN(f->backoff_s * 2, FLEET_RETRY_MAX_S);
        if (was_up)
                f->ops->changed(f->ctx);
}

static bool send_query(Fleet *f, const char *sql)
{
        int r;

        f->qerr[0] = '\0';
        f->qerr_state[0] = '\0';
        if (!PQ(PQsendQuery)(f->conn, sql)) {
                link_down(f, PQ(PQerrorMessage)(f->conn));
                return false;
        }
        r = PQ(PQflush)(f->conn);
        if (r < 0) {
                link_down(f, PQ(PQerrorMessage)(f->conn));
                return false;
        }
        watch(f, r ? EV_READ | EV_WRITE : EV_READ);
        arm_watchdog(f);
        return true;
}

static void catch_up(Fleet *f)
{
        _cleanup_free_ char *sql = NULL;
        uint64_t from = f->stats.last_gen > FLEET_CATCHUP_OVERLAP ? f->stats.last_gen - FLEET_CATCHUP_OVERLAP : 0;

        f->state = LINK_CATCHUP;
        f->caught_up = 0;
        sql = xasprintf("SELECT autoblacklist_payload(b) FROM bans b WHERE generation > %" PRIu64
                        " AND (expires_at IS NULL OR expires_at > now()) ORDER BY generation",
                        from);
        (void)send_query(f, sql);
}

static void connected(Fleet *f)
{
        snprintf(f->stats.server, sizeof(f->stats.server), "%s%s%s, database %s, user %s",
                 PQ(PQhost)(f->conn) ? PQ(PQhost)(f->conn) : "?", PQ(PQport)(f->conn) && *PQ(PQport)(f->conn) ? ":" : "",
                 PQ(PQport)(f->conn) ? PQ(PQport)(f->conn) : "", PQ(PQdb)(f->conn), PQ(PQuser)(f->conn));
        f->state = LINK_PROBE;
        (void)send_query(f, "SELECT max(version) FROM autoblacklist_schema");
}

static void apply(Fleet *f, const char *payload, bool bulk)
{
        FleetBan b;

        if (fleet_parse_payload(payload, &b) < 0) {
                f->stats.bad_rows++;
                say(f, LOG_DEBUG, "fleet: a row that does not parse, skipped");
                return;
        }
        if (b.gen > f->stats.last_gen)
                f->stats.last_gen = b.gen;
        if (streq(b.origin, f->name))
                return; /* ours: it came from here */
        f->stats.imported++;
        if (f->ops->imported(f->ctx, &b))
                f->changed = true;
        if (bulk)
                f->caught_up++;
}

static void on_result(Fleet *f, PGresult *res)
{
        ExecStatusType st = PQ(PQresultStatus)(res);

        if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
                const char *code = PQ(PQresultErrorField)(res, PG_DIAG_SQLSTATE);
                if (st == PGRES_NONFATAL_ERROR)
                        return; /* a notice */
                if (!f->qerr[0]) {
                        set_error(f->qerr, sizeof(f->qerr), PQ(PQresultErrorMessage)(res));
                        snprintf(f->qerr_state, sizeof(f->qerr_state), "%s", code ? code : "");
                }
                return;
        }
        if (f->state == LINK_PROBE && st == PGRES_TUPLES_OK && PQ(PQntuples)(res) == 1)
                f->qerr_version = PQ(PQgetisnull)(res, 0, 0) ? 0 : atoi(PQ(PQgetvalue)(res, 0, 0));
        if (f->state == LINK_CATCHUP && st == PGRES_TUPLES_OK)
                for (int i = 0; i < PQ(PQntuples)(res); i++)
                        apply(f, PQ(PQgetvalue)(res, i, 0), true);
}

static void query_done(Fleet *f)
{
        ev_timer_stop(f->loop, &f->watchdog);
        switch (f->state) {
        case LINK_PROBE:
                if (f->qerr[0] && streq(f->qerr_state, "42P01")) {
                        say(f, LOG_NOTICE, "fleet: no schema in the database yet; creating it (version %d)",
                                   FLEET_SCHEMA_VERSION);
                        f->state = LINK_SCHEMA;
                        (void)send_query(f, schema_sql);
                        return;
                }
                if (f->qerr[0]) {
                        link_down(f, f->qerr);
                        return;
                }
                if (f->qerr_version != FLEET_SCHEMA_VERSION) {
                        _cleanup_free_ char *t = xasprintf("the schema is version %d, this daemon knows version %d",
                                                           f->qerr_version, FLEET_SCHEMA_VERSION);
                        link_down(f, t);
                        return;
                }
                __attribute__((fallthrough)); /* the schema is there */
        case LINK_SCHEMA:
                if (f->qerr[0]) {
                        _cleanup_free_ char *t = xasprintf("cannot create the schema: %s", f->qerr);
                        link_down(f, t);
                        return;
                }
                /* LISTEN commits before the catch-up's snapshot: no change falls between */
                f->state = LINK_LISTEN;
                (void)send_query(f, "LISTEN " FLEET_CHANNEL);
                return;
        case LINK_LISTEN:
                if (f->qerr[0]) {
                        link_down(f, f->qerr);
                        return;
                }
                catch_up(f);
                return;
        case LINK_CATCHUP:
                if (f->qerr[0]) {
                        link_down(f, f->qerr);
                        return;
                }
                f->state = LINK_UP;
                f->stats.connected = true;
                f->backoff_s = FLEET_RETRY_MIN_S;
                if (f->said_down || f->ever_up) {
                        char dur[32];
                        f->stats.reconnects++;
                        say(f, LOG_NOTICE, "fleet: connected again to %s after %s; %zu bans of the others caught up, "
                                   "pushing %zu queued changes",
                                   f->stats.server,
                                   format_duration((uint64_t)(now_ms() - f->stats.down_since_ms), dur, sizeof(dur)),
                                   f->caught_up, fleet_queued(f));
                } else
                        say(f, LOG_INFO, "fleet: connected to %s, as %s; %zu bans of the others caught up, pushing %zu "
                                 "changes",
                                 f->stats.server, f->name, f->caught_up, fleet_queued(f));
                f->said_down = false;
                f->ever_up = true;
                f->stats.down_since_ms = 0;
                f->stats.last_error[0] = '\0';
                ev_timer_set(&f->heartbeat, FLEET_HEARTBEAT_S, FLEET_HEARTBEAT_S);
                ev_timer_start(f->loop, &f->heartbeat);
                f->changed = true; /* STATUS shows the link */
                pump(f);
                return;
        case LINK_UP:
                f->busy = false;
                if (f->qerr[0] && startswith(f->qerr_state, "40")) {
                        /* a serialization failure or deadlock with another host: again */
                        say(f, LOG_INFO, "fleet: a push was refused (%s); retrying", f->qerr);
                } else {
                        if (f->qerr[0]) {
                                /* not the link: the same batch would fail again */
                                say(f, LOG_ERR, "fleet: the database refused %zu changes: %s; they are not shared",
                                        f->inflight, f->qerr);
                                f->stats.dropped += f->inflight;
                        } else if (f->inflight) {
                                f->stats.pushed += f->inflight;
                                f->stats.lag_ms = now_ms() - f->q[f->q_head].queued_ms;
                        }
                        f->q_head += f->inflight;
                        if (f->q_head == f->q_n)
                                f->q_head = f->q_n = 0;
                }
                f->inflight = 0;
                pump(f);
                return;
        default:
                return;
        }
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        Fleet *f = w->data;
        PGnotify *n;

        (void)loop;
        if (f->state == LINK_CONNECTING) {
                switch (PQ(PQconnectPoll)(f->conn)) {
                case PGRES_POLLING_READING:
                        watch(f, EV_READ);
                        return;
                case PGRES_POLLING_WRITING:
                        watch(f, EV_WRITE);
                        return;
                case PGRES_POLLING_OK:
                        connected(f);
                        return;
                default:
                        link_down(f, PQ(PQerrorMessage)(f->conn));
                        return;
                }
        }
        if (revents & EV_WRITE) {
                int r = PQ(PQflush)(f->conn);
                if (r < 0) {
                        link_down(f, PQ(PQerrorMessage)(f->conn));
                        return;
                }
                if (r == 0)
                        watch(f, EV_READ);
        }
        if ((revents & EV_READ) && !PQ(PQconsumeInput)(f->conn)) {
                link_down(f, PQ(PQerrorMessage)(f->conn));
                return;
        }
        while (f->conn && f->state >= LINK_PROBE && (f->state != LINK_UP || f->busy) && !PQ(PQisBusy)(f->conn)) {
                PGresult *res = PQ(PQgetResult)(f->conn);
                if (!res) {
                        query_done(f);
                        continue;
                }
                on_result(f, res);
                PQ(PQclear)(res);
        }
        while (f->conn && (n = PQ(PQnotifies)(f->conn))) {
                /* one row a line (the trigger packs a statement's rows) */
                for (char *line = n->extra, *next; line && *line && streq(n->relname, FLEET_CHANNEL); line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = '\0';
                        apply(f, line, false);
                }
                PQ(PQfreemem)(n);
        }
        if (f->conn && PQ(PQstatus)(f->conn) == CONNECTION_BAD)
                link_down(f, PQ(PQerrorMessage)(f->conn));
        if (f->changed) {
                f->changed = false;
                f->ops->changed(f->ctx);
        }
}

/* The next batch of queued changes, if the link is idle. */
#define BATCH_SLOTS 16384 /* > 2 x FLEET_BATCH_MAX */

/* Mark q[i] as in this upsert; false if its network already is. */
static bool batch_add(uint16_t *seen, const Op *q, size_t head, size_t i)
{
        size_t h = (size_t)(fnv1a(q[i].addr.b, sizeof(q[i].addr.b)) ^ q[i].plen) % BATCH_SLOTS;

        for (;; h = (h + 1) % BATCH_SLOTS) {
                const Op *o;
                if (!seen[h]) {
                        seen[h] = (uint16_t)(i - head + 1);
                        return true;
                }
                o = &q[head + seen[h] - 1];
                if (o->plen == q[i].plen && addr_equal(&o->addr, &q[i].addr))
                        return false;
        }
}

static void end_insert(Buf *sql)
{
        buf_puts(sql, "\nON CONFLICT (network) DO UPDATE SET rule = EXCLUDED.rule, origin = EXCLUDED.origin, "
                      "banned_at = EXCLUDED.banned_at, expires_at = EXCLUDED.expires_at, ban_count = "
                      "EXCLUDED.ban_count, active = true, generation = EXCLUDED.generation;\n");
}

static void pump(Fleet *f)
{
        Buf sql = {0};
        size_t k = 0;
        bool in_insert = false;
        uint16_t seen[BATCH_SLOTS];
        int64_t now = now_ms();
        char esc_name[2 * FLEET_NAME_MAX + 1];

        if (f->state != LINK_UP || f->busy)
                return;
        if (f->q_n == f->q_head && f->resync_wanted) {
                f->resync_wanted = false;
                say(f, LOG_NOTICE, "fleet: publishing every local ban (%s)", f->resync_why);
                f->ops->resync(f->ctx);
        }
        (void)PQ(PQescapeStringConn)(f->conn, esc_name, f->name, strlen(f->name), NULL);
        /*
         * Consecutive bans go into one multi-row upsert (one statement: the
         * table's statement trigger NOTIFYs them in a few messages); an
         * upsert may not touch a row twice, so a second change of the same
         * network, or an unban, ends it.  The order of the changes is kept.
         */
        for (size_t i = f->q_head; i < f->q_n && k < FLEET_BATCH_MAX;) {
                const Op *op = &f->q[i];
                char net[CIDR_STRLEN], rule[2 * FLEET_NAME_MAX + 1];

                cidr_format(&(Cidr){op->addr, op->plen, addr_is_v4(&op->addr)}, net);
                if (op->kind == OP_BAN) {
                        if (op->expires_ms && op->expires_ms <= now) {
                                i++, k++; /* over already: nothing to share */
                                continue;
                        }
                        if (in_insert && !batch_add(seen, f->q, f->q_head, i)) {
                                end_insert(&sql);
                                in_insert = false;
                                continue;
                        }
                        if (!in_insert) {
                                memset(seen, 0, sizeof(seen));
                                (void)batch_add(seen, f->q, f->q_head, i);
                                buf_puts(&sql, "INSERT INTO bans (network, rule, origin, banned_at, expires_at, "
                                               "ban_count, active, generation) VALUES\n");
                                in_insert = true;
                        } else
                                buf_puts(&sql, ",\n");
                        (void)PQ(PQescapeStringConn)(f->conn, rule, op->rule, strlen(op->rule), NULL);
                        buf_printf(&sql, "('%s', '%s', '%s', now(), ", net, rule, esc_name);
                        if (op->expires_ms)
                                buf_printf(&sql, "now() + interval '%" PRId64 " milliseconds'", op->expires_ms - now);
                        else
                                buf_puts(&sql, "NULL");
                        buf_printf(&sql, ", %" PRIu32 ", true, nextval('autoblacklist_generation'))", op->count);
                } else {
                        if (in_insert)
                                end_insert(&sql);
                        in_insert = false;
                        buf_printf(&sql,
                                   "UPDATE bans SET active = false, origin = '%s', generation = "
                                   "nextval('autoblacklist_generation'), expires_at = COALESCE(expires_at, now() + "
                                   "interval '" FLEET_UNBAN_KEEP "') WHERE active",
                                   esc_name);
                        if (op->kind == OP_UNBAN)
                                buf_printf(&sql, " AND network = '%s'", net);
                        buf_puts(&sql, ";\n");
                }
                i++, k++;
        }
        if (in_insert)
                end_insert(&sql);
        if (f->purge_wanted) {
                buf_puts(&sql, "DELETE FROM bans WHERE expires_at <= now();\n");
                f->purge_wanted = false;
        }
        if (!sql.data) {
                /* only expired bans: they leave the queue unsent */
                f->q_head += k;
                if (f->q_head == f->q_n)
                        f->q_head = f->q_n = 0;
                return;
        }
        f->busy = true;
        f->inflight = k;
        (void)send_query(f, sql.data);
        buf_free(&sql);
}

static void kick_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
        (void)revents;
        ev_prepare_stop(loop, w);
        pump(w->data);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        connect_start(w->data);
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Fleet *f = w->data;
        char t[96];

        (void)loop;
        (void)revents;
        snprintf(t, sizeof(t), "no answer within %.0fs", FLEET_TIMEOUT_S);
        link_down(f, t);
}

static void heartbeat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Fleet *f = w->data;

        (void)loop;
        (void)revents;
        f->purge_wanted = true; /* a question that also keeps the table small */
        pump(f);
}

/* The server's notices (a shutdown under way, ...): to our log, not stderr. */
static void on_notice(void *arg, const char *message)
{
        Fleet *f = arg;
        char t[256];

        set_error(t, sizeof(t), message);
        say(f, LOG_INFO, "fleet: the database says: %s", t);
}

static void connect_start(Fleet *f)
{
        f->conn = PQ(PQconnectStart)(f->conninfo);
        if (!f->conn) {
                link_down(f, "out of memory");
                return;
        }
        if (PQ(PQstatus)(f->conn) == CONNECTION_BAD || PQ(PQsetnonblocking)(f->conn, 1) < 0) {
                link_down(f, PQ(PQerrorMessage)(f->conn));
                return;
        }
        (void)PQ(PQsetNoticeProcessor)(f->conn, on_notice, f);
        f->state = LINK_CONNECTING;
        watch(f, EV_WRITE);
        arm_watchdog(f);
}

int fleet_new(Fleet **out, struct ev_loop *loop, const char *conninfo, const char *name, const FleetOps *ops,
              void *ctx)
{
        Fleet *f;

        if (!fleet_name_valid(name))
                return -EINVAL;
        if (pq_load(NULL) < 0)
                return -ENOENT;
        f = xcalloc(1, sizeof(*f));
        f->loop = loop;
        f->conninfo = xstrdup(conninfo);
        snprintf(f->name, sizeof(f->name), "%s", name);
        f->ops = ops;
        f->ctx = ctx;
        f->io_fd = -1;
        f->backoff_s = FLEET_RETRY_MIN_S;
        ev_init(&f->io, io_cb);
        f->io.data = f;
        ev_init(&f->retry, retry_cb);
        f->retry.data = f;
        ev_init(&f->watchdog, watchdog_cb);
        f->watchdog.data = f;
        ev_init(&f->heartbeat, heartbeat_cb);
        f->heartbeat.data = f;
        ev_prepare_init(&f->kick, kick_cb);
        f->kick.data = f;
        f->stats.down_since_ms = now_ms();
        /* Changes queued at the last stop were lost with the process: once
           the catch-up has applied the others' unbans, our bans go again
           (an upsert of a row that holds them already changes nothing). */
        f->resync_wanted = true;
        f->resync_why = "at start";
        snprintf(f->stats.last_error, sizeof(f->stats.last_error), "connecting");
        connect_start(f);
        *out = f;
        return 0;
}

Fleet *fleet_free(Fleet *f)
{
        if (!f)
                return NULL;
        ev_io_stop(f->loop, &f->io);
        ev_timer_stop(f->loop, &f->retry);
        ev_timer_stop(f->loop, &f->watchdog);
        ev_timer_stop(f->loop, &f->heartbeat);
        ev_prepare_stop(f->loop, &f->kick);
        if (f->conn)
                PQ(PQfinish)(f->conn);
        free(f->conninfo);
        free(f->q);
        free(f);
        return NULL;
}

const char *fleet_name(const Fleet *f)
{
        return f->name;
}

const FleetStats *fleet_stats(const Fleet *f)
{
        return &f->stats;
}
