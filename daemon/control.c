/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * control: the unix socket of autoblacklistctl.
 *
 * Security: the socket is created mode 0600 (under umask 077, so there is
 * no window with a wider mode), and each connection's peer credentials are
 * checked: only root and the daemon's own user may talk to it.  Input is a
 * single line of at most CONTROL_LINE_MAX bytes; a longer one, a client
 * that stalls (CLIENT_TIMEOUT_S) or one that hangs up midway only ends
 * that connection.  Every socket is non-blocking and every wait goes
 * through the loop, so no client can hold up the daemon.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"

#define CLIENT_TIMEOUT_S 10.0
#define PENDING_TIMEOUT_S 300.0 /* a map write can take a while with a big map */
#define MAX_CLIENTS 32

struct ControlClient {
        Control *c;
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
        const ControlOps *ops;
        void *ctx;
        ControlClient *clients;
        size_t n_clients;
};

static void client_free(ControlClient *cl)
{
        Control *c = cl->c;

        if (cl->pending && c->ops->gone)
                c->ops->gone(c->ctx, cl);
        ev_io_stop(c->loop, &cl->io);
        ev_timer_stop(c->loop, &cl->timer);
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

static void client_io(struct ev_loop *loop, ev_io *w, int revents);

/* Start sending cl->out, then close. */
static void start_reply(ControlClient *cl)
{
        Control *c = cl->c;

        cl->pending = false;
        ev_io_stop(c->loop, &cl->io);
        ev_io_set(&cl->io, cl->fd, EV_WRITE);
        ev_io_start(c->loop, &cl->io);
        ev_timer_stop(c->loop, &cl->timer);
        ev_timer_set(&cl->timer, CLIENT_TIMEOUT_S, 0.);
        ev_timer_start(c->loop, &cl->timer);
}

void control_reply(ControlClient *cl, bool ok, const char *text)
{
        buf_clear(&cl->out);
        if (ok) {
                buf_puts(&cl->out, "OK\n");
                buf_puts(&cl->out, text);
        } else
                buf_printf(&cl->out, "ERROR: %s\n", text);
        start_reply(cl);
}

static void handle_line(ControlClient *cl, char *line)
{
        Control *c = cl->c;
        char *argv[16];
        size_t argc;
        Buf payload = {0};
        ControlResult r;

        for (char *p = line; *p; p++)
                if ((unsigned char)*p < 0x20 && *p != '\t') {
                        control_reply(cl, false, "the command holds control characters");
                        return;
                }
        argc = split_words(line, " \t", argv, ELEMENTSOF(argv));
        if (argc == 0) {
                control_reply(cl, false, "empty command; try 'help'");
                return;
        }
        if (argc > ELEMENTSOF(argv)) {
                control_reply(cl, false, "too many words; try 'help'");
                return;
        }
        r = c->ops->command(c->ctx, cl, argv, argc, &payload);
        if (r == CONTROL_PENDING) {
                cl->pending = true;
                ev_io_stop(c->loop, &cl->io); /* nothing more to read */
                ev_timer_stop(c->loop, &cl->timer);
                ev_timer_set(&cl->timer, PENDING_TIMEOUT_S, 0.);
                ev_timer_start(c->loop, &cl->timer);
        } else {
                /* the payload is text lines; an error is one line */
                if (r == CONTROL_ERROR && payload.len && payload.data[payload.len - 1] == '\n')
                        payload.data[--payload.len] = '\0';
                control_reply(cl, r == CONTROL_OK, payload.data ? payload.data : "");
        }
        buf_free(&payload);
}

static void client_read(ControlClient *cl)
{
        char chunk[1024];
        ssize_t n = read(cl->fd, chunk, sizeof(chunk));
        char *nl;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                /* gone before sending a whole line */
                client_free(cl);
                return;
        }
        buf_append(&cl->in, chunk, (size_t)n);
        nl = memchr(cl->in.data, '\n', cl->in.len);
        if (!nl) {
                if (cl->in.len > CONTROL_LINE_MAX)
                        control_reply(cl, false, "command line too long");
                return;
        }
        *nl = '\0';
        if (nl > cl->in.data && nl[-1] == '\r')
                nl[-1] = '\0';
        if ((size_t)(nl - cl->in.data) > CONTROL_LINE_MAX) {
                control_reply(cl, false, "command line too long");
                return;
        }
        handle_line(cl, cl->in.data);
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
                control_reply(cl, false, "timed out waiting for the daemon");
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

int control_new(Control **out, struct ev_loop *loop, const char *path, const ControlOps *ops, void *ctx)
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
        ev_io_init(&c->io, accept_cb, fd, EV_READ);
        c->io.data = c;
        ev_io_start(loop, &c->io);
        *out = c;
        return 0;
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
