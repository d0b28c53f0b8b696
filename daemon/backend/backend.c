/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * backend: the registry of backend types and the set of backends the
 * daemon runs (see backend.h).  The registry is the one list below; the
 * set is built from it in that order, which is also the order of
 * placement: the network map takes network bans before the access map is
 * asked.  The set keeps the generations (wanted, and per snapshot
 * backend the one it rendered and the one it wrote), the stop sequence
 * (each backend writes what is pending, once more if a change came while
 * it wrote) and the never-ban check over the backends' keys and admin
 * entries.  Pure bookkeeping: I/O is in the types' own files.
 */
#include "backend/backend.h"

#include <errno.h>
#include <stdarg.h>
#include <syslog.h>

extern const BackendType backend_network_map, backend_access_map, backend_auth_map, backend_fleet;

/* The registry: one line a type.  Order = placement order (see backend.h). */
static const BackendType *const registry[] = {
        &backend_network_map,
        &backend_access_map,
        &backend_auth_map,
        &backend_fleet,
};

struct BanBackend {
        const BackendType *type;
        Backends *set;
        void *data;
        uint64_t gen_rendering, gen_written;
        bool final; /* stopping: its last write is done */
};

struct Backends {
        BanBackend *v[ELEMENTSOF(registry)];
        size_t n;
        struct ev_loop *loop;
        const BackendHooks *hooks;
        void *ctx;
        BackendConf conf;
        char **conf_strings; /* what conf points to */
        uint64_t wanted;
        bool stopping;
};

size_t backend_types(const BackendType *const **out)
{
        *out = registry;
        return ELEMENTSOF(registry);
}

const BackendType *backend_type(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(registry); i++)
                if (streq(registry[i]->type, name))
                        return registry[i];
        return NULL;
}

const char *backend_conf_spec(const BackendConf *c, const char *type)
{
        for (size_t i = 0; i < c->n_specs; i++)
                if (streq(c->specs[i].type, type))
                        return c->specs[i].spec;
        return NULL;
}

void backend_conf_add(BackendConf *c, const char *type, const char *spec)
{
        if (!spec || c->n_specs >= BACKEND_SPECS_MAX)
                return;
        c->specs[c->n_specs].type = type;
        c->specs[c->n_specs].spec = spec;
        c->n_specs++;
}

/* A copy of c that owns its strings (the caller's config goes away at a reload). */
static void conf_copy(Backends *s, const BackendConf *c)
{
        size_t k = 0;

        strv_free(s->conf_strings);
        s->conf_strings = xcalloc(2 * BACKEND_SPECS_MAX + 3, sizeof(char *));
        strv_free(s->conf.postmap);
        s->conf = *c;
        for (size_t i = 0; i < c->n_specs; i++)
                s->conf.specs[i].spec = s->conf_strings[k++] = xstrdup(c->specs[i].spec);
        if (c->reject_text)
                s->conf.reject_text = s->conf_strings[k++] = xstrdup(c->reject_text);
        if (c->host_name)
                s->conf.host_name = s->conf_strings[k++] = xstrdup(c->host_name);
        s->conf.postmap = c->postmap ? strv_copy(c->postmap) : NULL;
}

static void close_one(BanBackend *b)
{
        if (!b)
                return;
        if (b->type->close)
                b->type->close(b);
        free(b);
}

int backends_new(Backends **out, struct ev_loop *loop, const BackendConf *c, const BackendHooks *hooks,
                 void *ctx, const BackendType **failed, char **why)
{
        Backends *s = xcalloc(1, sizeof(Backends));

        *why = NULL;
        s->loop = loop;
        s->hooks = hooks;
        s->ctx = ctx;
        conf_copy(s, c);
        for (size_t i = 0; i < ELEMENTSOF(registry); i++) {
                const BackendType *t = registry[i];
                const char *spec = backend_conf_spec(&s->conf, t->type);
                BanBackend *b;
                int r;

                if (!spec)
                        continue;
                b = xcalloc(1, sizeof(BanBackend));
                b->type = t;
                b->set = s;
                r = t->open ? t->open(b, spec, &s->conf, loop, why) : 0;
                if (r < 0) {
                        if (!*why)
                                *why = xasprintf("%s: %s", spec, strerror(-r));
                        if (failed)
                                *failed = t;
                        free(b);
                        backends_free(s);
                        return r;
                }
                s->v[s->n++] = b;
        }
        *out = s;
        return 0;
}

