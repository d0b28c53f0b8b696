/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * control: the unix socket of autoblacklistctl.
 *
 * Security: the socket is created mode 0600 (under umask 077, so there is
 * no window with a wider mode), and each connection's peer credentials are
 * checked: only root and the daemon's own user may talk to it.  Input is a
 * single line of at most CONTROL_LINE_MAX bytes; a longer one, a client
 * that stalls (CLIENT_TIMEOUT_S) or one that hangs up midway only ends
 * that connection.  A request whose answer comes later is known to the
 * daemon by its id alone (never by a pointer to the client), so a client
 * that timed out or went away cannot be written through: its late answer
 * finds no id and is dropped.  Every socket is non-blocking and every wait goes
 * through the loop, so no client can hold up the daemon.
 */
#include "service/control.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "service/log.h"

#define CLIENT_TIMEOUT_S 10.0
#define MAX_CLIENTS 32

typedef struct ControlClient ControlClient;

struct ControlClient {
        Control *c;
        uint64_t id; /* the request's id; the only name the handler knows it by */
        int fd;
        ev_io io;
        ev_timer timer;
        Buf in;
        Buf out;
        size_t sent;
        bool pending;
        ControlClient *next;
};

struct Control {
        struct ev_loop *loop;
        char *path;
        int fd;
        ev_io io;
        double pending_timeout_s;
        const ControlOps *ops;
        void *ctx;
        ControlClient *clients;
        size_t n_clients;
        uint64_t next_id;
};

static void client_free(ControlClient *cl)
{
        Control *c = cl->c;

        ev_io_stop(c->loop, &cl->io);
        ev_timer_stop(c->loop, &cl->timer);
        /* A forked child of ours (a map render, a state save) may hold a
           copy of this descriptor until it exits; close() alone would leave
           the client waiting that long for the end of its answer. */
        (void)shutdown(cl->fd, SHUT_RDWR);
        close(cl->fd);
        buf_free(&cl->in);
        buf_free(&cl->out);
        for (ControlClient **p = &c->clients; *p; p = &(*p)->next)
                if (*p == cl) {
                        *p = cl->next;
                        break;
                }
        c->n_clients--;
        free(cl);
}

static ControlClient *client_by_id(Control *c, uint64_t id)
{
        for (ControlClient *cl = c->clients; cl; cl = cl->next)
                if (cl->id == id)
                        return cl;
        return NULL;
}

/* Put the answer in cl->out, start sending it, then close. */
static void start_reply(ControlClient *cl, bool ok, const char *text)
{
        Control *c = cl->c;

        buf_clear(&cl->out);
        if (ok) {
                buf_puts(&cl->out, "OK\n");
                buf_puts(&cl->out, text);
        } else
                buf_printf(&cl->out, "ERROR: %s\n", text);
        cl->pending = false;
        ev_io_stop(c->loop, &cl->io);
        ev_io_set(&cl->io, cl->fd, EV_WRITE);
        ev_io_start(c->loop, &cl->io);
        ev_timer_stop(c->loop, &cl->timer);
        ev_timer_set(&cl->timer, CLIENT_TIMEOUT_S, 0.);
        ev_timer_start(c->loop, &cl->timer);
}

bool control_reply(Control *c, uint64_t id, bool ok, const char *text)
{
        ControlClient *cl = client_by_id(c, id);

        if (!cl || !cl->pending)
                return false; /* it timed out or hung up: nobody to tell */
        start_reply(cl, ok, text);
        return true;
}

ControlResult control_handle_line(const ControlOps *ops, void *ctx, uint64_t id, char *line, size_t len,
                                  Buf *out)
{
        char *argv[16];
        size_t argc;

        if (len > CONTROL_LINE_MAX) {
                buf_puts(out, "command line too long");
                return CONTROL_ERROR;
        }
        /* A NUL would end the words early: "ban A\0B" must not ban A. */
        if (memchr(line, '\0', len)) {
                buf_puts(out, "the command holds a NUL byte");
                return CONTROL_ERROR;
        }
        for (size_t i = 0; i < len; i++)
                if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f) {
                        buf_puts(out, "the command holds control characters");
                        return CONTROL_ERROR;
                }
        argc = split_words(line, " \t", argv, ELEMENTSOF(argv));
        if (argc == 0) {
                buf_puts(out, "empty command; try 'help'");
                return CONTROL_ERROR;
        }
        if (argc > ELEMENTSOF(argv)) {
                buf_puts(out, "too many words; try 'help'");
                return CONTROL_ERROR;
        }
        return ops->command(ctx, id, argv, argc, out);
}

