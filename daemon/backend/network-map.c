/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * network-map: the cidr: table of network bans (network_map), for
 * smtpd's check_client_access cidr:PATH after the access map.  A cidr
 * table takes any prefix, so it holds every network ban when it is on
 * (first in the registry: placement asks it before the access map);
 * hosts stay in the access map, so that they are still banned if smtpd
 * was not pointed at this map.
 *
 * smtpd reads a cidr table only when a process starts and does not watch
 * it, so the access map carries a comment with this map's hash (it is a
 * BACKEND_COMPANION of the carrier): when the networks change, so does
 * the access map, and idle smtpd processes restart ("table ... has
 * changed") and read both.  This map is renamed into place before the
 * access map is built.  Given up (a reload without it, or with another
 * path), the old file is emptied, or its bans would never end.
 *
 * Security: the path comes from the config; the file is written whole
 * (write_file_atomic) and 0644, as smtpd opens it as root.  Nothing here
 * logs: a failure is a note for the service.
 */
#include "backend/backend.h"

#include <errno.h>
#include <inttypes.h>
#include <syslog.h>

typedef struct NetworkMap {
        char *path;
        char last_error[256];
} NetworkMap;

/* The network map at path with these entry lines (n of them); the hash of its text. */
static uint64_t write_map(BanBackend *b, NetworkMap *m, const char *path, const Buf *nets, size_t n)
{
        Buf text = {0};
        _cleanup_free_ char *old = NULL;
        size_t old_len = 0;
        uint64_t hash;
        int r;

        buf_printf(&text,
                   "# Network bans of postfix-autoblacklist (%zu), for smtpd's check_client_access "
                   "cidr:%s.\n# Written by autoblacklistd: do not edit, your changes are lost.\n",
                   n, path);
        if (nets && nets->len)
                buf_append(&text, nets->data, nets->len);
        hash = fnv1a(text.data, text.len);
        if (read_file(path, 1 << 26, &old, &old_len) == 0 && old_len == text.len &&
            memcmp(old, text.data, text.len) == 0)
                r = 0;
        else
                r = write_file_atomic(path, text.data, text.len, 0644); /* smtpd opens it as root */
        m->last_error[0] = '\0';
        if (r < 0) {
                snprintf(m->last_error, sizeof(m->last_error), "%s: %s", path, strerror(-r));
                backend_note(b, LOG_ERR,
                             "%s: cannot write the network map: %s; its %zu network bans are not in effect",
                             path, strerror(-r), n);
        }
        buf_free(&text);
        return hash;
}

static int nm_open(BanBackend *b, const char *spec, const BackendConf *c, struct ev_loop *loop, char **why)
{
        NetworkMap *m = xcalloc(1, sizeof(NetworkMap));

        (void)c;
        (void)loop;
        (void)why;
        m->path = xstrdup(spec);
        backend_set_data(b, m);
        return 0;
}

/* Given up: emptied, or its bans would never end. */
static void empty_old(BanBackend *b, NetworkMap *m)
{
        (void)write_map(b, m, m->path, NULL, 0);
        backend_note(b, LOG_INFO, "%s: no longer the network map; emptied", m->path);
}

static void nm_remove(BanBackend *b)
{
        empty_old(b, backend_data(b));
}

static void nm_close(BanBackend *b)
{
        NetworkMap *m = backend_data(b);

        free(m->path);
        free(m);
}

static int nm_configure(BanBackend *b, const char *spec, const BackendConf *c)
{
        NetworkMap *m = backend_data(b);

        (void)c;
        if (streq(spec, m->path))
                return 0;
        empty_old(b, m);
        free(m->path);
        m->path = xstrdup(spec);
        return 0;
}

static int nm_key(const BanBackend *b, const Addr *net, unsigned plen, char *key, size_t size)
{
        (void)b;
        if (plen == addr_host_plen(net))
                return BACKEND_PASS; /* hosts stay in the access map */
        if (size)
                key[0] = '\0'; /* a cidr table takes any prefix: no key */
        return 0;
}

static bool nm_entry(BanBackend *b, const BackendBan *ban, const void *admin, const BackendConf *c, Buf *out)
{
        Cidr net = {ban->addr, ban->plen, addr_is_v4(&ban->addr)};
        char text[CIDR_STRLEN];

        (void)b;
        (void)admin;
        buf_printf(out, "%s REJECT %s\n", cidr_format(&net, text), c->reject_text);
        return true;
}

static void nm_publish(BanBackend *b, const Buf *entries, size_t n, Buf *carrier)
{
        NetworkMap *m = backend_data(b);
        uint64_t hash = write_map(b, m, m->path, entries, n);

        buf_printf(carrier, "# %zu network %s in cidr:%s (%016" PRIx64 ")\n", n, n == 1 ? "ban" : "bans",
                   m->path, hash);
}

static const char *nm_problem(const BanBackend *b)
{
        NetworkMap *m = backend_data(b);
        return m->last_error;
}

static const char *nm_name(const BanBackend *b)
{
        NetworkMap *m = backend_data(b);
        return m->path;
}

const BackendType backend_network_map = {
        .type = "cidr",
        .what = "network map",
        .conf_key = "network_map",
        .flags = BACKEND_BLOCKS | BACKEND_COMPANION | BACKEND_LIVE,
        .open = nm_open,
        .close = nm_close,
        .remove = nm_remove,
        .configure = nm_configure,
        .key = nm_key,
        .entry = nm_entry,
        .publish = nm_publish,
        .problem = nm_problem,
        .name = nm_name,
};
