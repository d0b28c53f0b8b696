/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * access-map: the backend of smtpd's check_client_access map, the first
 * and primary one: "KEY REJECT reject_text" in our block of the map
 * (mapfile.h), written by a MapWriter.
 *
 * Keys are smtpd's lookup keys (mapfile_key()): a host's address, or a
 * network's leading octets or octet pairs; a network no single key can
 * match is refused (-EDOM), unless the network map, first in the
 * registry, takes it.  A bare number such as "127" is reached from both
 * families, so a ban under it must be free of protected addresses in
 * both (reach).  The admin's lines in the map are theirs: a key they have
 * is never written by us, and one that accepts (OK, ...) exempts every
 * address it covers (exempts), as smtpd would look it up.  An edit of the
 * map by the admin is watched (ev_stat) and handed to the service, which
 * lifts what is now exempt.
 *
 * When access_map moves (a reload, or a start whose state file names
 * another map), the old map keeps a writer of its own that writes the
 * admin's lines alone, once, retried until it works: our block leaves it.
 *
 * How smtpd logs a rejection of ours (own_reject): "reject: RCPT from
 * host[addr]: 554 5.7.1 <host[addr]>: Client host rejected: TEXT; ...".
 * The reply's <...> of a client access table is the client itself, and
 * the line ends as smtpd ends it, so a sender or recipient that carries
 * the same words cannot make a relay probe or a dictionary attack look
 * like our own rejection.
 *
 * Security: the map path and postmap come from the config (trusted); the
 * admin's lines are parsed by mapfile.c and only ever decide against a
 * ban.  Nothing here logs: notes go to the service through backend_note().
 */
#include "backend/backend.h"

#include <ctype.h>
#include <errno.h>
#include <syslog.h>

#include "backend/mapfile.h"
#include "backend/mapwriter.h"

typedef struct AccessMap AccessMap;

/* What a writer's callbacks get: whether it only takes our block out of a map we no longer use. */
typedef struct Slot {
        AccessMap *m;
        MapWriter *mw;
        bool retiring;
} Slot;

struct AccessMap {
        BanBackend *b;
        struct ev_loop *loop;
        char *type, *path;
        Slot slots[2]; /* the current writer, and one that is retiring */
        unsigned cur;
        bool old_given_up; /* stopping: the old map's clean-up failed */
        ev_stat stat;      /* the admin's edits */
        const MapWriter *seen_mw; /* whose admin generation seen_gen is */
        uint64_t seen_gen;
        ev_idle reap;      /* frees the old writer outside its own callback */
};

#define CUR(m) ((m)->slots[(m)->cur].mw)
#define OLD(m) ((m)->slots[(m)->cur ^ 1].mw)

/* "type:path" into its parts; -EINVAL if not a map type we write. */
static int split_spec(const char *spec, char **type, char **path)
{
        const char *colon = strchr(spec, ':');

        if (!colon)
                return -EINVAL;
        *type = xstrndup(spec, (size_t)(colon - spec));
        if (!mapfile_suffix(*type)) {
                *type = mfree(*type);
                return -EINVAL;
        }
        *path = xstrdup(colon + 1);
        return 0;
}

static void old_done(AccessMap *m, int result);
static void check_admin(AccessMap *m);

static void prepare(void *ctx)
{
        Slot *slot = ctx;

        if (!slot->retiring)
                backend_prepare(slot->m->b);
}

/* In the writer's child (a snapshot of the process). */
static size_t render(void *ctx, const AdminKeys *admin, Buf *out, Buf *notes)
{
        Slot *slot = ctx;

        if (slot->retiring)
                return 0; /* it writes the admin's lines alone */
        return backend_render(slot->m->b, admin, out, notes);
}

static void lift(void *ctx, const char *notes, size_t len)
{
        Slot *slot = ctx;

        if (!slot->retiring)
                backend_lift(slot->m->b, notes, len);
}

static void done(void *ctx, int result, size_t entries)
{
        Slot *slot = ctx;

        if (slot->retiring) {
                old_done(slot->m, result);
                return;
        }
        backend_done(slot->m->b, result == MAPWRITER_UNCHANGED ? BACKEND_UNCHANGED : result, entries);
        /* An edit that came while our renames were under way was not read
           then (mapwriter_admin_keys keeps what the write parsed): look now. */
        if (slot->mw == CUR(slot->m))
                check_admin(slot->m);
}