static void handle_line(ControlClient *cl, char *line, size_t len)
{
        Control *c = cl->c;
        Buf payload = {0};
        ControlResult r = control_handle_line(c->ops, c->ctx, cl->id, line, len, &payload);

        if (r == CONTROL_PENDING) {
                /* Keep reading, only to notice a hang-up; the timer bounds the wait. */
                cl->pending = true;
                ev_timer_stop(c->loop, &cl->timer);
                ev_timer_set(&cl->timer, c->pending_timeout_s, 0.);
                ev_timer_start(c->loop, &cl->timer);
        } else {
                /* the payload is text lines; an error is one line */
                if (r == CONTROL_ERROR && payload.len && payload.data[payload.len - 1] == '\n')
                        payload.data[--payload.len] = '\0';
                start_reply(cl, r == CONTROL_OK, payload.data ? payload.data : "");
        }
        buf_free(&payload);
}

static void client_read(ControlClient *cl)
{
        char chunk[1024];
        ssize_t n = read(cl->fd, chunk, sizeof(chunk));
        char *nl;
        size_t len;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n == 0 && cl->pending) {
                /* A half-close (`echo flush --yes | socat ...`): it still
                   reads.  A client that is really gone makes the reply fail. */
                ev_io_stop(cl->c->loop, &cl->io);
                return;
        }
        if (n <= 0) {
                /* gone before it had its answer: drop it, and with it its id */
                client_free(cl);
                return;
        }
        if (cl->pending)
                return; /* one command a connection; anything after it is ignored */
        buf_append(&cl->in, chunk, (size_t)n);
        nl = memchr(cl->in.data, '\n', cl->in.len);
        if (!nl) {
                if (cl->in.len > CONTROL_LINE_MAX)
                        start_reply(cl, false, "command line too long");
                return;
        }
        len = (size_t)(nl - cl->in.data);
        if (len && nl[-1] == '\r')
                len--;
        cl->in.data[len] = '\0';
        handle_line(cl, cl->in.data, len);
}

static void client_write(ControlClient *cl)
{
        while (cl->sent < cl->out.len) {
                ssize_t n = send(cl->fd, cl->out.data + cl->sent, cl->out.len - cl->sent, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        break; /* the client went away: nothing to do */
                }
                cl->sent += (size_t)n;
        }
        client_free(cl);
}

static void client_io(struct ev_loop *loop, ev_io *w, int revents)
{
        ControlClient *cl = w->data;

        (void)loop;
        if (revents & EV_READ)
                client_read(cl);
        else if (revents & EV_WRITE)
                client_write(cl);
}

static void client_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
        ControlClient *cl = w->data;

        (void)loop;
        (void)revents;
        if (cl->pending) {
                /* Its id dies with it: the handler's late answer is dropped. */
                start_reply(cl, false, "timed out waiting for the daemon");
                return;
        }
        client_free(cl);
}

/* Only root and our own user may use the socket. */
static bool peer_allowed(int fd)
{
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return false;
        return cred.uid == 0 || cred.uid == geteuid();
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        Control *c = w->data;
        ControlClient *cl;
        int fd;

        (void)revents;
        fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
                return;
        if (c->n_clients >= MAX_CLIENTS || !peer_allowed(fd)) {
                static const char busy[] = "ERROR: too many clients\n", denied[] = "ERROR: permission denied\n";
                bool full = c->n_clients >= MAX_CLIENTS;
                (void)!send(fd, full ? busy : denied, full ? sizeof(busy) - 1 : sizeof(denied) - 1,
                            MSG_NOSIGNAL | MSG_DONTWAIT);
                close(fd);
                return;
        }
        cl = xcalloc(1, sizeof(ControlClient));
        cl->c = c;
        cl->id = ++c->next_id;
        cl->fd = fd;
        ev_io_init(&cl->io, client_io, fd, EV_READ);
        cl->io.data = cl;
        ev_timer_init(&cl->timer, client_timeout, CLIENT_TIMEOUT_S, 0.);
        cl->timer.data = cl;
        ev_io_start(loop, &cl->io);
        ev_timer_start(loop, &cl->timer);
        cl->next = c->clients;
        c->clients = cl;
        c->n_clients++;
}

int control_new(Control **out, struct ev_loop *loop, const char *path, uint64_t pending_timeout_ms,
                const ControlOps *ops, void *ctx)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;
        Control *c;
        mode_t old_umask;
        int fd, r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        /* A socket left by a previous run goes; anything else at the path stays. */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                (void)unlink(path);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        old_umask = umask(077);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old_umask);
        if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        c = xcalloc(1, sizeof(Control));
        c->loop = loop;
        c->path = xstrdup(path);
        c->fd = fd;
        c->ops = ops;
        c->ctx = ctx;
        control_set_pending_timeout(c, pending_timeout_ms);
        ev_io_init(&c->io, accept_cb, fd, EV_READ);
        c->io.data = c;
        ev_io_start(loop, &c->io);
        *out = c;
        return 0;
}

void control_set_pending_timeout(Control *c, uint64_t pending_timeout_ms)
{
        c->pending_timeout_s = (double)pending_timeout_ms / 1000.0;
}

Control *control_free(Control *c)
{
        if (!c)
                return NULL;
        while (c->clients)
                client_free(c->clients);
        ev_io_stop(c->loop, &c->io);
        close(c->fd);
        (void)unlink(c->path);
        free(c->path);
        free(c);
        return NULL;
}