Backends *backends_free(Backends *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                close_one(s->v[i]);
        strv_free(s->conf_strings);
        strv_free(s->conf.postmap);
        free(s);
        return NULL;
}

int backends_check(const Backends *s, const BackendConf *c, char **why)
{
        *why = NULL;
        for (size_t i = 0; i < s->n; i++) {
                const BackendType *t = s->v[i]->type;
                const char *spec = backend_conf_spec(c, t->type);
                int r;
                if (spec && t->check && (r = t->check(s->v[i], spec, why)) < 0)
                        return r;
        }
        return 0;
}

bool backends_configure(Backends *s, const BackendConf *c)
{
        BanBackend *v[ELEMENTSOF(registry)];
        size_t n = 0;
        bool now = false;

        conf_copy(s, c);
        for (size_t i = 0; i < ELEMENTSOF(registry); i++) {
                const BackendType *t = registry[i];
                const char *spec = backend_conf_spec(&s->conf, t->type);
                BanBackend *b = NULL;
                size_t at = 0;
                _cleanup_free_ char *why = NULL;

                for (size_t k = 0; k < s->n; k++)
                        if (s->v[k] && s->v[k]->type == t) {
                                b = s->v[k];
                                at = k;
                        }
                if (b && !spec && (t->flags & BACKEND_LIVE)) {
                        if (t->remove)
                                t->remove(b); /* it takes its bans away with it */
                        close_one(b);
                        s->v[at] = NULL;
                        continue;
                }
                if (!b && spec && (t->flags & BACKEND_LIVE)) {
                        b = xcalloc(1, sizeof(BanBackend));
                        b->type = t;
                        b->set = s;
                        if (t->open && t->open(b, spec, &s->conf, s->loop, &why) < 0) {
                                if (s->hooks->note)
                                        s->hooks->note(s->ctx, NULL, LOG_ERR, why ? why : spec);
                                b = mfree(b);
                        }
                } else if (!b || !spec) {
                        /* on or off: only at a start */
                        if (t->conf_key && s->hooks->note) {
                                _cleanup_free_ char *m = xasprintf(
                                        "reload: a change of %s takes effect at the next start", t->conf_key);
                                s->hooks->note(s->ctx, b, LOG_WARNING, m);
                        }
                } else if (t->configure) {
                        int r = t->configure(b, spec, &s->conf);
                        if (r > 0)
                                now = true;
                        if (r < 0 && t->conf_key && s->hooks->note) {
                                _cleanup_free_ char *m = xasprintf(
                                        "reload: a change of %s takes effect at the next start", t->conf_key);
                                s->hooks->note(s->ctx, b, LOG_WARNING, m);
                        }
                }
                if (b)
                        v[n++] = b;
        }
        memcpy(s->v, v, n * sizeof(v[0]));
        s->n = n;
        return now;
}

size_t backends_count(const Backends *s)
{
        return s->n;
}
BanBackend *backends_get(const Backends *s, size_t i)
{
        return i < s->n ? s->v[i] : NULL;
}

BanBackend *backends_find(const Backends *s, unsigned flags)
{
        for (size_t i = 0; i < s->n; i++)
                if ((s->v[i]->type->flags & flags) == flags)
                        return s->v[i];
        return NULL;
}

static int key_of(const BanBackend *b, const Addr *net, unsigned plen, char *key, size_t size)
{
        if (!b->type->key)
                return BACKEND_PASS;
        return b->type->key(b, net, plen, key, size);
}