static void said(void *ctx, int priority, bool failed, const char *text)
{
        Slot *slot = ctx;
        backend_writer_said(slot->m->b, priority, failed, text);
}

static const MapWriterOps map_ops = {prepare, render, lift, done, said};

static void old_done(AccessMap *m, int result)
{
        if (backend_stopping(m->b)) {
                /* A write that was under way at the move still held the bans:
                   the one that removes our block comes next, at once. */
                if (result >= 0 && mapwriter_busy(OLD(m))) {
                        mapwriter_request_now(OLD(m));
                        return;
                }
                if (result < 0) /* the next start does not know the old map: say it */
                        backend_note(
                                m->b, LOG_ERR,
                                "%s: our block stays in this map, which is no longer access_map; remove it "
                                "by hand",
                                mapwriter_path(OLD(m)));
                m->old_given_up = true;
                backend_progress(m->b);
                return;
        }
        if (result < 0)
                return; /* the writer logged it and retries */
        if (mapwriter_busy(OLD(m)))
                return; /* that write began before the move: the next one removes the block */
        backend_note(m->b, LOG_NOTICE, "%s: our block is removed (access_map is now %s)",
                     mapwriter_path(OLD(m)), m->path);
        ev_idle_start(m->loop, &m->reap); /* not from inside its own callback */
}

static void reap_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
        AccessMap *m = w->data;

        (void)revents;
        ev_idle_stop(loop, w);
        if (OLD(m) && !mapwriter_busy(OLD(m)))
                m->slots[m->cur ^ 1] = (Slot){.m = m, .mw = mapwriter_free(OLD(m))};
}

/* Has the admin's part of the map changed since we last looked? */
static void check_admin(AccessMap *m)
{
        if (!mapwriter_admin_keys(CUR(m)))
                return;
        /* Every write of ours renames the map: scan the bans only when the admin's part changed. */
        if (m->seen_mw == CUR(m) && m->seen_gen == mapwriter_admin_generation(CUR(m)))
                return;
        m->seen_mw = CUR(m);
        m->seen_gen = mapwriter_admin_generation(CUR(m));
        backend_admin_changed(m->b);
}

static void stat_cb(struct ev_loop *loop, ev_stat *w, int revents)
{
        (void)loop;
        (void)revents;
        check_admin(w->data);
}

static void watch(AccessMap *m)
{
        ev_stat_stop(m->loop, &m->stat);
        m->seen_mw = NULL; /* a new writer: its admin generation counts anew */
        ev_stat_set(&m->stat, m->path, 0.);
        ev_stat_start(m->loop, &m->stat);
}

static int am_open(BanBackend *b, const char *spec, const BackendConf *c, struct ev_loop *loop, char **why)
{
        AccessMap *m = xcalloc(1, sizeof(AccessMap));
        int r = split_spec(spec, &m->type, &m->path);

        m->slots[0] = m->slots[1] = (Slot){.m = m};
        if (r == 0)
                r = mapwriter_new(&m->slots[0].mw, loop, m->type, m->path, c->postmap, c->postmap_timeout_ms,
                                  c->debounce_ms, &map_ops, &m->slots[0]);
        if (r < 0) {
                *why = xasprintf("%s: %s", m->path ? m->path : spec, strerror(-r));
                free(m->type);
                free(m->path);
                free(m);
                return r;
        }
        m->b = b;
        m->loop = loop;
        ev_stat_init(&m->stat, stat_cb, m->path, 0.);
        m->stat.data = m;
        ev_stat_start(loop, &m->stat);
        ev_idle_init(&m->reap, reap_cb);
        m->reap.data = m;
        backend_set_data(b, m);
        return 0;
}

static void am_close(BanBackend *b)
{
        AccessMap *m = backend_data(b);

        ev_stat_stop(m->loop, &m->stat);
        ev_idle_stop(m->loop, &m->reap);
        mapwriter_free(m->slots[0].mw);
        mapwriter_free(m->slots[1].mw);
        free(m->type);
        free(m->path);
        free(m);
}

static bool same_place(const AccessMap *m, const char *type, const char *path)
{
        return streq(type, m->type) && streq(path, m->path);
}

static int am_check(const BanBackend *b, const char *spec, char **why)
{
        AccessMap *m = backend_data(b);
        _cleanup_free_ char *type = NULL, *path = NULL;
        int r = split_spec(spec, &type, &path);

        if (r < 0) {
                *why = xasprintf("access_map: %s: %s", spec, strerror(-r));
                return r;
        }
        if (!same_place(m, type, path) && OLD(m)) {
                *why = xasprintf("access_map: our block is still being removed from %s; reload again when "
                                 "that is done",
                                 mapwriter_path(OLD(m)));
                return -EBUSY;
        }
        return 0;
}

