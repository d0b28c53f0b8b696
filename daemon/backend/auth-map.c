/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * auth-map: the backend of smtpd_discard_ehlo_keyword_address_maps, the
 * map that closes AUTH to banned clients: "ADDRESS silent-discard, auth"
 * for each banned host, so smtpd neither offers AUTH to it nor accepts
 * its AUTH command (503 5.5.1), even with smtpd_delay_reject = yes, where
 * the access map is only consulted at RCPT.
 *
 * smtpd looks this map up with the bare client address only (maps_find(
 * ..., state->addr), no network walk), so it holds hosts only, also those
 * under a network ban (BACKEND_EXACT: their hits still count, so that a
 * host that goes on failing is banned, and shut out of AUTH, on its own).
 * The admin's own line for an address in this map decides; its entries
 * exempt nothing (an OK in the access map does).
 *
 * Security: as the access map (access-map.c); nothing here logs.
 */
#include "backend/backend.h"

#include <errno.h>

#include "backend/mapfile.h"
#include "backend/mapwriter.h"

typedef struct AuthMap {
        BanBackend *b;
        char *type, *path;
        MapWriter *mw;
} AuthMap;

static void prepare(void *ctx)
{
        AuthMap *m = ctx;
        backend_prepare(m->b);
}

/* In the writer's child (a snapshot of the process). */
static size_t render(void *ctx, const AdminKeys *admin, Buf *out, Buf *notes)
{
        AuthMap *m = ctx;
        return backend_render(m->b, admin, out, notes);
}

static void lift(void *ctx, const char *notes, size_t len)
{
        AuthMap *m = ctx;
        backend_lift(m->b, notes, len);
}

static void done(void *ctx, int result, size_t entries)
{
        AuthMap *m = ctx;
        backend_done(m->b, result == MAPWRITER_UNCHANGED ? BACKEND_UNCHANGED : result, entries);
}

static void said(void *ctx, int priority, bool failed, const char *text)
{
        AuthMap *m = ctx;
        backend_writer_said(m->b, priority, failed, text);
}

static const MapWriterOps ops = {prepare, render, lift, done, said};

static int split_spec(const char *spec, char **type, char **path)
{
        const char *colon = strchr(spec, ':');

        if (!colon || !mapfile_suffix((*type = xstrndup(spec, (size_t)(colon - spec))))) {
                if (colon)
                        *type = mfree(*type);
                return -EINVAL;
        }
        *path = xstrdup(colon + 1);
        return 0;
}

static int au_open(BanBackend *b, const char *spec, const BackendConf *c, struct ev_loop *loop, char **why)
{
        AuthMap *m = xcalloc(1, sizeof(AuthMap));
        int r = split_spec(spec, &m->type, &m->path);

        if (r == 0)
                r = mapwriter_new(&m->mw, loop, m->type, m->path, c->postmap, c->postmap_timeout_ms,
                                  c->debounce_ms, &ops, m);
        if (r < 0) {
                *why = xasprintf("%s: %s", m->path ? m->path : spec, strerror(-r));
                free(m->type);
                free(m->path);
                free(m);
                return r;
        }
        m->b = b;
        backend_set_data(b, m);
        return 0;
}

static void au_close(BanBackend *b)
{
        AuthMap *m = backend_data(b);

        mapwriter_free(m->mw);
        free(m->type);
        free(m->path);
        free(m);
}

static int au_configure(BanBackend *b, const char *spec, const BackendConf *c)
{
        AuthMap *m = backend_data(b);
        _cleanup_free_ char *type = NULL, *path = NULL;

        if (split_spec(spec, &type, &path) < 0 || !streq(path, m->path))
                return -1; /* a move takes effect at the next start */
        mapwriter_configure(m->mw, type, path, c->postmap, c->postmap_timeout_ms, c->debounce_ms);
        free(m->type);
        m->type = TAKE_PTR(type);
        return 0;
}

static int au_key(const BanBackend *b, const Addr *net, unsigned plen, char *key, size_t size)
{
        (void)b;
        if (plen != addr_host_plen(net))
                return BACKEND_PASS; /* looked up by the exact address: no networks */
        return mapfile_key(net, plen, key, size);
}

static bool au_entry(BanBackend *b, const BackendBan *ban, const void *admin, const BackendConf *c, Buf *out)
{
        (void)b;
        (void)c;
        /* The admin's own line for this address in this map decides. */
        if (adminkeys_has(admin, ban->key))
                return false;
        buf_append(out, ban->key, strlen(ban->key));
        buf_append(out, " silent-discard, auth\n", 22);
        return true;
}

static void au_request(BanBackend *b, bool now)
{
        AuthMap *m = backend_data(b);

        if (backend_stopping(b) && !mapwriter_busy(m->mw))
                return;
        if (now)
                mapwriter_request_now(m->mw);
        else
                mapwriter_request(m->mw);
}

static void au_set_block(BanBackend *b, bool present)
{
        AuthMap *m = backend_data(b);
        mapwriter_set_block(m->mw, present);
}

static bool au_busy(const BanBackend *b)
{
        AuthMap *m = backend_data(b);
        return mapwriter_busy(m->mw);
}

static void au_status(BanBackend *b, const BackendCounts *counts, Buf *out)
{
        AuthMap *m = backend_data(b);
        const MapWriterStats *as = mapwriter_stats(m->mw);

        (void)counts;
        buf_printf(out, "auth map: %s: %llu writes, %llu postmap failures%s%s\n", mapwriter_path(m->mw),
                   (unsigned long long)as->writes, (unsigned long long)as->failures,
                   as->last_error[0] ? ", last error: " : "", as->last_error);
}

static void au_status_short(BanBackend *b, Buf *out)
{
        AuthMap *m = backend_data(b);
        const char *e = mapwriter_stats(m->mw)->last_error;

        if (e[0])
                buf_printf(out, "; auth map not updated, retrying: %s", e);
}

static const char *au_problem(const BanBackend *b)
{
        AuthMap *m = backend_data(b);
        return mapwriter_stats(m->mw)->last_error;
}

static const char *au_name(const BanBackend *b)
{
        AuthMap *m = backend_data(b);
        return mapwriter_path(m->mw);
}

const BackendType backend_auth_map = {
        .type = "auth",
        .what = "auth map",
        .conf_key = "auth_map",
        .flags = BACKEND_SNAPSHOT | BACKEND_EXACT,
        .open = au_open,
        .close = au_close,
        .configure = au_configure,
        .key = au_key,
        .entry = au_entry,
        .request = au_request,
        .set_block = au_set_block,
        .busy = au_busy,
        .status = au_status,
        .status_short = au_status_short,
        .problem = au_problem,
        .name = au_name,
};