/* The blocking backend that holds net/plen, its key into key; NULL if none can. */
static BanBackend *holder(const Backends *s, const Addr *net, unsigned plen, char *key, size_t size)
{
        for (size_t i = 0; i < s->n; i++) {
                BanBackend *b = s->v[i];
                if ((b->type->flags & BACKEND_BLOCKS) && key_of(b, net, plen, key, size) == 0)
                        return b;
        }
        return NULL;
}

int backends_key(const Backends *s, const Addr *net, unsigned plen, char *key, size_t size)
{
        return holder(s, net, plen, key, size) ? 0 : -EDOM;
}

bool backends_can_hold(const Backends *s, const Addr *net, unsigned plen)
{
        char key[CIDR_STRLEN];

        return holder(s, net, plen, key, sizeof(key)) != NULL;
}

bool backends_holds(const Backends *s, const BanBackend *b, const Addr *net, unsigned plen, char *key,
                    size_t size)
{
        if (b->type->flags & BACKEND_BLOCKS)
                return holder(s, net, plen, key, size) == b;
        return key_of(b, net, plen, key, size) == 0;
}

size_t backends_reach(const Backends *s, const Addr *net, unsigned plen, Cidr out[2])
{
        char key[CIDR_STRLEN] = "";
        BanBackend *h = holder(s, net, plen, key, sizeof(key));
        size_t n = 1;

        out[0] = (Cidr){.net = *net, .plen = (uint8_t)plen, .v4 = addr_is_v4(net)};
        if (h && h->type->reach && key[0])
                n += h->type->reach(h, net, plen, key, &out[1]);
        return n;
}

const char *backends_admin_exempts(const Backends *s, const Addr *net, unsigned plen)
{
        char key[CIDR_STRLEN] = "";
        BanBackend *h = plen == addr_host_plen(net) ? NULL : holder(s, net, plen, key, sizeof(key));
        const char *why;

        for (size_t i = 0; i < s->n; i++) {
                BanBackend *b = s->v[i];
                if (b->type->exempts && (why = b->type->exempts(b, net, plen, b == h && key[0] ? key : NULL)))
                        return why;
        }
        return NULL;
}

const char *backends_exempts(const Backends *s, const Exempt *e, const Addr *net, unsigned plen)
{
        const char *why;

        if (plen == addr_host_plen(net))
                why = exempt_reason(e, net);
        else {
                Cidr nets[2];
                why = exempt_reason_nets(e, nets, backends_reach(s, net, plen, nets));
        }
        return why ? why : backends_admin_exempts(s, net, plen);
}

bool backends_exact(const Backends *s)
{
        return backends_find(s, BACKEND_EXACT) != NULL;
}
bool backends_shared(const Backends *s)
{
        return backends_find(s, BACKEND_SHARED) != NULL;
}

uint64_t backends_request(Backends *s, bool now)
{
        s->wanted++;
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->type->request)
                        s->v[i]->type->request(s->v[i], now);
        return s->wanted;
}

uint64_t backends_written(const Backends *s)
{
        uint64_t gen = s->wanted;

        for (size_t i = 0; i < s->n; i++)
                if ((s->v[i]->type->flags & BACKEND_SNAPSHOT) && s->v[i]->gen_written < gen)
                        gen = s->v[i]->gen_written;
        return gen;
}

void backends_set_block(Backends *s, bool present)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->type->set_block)
                        s->v[i]->type->set_block(s->v[i], present);
}

void backend_ban(BanBackend *b, const Addr *a, uint8_t plen, const char *rule, int64_t expires_ms,
                 uint32_t count)
{
        BackendBan ban = {
                .addr = *a, .plen = plen, .key = "", .rule = rule, .expires_ms = expires_ms, .count = count};

        if (b->type->ban)
                b->type->ban(b, &ban);
}