static int am_configure(BanBackend *b, const char *spec, const BackendConf *c)
{
        AccessMap *m = backend_data(b);
        _cleanup_free_ char *type = NULL, *path = NULL;
        MapWriter *moved = NULL;

        if (split_spec(spec, &type, &path) < 0)
                return -1; /* am_check() said so */
        if (same_place(m, type, path) || OLD(m)) {
                mapwriter_configure(CUR(m), m->type, m->path, c->postmap, c->postmap_timeout_ms,
                                    c->debounce_ms);
                return 0;
        }
        if (mapwriter_new(&moved, m->loop, type, path, c->postmap, c->postmap_timeout_ms, c->debounce_ms,
                          &map_ops, &m->slots[m->cur ^ 1]) < 0)
                return -1;
        /* The old map loses our block (one write, retried until it works);
           the new one gets the bans. */
        backend_note(b, LOG_NOTICE, "access_map: moving from %s:%s to %s:%s; our block leaves the old map",
                     m->type, m->path, type, path);
        m->old_given_up = false;
        m->slots[m->cur].retiring = true;
        mapwriter_configure(CUR(m), m->type, m->path, c->postmap, c->postmap_timeout_ms, c->debounce_ms);
        mapwriter_set_block(CUR(m), false);
        mapwriter_request_now(CUR(m));
        m->cur ^= 1;
        m->slots[m->cur] = (Slot){.m = m, .mw = moved, .retiring = false};
        mapwriter_configure(moved, type, path, c->postmap, c->postmap_timeout_ms, c->debounce_ms);
        free(m->type);
        free(m->path);
        m->type = TAKE_PTR(type);
        m->path = TAKE_PTR(path);
        watch(m);
        return 1;
}

static int am_retire(BanBackend *b, const char *state_key)
{
        AccessMap *m = backend_data(b);
        const BackendConf *c = backend_conf(b);
        _cleanup_free_ char *type = NULL, *path = NULL;
        int r;

        if (!strchr(state_key, ':'))
                return 0;
        r = split_spec(state_key, &type, &path);
        if (r < 0)
                return r;
        if (same_place(m, type, path) || OLD(m))
                return 0;
        if (access(path, F_OK) < 0)
                return 0; /* gone: nothing of ours is left there */
        r = mapwriter_new(&m->slots[m->cur ^ 1].mw, m->loop, type, path, c->postmap, c->postmap_timeout_ms,
                          c->debounce_ms, &map_ops, &m->slots[m->cur ^ 1]);
        if (r < 0)
                return r;
        m->slots[m->cur ^ 1].retiring = true;
        mapwriter_set_block(OLD(m), false);
        mapwriter_request_now(OLD(m));
        return 1;
}

static char *am_state_key(const BanBackend *b)
{
        AccessMap *m = backend_data(b);
        return xasprintf("%s:%s", m->type, m->path);
}

static int am_key(const BanBackend *b, const Addr *net, unsigned plen, char *key, size_t size)
{
        (void)b;
        return mapfile_key(net, plen, key, size);
}

static size_t am_reach(const BanBackend *b, const Addr *net, unsigned plen, const char *key, Cidr *out)
{
        (void)b;
        (void)plen;
        return mapfile_key_reach(net, key, out);
}

/*
 * The admin's lines that accept net/plen: looked up as smtpd would, with
 * our key for it; a network without a key of its own here (it goes into
 * the network map) by its network address.
 */
static const char *am_exempts(BanBackend *b, const Addr *net, unsigned plen, const char *key)
{
        AccessMap *m = backend_data(b);

        (void)plen;
        return adminkeys_exempts(mapwriter_admin_keys(CUR(m)), net, key);
}

static bool am_entry(BanBackend *b, const BackendBan *ban, const void *admin, const BackendConf *c, Buf *out)
{
        size_t n = strlen(ban->key);

        (void)b;
        /* The admin's own line for this key decides; never duplicate it. */
        if (adminkeys_has(admin, ban->key))
                return false;
        /* no printf: at 100,000 bans the formatting was most of a render */
        buf_append(out, ban->key, n);
        buf_append(out, " REJECT ", 8);
        buf_puts(out, c->reject_text);
        buf_append(out, "\n", 1);
        return true;
}

