/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * notify: the sd_notify(3) protocol for the daemon's lifecycle.
 *
 * We speak the protocol ourselves (one AF_UNIX datagram a message to
 * $NOTIFY_SOCKET) instead of calling sd_notify(), because sd_notify()
 * blocks when the socket's queue is full, and a notify socket that nobody
 * reads (a broken manager, a test harness) must never stop the loop from
 * following the log, answering autoblacklistctl or handling SIGTERM.
 * Every send is non-blocking:
 *   - STATUS is coalesced: at most one every STATUS_INTERVAL_S, the
 *     latest text wins, and one that cannot be sent waits for the next try;
 *     a change told by notify_status_later() has its text made only when
 *     it is sent, so a ban per line costs no status line per line;
 *   - READY, RELOADING and STOPPING are never dropped: one that cannot be
 *     sent is queued, in order, and sent again from a timer; a warning
 *     says once that the socket is full, and another what was never sent;
 *   - WATCHDOG=1 that cannot be sent is dropped (the next one follows).
 * The watchdog ping comes from an ev_timer in the main loop, so it proves
 * the loop is turning, not just that a thread is alive.
 *
 * Security: $NOTIFY_SOCKET comes from our service manager (trusted); we
 * only send to it.
 */
#include "service/notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "service/log.h"
#include "util/util.h"

#define STATUS_INTERVAL_S 2.0
#define RETRY_S           0.5
#define QUEUE_MAX         16

struct Notify {
        struct ev_loop *loop;
        int fd; /* -1: no NOTIFY_SOCKET */
        struct sockaddr_un sa;
        socklen_t sa_len;
        ev_timer watchdog;
        ev_timer status_timer;
        ev_timer retry;
        char *pending;   /* the status waiting for the rate limit or for room */
        NotifyText text; /* notify_status_later(): makes the status when it is sent */
        void *text_ctx;
        bool stale; /* the status changed since pending was made (text makes the new one) */
        char *last;
        ev_tstamp last_sent;
        char *queue[QUEUE_MAX]; /* READY, RELOADING, STOPPING not sent yet, oldest first */
        size_t n_queue;
        bool said_full;
};

/* Send one datagram now; 0, -EAGAIN if the socket is full, or -errno. */
static int send_now(Notify *n, const char *msg)
{
        if (n->fd < 0)
                return 0;
        if (sendto(n->fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&n->sa,
                   n->sa_len) >= 0)
                return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return -EAGAIN;
        return -errno;
}

static void arm_retry(Notify *n)
{
        if (!ev_is_active(&n->retry)) {
                ev_timer_set(&n->retry, RETRY_S, RETRY_S);
                ev_timer_start(n->loop, &n->retry);
        }
}

static void say_full(Notify *n, const char *what)
{
        if (n->said_full)
                return;
        n->said_full = true;
        log_warn("%s: the notify socket is full (nobody reads it); %.*s is sent again until it fits",
                 n->sa.sun_path[0] ? n->sa.sun_path : "@notify", (int)strcspn(what, "\n"), what);
}

/* Send the queued lifecycle messages, oldest first; true if none is left. */
static bool flush_queue(Notify *n)
{
        size_t i = 0;

        for (; i < n->n_queue; i++)
                if (send_now(n, n->queue[i]) == -EAGAIN)
                        break;
                else
                        free(n->queue[i]);
        memmove(n->queue, n->queue + i, (n->n_queue - i) * sizeof(char *));
        n->n_queue -= i;
        return n->n_queue == 0;
}