void backends_ban(Backends *s, const Addr *a, uint8_t plen, const char *rule, int64_t expires_ms,
                  uint32_t count)
{
        for (size_t i = 0; i < s->n; i++)
                backend_ban(s->v[i], a, plen, rule, expires_ms, count);
}

void backends_unban(Backends *s, const Addr *a, uint8_t plen)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->type->unban)
                        s->v[i]->type->unban(s->v[i], a, plen);
}

void backends_flush_shared(Backends *s)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->type->flush)
                        s->v[i]->type->flush(s->v[i]);
}

void backends_expired(Backends *s)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->type->expired)
                        s->v[i]->type->expired(s->v[i]);
}

int backends_retire(Backends *s, const char *state_key)
{
        for (size_t i = 0; state_key && i < s->n; i++)
                if (s->v[i]->type->retire)
                        return s->v[i]->type->retire(s->v[i], state_key);
        return 0;
}

char *backends_state_key(const Backends *s)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->type->state_key)
                        return s->v[i]->type->state_key(s->v[i]);
        return NULL;
}

static bool busy(const BanBackend *b)
{
        return b->type->busy && b->type->busy(b);
}

bool backends_stop(Backends *s)
{
        s->stopping = true;
        for (size_t i = 0; i < s->n; i++) {
                BanBackend *b = s->v[i];
                if (busy(b) || (b->type->settled && !b->type->settled(b)))
                        b->type->request(b, true); /* stopping: only what is pending */
                if (!busy(b))
                        b->final = true;
        }
        return backends_stopped(s);
}

bool backends_stopped(const Backends *s)
{
        for (size_t i = 0; i < s->n; i++)
                if (!s->v[i]->final || (s->v[i]->type->settled && !s->v[i]->type->settled(s->v[i])))
                        return false;
        return true;
}

void backends_status(const Backends *s, const BackendCounts *counts, Buf *out)
{
        for (size_t i = 0; i < ELEMENTSOF(registry); i++) {
                const BackendType *t = registry[i];
                BanBackend *b = NULL;

                for (size_t k = 0; k < s->n; k++)
                        if (s->v[k]->type == t)
                                b = s->v[k];
                if (b && t->status)
                        t->status(b, counts, out);
                else if (!b && (t->flags & BACKEND_SHARED))
                        buf_printf(out, "%s: off\n", t->what);
        }
}

void backends_status_short(const Backends *s, Buf *out)
{
        for (size_t i = 0; i < s->n; i++)
                if (s->v[i]->type->status_short)
                        s->v[i]->type->status_short(s->v[i], out);
}

const char *backend_problem(const BanBackend *b)
{
        return b && b->type->problem ? b->type->problem(b) : "";
}

const char *backends_problem(const Backends *s)
{
        return backend_problem(backends_find(s, BACKEND_PRIMARY));
}

const char *backend_name(const BanBackend *b)
{
        return b && b->type->name ? b->type->name(b) : b ? b->type->type : "";
}

const char *backends_primary_name(const Backends *s)
{
        return backend_name(backends_find(s, BACKEND_PRIMARY));
}

char *backends_own_reject(const BackendConf *c)
{
        for (size_t i = 0; i < ELEMENTSOF(registry); i++)
                if (registry[i]->own_reject)
                        return registry[i]->own_reject(c);
        return NULL;
}

/* --- for the types ----------------------------------------------------- */

const BackendType *backend_type_of(const BanBackend *b)
{
        return b->type;
}
void *backend_data(const BanBackend *b)
{
        return b->data;
}
void backend_set_data(BanBackend *b, void *data)
{
        b->data = data;
}
const BackendConf *backend_conf(const BanBackend *b)
{
        return &b->set->conf;
}
bool backend_stopping(const BanBackend *b)
{
        return b->set->stopping;
}

typedef struct Render {
        BanBackend *b;
        const void *admin;
        Buf *out;
        size_t entries;
} Render;