static void am_request(BanBackend *b, bool now)
{
        AccessMap *m = backend_data(b);

        if (backend_stopping(b)) {
                /* the last writes: only what is pending */
                if (mapwriter_busy(CUR(m)))
                        mapwriter_request_now(CUR(m));
                if (OLD(m) && !m->old_given_up) {
                        ev_idle_stop(m->loop, &m->reap); /* backends_stopped() looks at it */
                        if (mapwriter_busy(OLD(m)))
                                mapwriter_request_now(OLD(m));
                }
                return;
        }
        if (now)
                mapwriter_request_now(CUR(m));
        else
                mapwriter_request(CUR(m));
}

static void am_set_block(BanBackend *b, bool present)
{
        AccessMap *m = backend_data(b);
        mapwriter_set_block(CUR(m), present);
}

static bool am_busy(const BanBackend *b)
{
        AccessMap *m = backend_data(b);
        return mapwriter_busy(CUR(m));
}

static bool am_settled(const BanBackend *b)
{
        AccessMap *m = backend_data(b);
        return !OLD(m) || m->old_given_up || !mapwriter_busy(OLD(m));
}

/* The regex of smtpd's log line of a rejection by our map (see the top). */
#define LOGGED_ADDR_RE "(?:[^\"<>\\s]*|\"(?:[^\"\\\\]|\\\\.)*\"[^\"<>\\s]*)"

static char *am_own_reject(const BackendConf *c)
{
        Buf b = {0};

        buf_puts(&b, "^\\S+: reject: \\S+ from (?<client>[^[\\s]*\\[[^]]*\\](?::\\d+)?): \\d{3}"
                     "(?: \\d\\.\\d{1,3}\\.\\d{1,3})? <\\k<client>>: Client host rejected: ");
        for (const char *p = c->reject_text ? c->reject_text : ""; *p; p++) {
                if (!isalnum((unsigned char)*p))
                        buf_append(&b, "\\", 1);
                buf_append(&b, p, 1);
        }
        buf_puts(&b, "(?:; (?:from=<" LOGGED_ADDR_RE "> )?(?:to=<" LOGGED_ADDR_RE "> )?proto=[A-Z]+"
                     "(?: helo=<(?:[^>]|>(?!: | sasl_username=<))*>)?(?: sasl_username=<[^<>]*>)?)?$");
        return b.data;
}

static void am_status(BanBackend *b, const BackendCounts *counts, Buf *out)
{
        AccessMap *m = backend_data(b);
        const MapWriterStats *ms = mapwriter_stats(CUR(m));
        char t[64];

        (void)counts;
        buf_printf(out, "map: %s: %llu writes, %llu postmap failures, %llu unchanged, last write %s%s%s\n",
                   mapwriter_path(CUR(m)), (unsigned long long)ms->writes, (unsigned long long)ms->failures,
                   (unsigned long long)ms->skipped,
                   ms->last_write_ms ? format_time(ms->last_write_ms, t, sizeof(t)) : "never",
                   ms->last_error[0] ? ", last error: " : "", ms->last_error);
}

static void am_status_short(BanBackend *b, Buf *out)
{
        AccessMap *m = backend_data(b);
        const char *e = mapwriter_stats(CUR(m))->last_error;

        if (e[0])
                buf_printf(out, "; map not updated, retrying: %s", e);
}

static const char *am_problem(const BanBackend *b)
{
        AccessMap *m = backend_data(b);
        return mapwriter_stats(CUR(m))->last_error;
}

static const char *am_name(const BanBackend *b)
{
        AccessMap *m = backend_data(b);
        return mapwriter_path(CUR(m));
}

const BackendType backend_access_map = {
        .type = "access",
        .what = "map",
        .conf_key = "access_map",
        .flags = BACKEND_BLOCKS | BACKEND_SNAPSHOT | BACKEND_PRIMARY | BACKEND_CARRIER,
        .open = am_open,
        .close = am_close,
        .check = am_check,
        .configure = am_configure,
        .key = am_key,
        .reach = am_reach,
        .exempts = am_exempts,
        .entry = am_entry,
        .request = am_request,
        .set_block = am_set_block,
        .busy = am_busy,
        .settled = am_settled,
        .retire = am_retire,
        .own_reject = am_own_reject,
        .status = am_status,
        .status_short = am_status_short,
        .problem = am_problem,
        .name = am_name,
        .state_key = am_state_key,
};