/* A lifecycle message: sent in order after those queued before it, never dropped. */
static void send_lifecycle(Notify *n, char *msg)
{
        if (n->fd < 0) {
                free(msg);
                return;
        }
        if (flush_queue(n)) {
                int r = send_now(n, msg);
                if (r != -EAGAIN) {
                        free(msg);
                        return;
                }
        }
        say_full(n, msg);
        if (n->n_queue == QUEUE_MAX) {
                /* Only a reload storm to a dead socket gets here: keep the newest. */
                log_warn("notify: %.*s was never sent (the notify socket stays full)",
                         (int)strcspn(n->queue[0], "\n"), n->queue[0]);
                free(n->queue[0]);
                memmove(n->queue, n->queue + 1, (QUEUE_MAX - 1) * sizeof(char *));
                n->n_queue--;
        }
        n->queue[n->n_queue++] = msg;
        arm_retry(n);
}

static void send_status(Notify *n, const char *text)
{
        _cleanup_free_ char *msg = xasprintf("STATUS=%s", text);

        /* After the lifecycle messages queued before it, or it would overtake them. */
        if (!flush_queue(n) || send_now(n, msg) == -EAGAIN) {
                free(n->pending);
                n->pending = xstrdup(text);
                arm_retry(n);
                return;
        }
        free(n->last);
        n->last = xstrdup(text);
        n->last_sent = ev_now(n->loop);
}

/* A change told by notify_status_later() becomes the pending text now that it can be sent. */
static void make_pending(Notify *n)
{
        if (!n->stale)
                return;
        n->stale = false;
        free(n->pending);
        n->pending = n->text(n->text_ctx);
        if (n->last && streq(n->last, n->pending))
                n->pending = mfree(n->pending);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Notify *n = w->data;

        (void)revents;
        if (!flush_queue(n))
                return;
        if (!ev_is_active(&n->status_timer))
                make_pending(n);
        if (n->pending && !ev_is_active(&n->status_timer)) {
                _cleanup_free_ char *p = n->pending;
                n->pending = NULL;
                send_status(n, p);
                if (n->pending)
                        return;
        }
        ev_timer_stop(loop, w);
        if (n->said_full) {
                n->said_full = false;
                log_info("the notify socket takes messages again");
        }
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Notify *n = w->data;

        (void)loop;
        (void)revents;
        (void)send_now(n, "WATCHDOG=1"); /* a full socket: the next one may pass */
}

static void status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Notify *n = w->data;

        (void)loop;
        (void)revents;
        make_pending(n);
        if (n->pending) {
                _cleanup_free_ char *p = n->pending;
                n->pending = NULL;
                send_status(n, p);
        }
}

/* The socket of $NOTIFY_SOCKET: a path, or "@name" in the abstract namespace. */
static void open_socket(Notify *n)
{
        const char *e = getenv("NOTIFY_SOCKET");
        size_t len;

        n->fd = -1;
        if (!e || (e[0] != '/' && e[0] != '@'))
                return;
        len = strlen(e);
        if (len >= sizeof(n->sa.sun_path)) {
                log_warn("NOTIFY_SOCKET=%s: path too long; systemd is not told how we are", e);
                return;
        }
        n->sa.sun_family = AF_UNIX;
        memcpy(n->sa.sun_path, e, len);
        if (e[0] == '@')
                n->sa.sun_path[0] = '\0';
        n->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (e[0] == '@' ? 0 : 1));
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (n->fd < 0)
                log_warn("NOTIFY_SOCKET: socket: %m; systemd is not told how we are");
}

/* sd_watchdog_enabled(3)'s reading of the environment: WATCHDOG_USEC, for
   us if WATCHDOG_PID is unset or is our pid.  (Done here so that libsystemd
   is not loaded for it: util/sdlib.h.) */
static bool watchdog_usec(uint64_t *usec)
{
        const char *s = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
        char *end;
        unsigned long long v;

        if (!s || !*s)
                return false;
        if (p && *p) {
                unsigned long long pid;

                errno = 0;
                pid = strtoull(p, &end, 10);
                if (errno || *end || pid != (unsigned long long)getpid())
                        return false;
        }
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || s[0] == '-')
                return false;
        *usec = v;
        return true;
}