static void emit(void *ctx, const BackendBan *ban)
{
        Render *r = ctx;

        if (r->b->type->entry(r->b, ban, r->admin, &r->b->set->conf, r->out))
                r->entries++;
}

void backend_prepare(BanBackend *b)
{
        Backends *s = b->set;

        if (s->hooks->prepare)
                s->hooks->prepare(s->ctx, b);
        /* The render sees the bans as they are now (lifts it notes come after). */
        b->gen_rendering = s->wanted;
        /* The companions (the cidr: map) are written with the carrier, which carries their stamp. */
        if (b->type->flags & BACKEND_CARRIER)
                for (size_t i = 0; i < s->n; i++)
                        if (s->v[i]->type->flags & BACKEND_COMPANION)
                                s->v[i]->gen_rendering = s->v[i]->gen_written = s->wanted;
}

size_t backend_render(BanBackend *b, const void *admin, Buf *out, Buf *notes)
{
        Backends *s = b->set;
        Render r = {b, admin, out, 0};

        s->hooks->plan(s->ctx, b, emit, &r, notes);
        /* The companions (the cidr: map) are written before the carrier, which carries their stamp. */
        if (b->type->flags & BACKEND_CARRIER)
                for (size_t i = 0; i < s->n; i++) {
                        BanBackend *c = s->v[i];
                        Buf entries = {0};
                        Render cr = {c, NULL, &entries, 0};

                        if (!(c->type->flags & BACKEND_COMPANION))
                                continue;
                        s->hooks->plan(s->ctx, c, emit, &cr, notes);
                        c->type->publish(c, &entries, cr.entries, out);
                        buf_free(&entries);
                }
        return r.entries;
}

void backend_lift(BanBackend *b, const char *notes, size_t len)
{
        Backends *s = b->set;

        if (s->hooks->lift)
                s->hooks->lift(s->ctx, b, notes, len);
}

void backend_done(BanBackend *b, int result, size_t entries)
{
        Backends *s = b->set;

        if (result >= 0)
                b->gen_written = b->gen_rendering;
        if (s->stopping && !b->final) {
                /* Bans that came during the last write get one more, at once;
                   after a failure, stop anyway: the state file has the bans. */
                if (result >= 0 && busy(b))
                        b->type->request(b, true);
                else
                        b->final = true;
        }
        if (s->hooks->done)
                s->hooks->done(s->ctx, b, b->gen_written, result, entries);
}

void backend_progress(BanBackend *b)
{
        if (b->set->hooks->progress)
                b->set->hooks->progress(b->set->ctx, b);
}

void backend_writer_said(BanBackend *b, int priority, bool failed, const char *text)
{
        Backends *s = b->set;

        if (failed && s->hooks->write_failed)
                s->hooks->write_failed(s->ctx, b, text);
        else if (s->hooks->note)
                s->hooks->note(s->ctx, b, priority, text);
}

void backend_note(BanBackend *b, int priority, const char *fmt, ...)
{
        Backends *s = b->set;
        _cleanup_free_ char *text = NULL;
        va_list ap;

        if (!s->hooks->note)
                return;
        va_start(ap, fmt);
        if (vasprintf(&text, fmt, ap) < 0)
                oom();
        va_end(ap);
        s->hooks->note(s->ctx, b, priority, text);
}

void backend_admin_changed(BanBackend *b)
{
        if (b->set->hooks->admin_changed && !b->set->stopping)
                b->set->hooks->admin_changed(b->set->ctx, b);
}

bool backend_import(BanBackend *b, const BackendImport *ban)
{
        return b->set->hooks->imported && b->set->hooks->imported(b->set->ctx, b, ban);
}

void backend_import_done(BanBackend *b)
{
        if (b->set->hooks->import_done)
                b->set->hooks->import_done(b->set->ctx, b);
}

void backend_resync(BanBackend *b)
{
        if (b->set->hooks->resync)
                b->set->hooks->resync(b->set->ctx, b);
}