Notify *notify_new(struct ev_loop *loop)
{
        Notify *n = xcalloc(1, sizeof(Notify));
        uint64_t usec = 0;

        n->loop = loop;
        open_socket(n);
        ev_init(&n->status_timer, status_cb);
        n->status_timer.data = n;
        ev_init(&n->retry, retry_cb);
        n->retry.data = n;
        ev_init(&n->watchdog, watchdog_cb);
        n->watchdog.data = n;
        if (watchdog_usec(&usec) && usec > 0) {
                ev_timer_set(&n->watchdog, 0., (double)usec / 2e6);
                ev_timer_again(loop, &n->watchdog);
        }
        return n;
}

Notify *notify_free(Notify *n)
{
        if (!n)
                return NULL;
        ev_timer_stop(n->loop, &n->watchdog);
        ev_timer_stop(n->loop, &n->status_timer);
        ev_timer_stop(n->loop, &n->retry);
        /* A last try; what still does not fit is said, never dropped silently. */
        if (!flush_queue(n))
                for (size_t i = 0; i < n->n_queue; i++) {
                        log_warn("notify: %.*s was never sent (the notify socket stayed full)",
                                 (int)strcspn(n->queue[i], "\n"), n->queue[i]);
                        free(n->queue[i]);
                }
        if (n->fd >= 0)
                close(n->fd);
        free(n->pending);
        free(n->last);
        free(n);
        return NULL;
}

void notify_ready(Notify *n, const char *status)
{
        if (status) {
                send_lifecycle(n, xasprintf("READY=1\nSTATUS=%s", status));
                free(n->last);
                n->last = xstrdup(status);
                n->last_sent = ev_now(n->loop);
                n->pending = mfree(n->pending); /* older than this one */
                n->stale = false;
        } else
                send_lifecycle(n, xstrdup("READY=1"));
}

void notify_reloading(Notify *n)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        send_lifecycle(n, xasprintf("RELOADING=1\nMONOTONIC_USEC=%llu",
                                    (unsigned long long)ts.tv_sec * 1000000ULL +
                                            (unsigned long long)ts.tv_nsec / 1000));
}

void notify_stopping(Notify *n)
{
        send_lifecycle(n, xstrdup("STOPPING=1"));
}

void notify_status(Notify *n, const char *status)
{
        ev_tstamp now = ev_now(n->loop);

        if (n->fd < 0)
                return;
        n->stale = false; /* this text is newer */
        if (n->last && streq(n->last, status)) {
                n->pending = mfree(n->pending);
                return;
        }
        if (now - n->last_sent >= STATUS_INTERVAL_S && !ev_is_active(&n->status_timer) &&
            !ev_is_active(&n->retry)) {
                send_status(n, status);
                return;
        }
        free(n->pending);
        n->pending = xstrdup(status);
        if (!ev_is_active(&n->status_timer) && !ev_is_active(&n->retry)) {
                ev_timer_set(&n->status_timer, MAX(0.0, n->last_sent + STATUS_INTERVAL_S - now), 0.);
                ev_timer_start(n->loop, &n->status_timer);
        }
}

void notify_status_later(Notify *n, NotifyText text, void *ctx)
{
        ev_tstamp now = ev_now(n->loop);

        if (n->fd < 0)
                return;
        if (now - n->last_sent >= STATUS_INTERVAL_S && !ev_is_active(&n->status_timer) &&
            !ev_is_active(&n->retry)) {
                _cleanup_free_ char *status = text(ctx);
                notify_status(n, status);
                return;
        }
        /* Made when it can be sent: a burst of changes costs one text per interval. */
        n->text = text;
        n->text_ctx = ctx;
        n->stale = true;
        if (!ev_is_active(&n->status_timer) && !ev_is_active(&n->retry)) {
                ev_timer_set(&n->status_timer, MAX(0.0, n->last_sent + STATUS_INTERVAL_S - now), 0.);
                ev_timer_start(n->loop, &n->status_timer);
        }
}
