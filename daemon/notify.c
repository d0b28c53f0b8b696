/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * notify: sd_notify() for the daemon's lifecycle.
 *
 * The STATUS line changes with every ban; under attack that could be
 * thousands a second, so it is sent at most every STATUS_INTERVAL_S,
 * always the latest text.  The watchdog ping comes from an ev_timer in
 * the main loop, so it proves the loop is turning, not just that a thread
 * is alive.
 */
#include "notify.h"

#include <stdbool.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "util.h"

#define STATUS_INTERVAL_S 2.0

struct Notify {
        struct ev_loop *loop;
        ev_timer watchdog;
        ev_timer status_timer;
        char *pending; /* the status waiting for the rate limit */
        char *last;
        ev_tstamp last_sent;
};

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)w;
        (void)revents;
        sd_notify(0, "WATCHDOG=1");
}

static void send_status(Notify *n, const char *text)
{
        sd_notifyf(0, "STATUS=%s", text);
        free(n->last);
        n->last = xstrdup(text);
        n->last_sent = ev_now(n->loop);
}

static void status_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Notify *n = w->data;

        (void)loop;
        (void)revents;
        if (n->pending) {
                send_status(n, n->pending);
                n->pending = mfree(n->pending);
        }
}

Notify *notify_new(struct ev_loop *loop)
{
        Notify *n = xcalloc(1, sizeof(Notify));
        uint64_t usec = 0;

        n->loop = loop;
        ev_init(&n->status_timer, status_cb);
        n->status_timer.data = n;
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
                ev_timer_init(&n->watchdog, watchdog_cb, 0., (double)usec / 2e6);
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
        free(n->pending);
        free(n->last);
        free(n);
        return NULL;
}

void notify_ready(Notify *n, const char *status)
{
        if (status) {
                sd_notifyf(0, "READY=1\nSTATUS=%s", status);
                free(n->last);
                n->last = xstrdup(status);
                n->last_sent = ev_now(n->loop);
                n->pending = mfree(n->pending); /* older than this one */
        } else
                sd_notify(0, "READY=1");
}

void notify_reloading(Notify *n)
{
        struct timespec ts;

        (void)n;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
}

void notify_stopping(Notify *n)
{
        (void)n;
        sd_notify(0, "STOPPING=1");
}

void notify_status(Notify *n, const char *status)
{
        ev_tstamp now = ev_now(n->loop);

        if (n->last && streq(n->last, status)) {
                n->pending = mfree(n->pending);
                return;
        }
        if (now - n->last_sent >= STATUS_INTERVAL_S && !ev_is_active(&n->status_timer)) {
                send_status(n, status);
                return;
        }
        free(n->pending);
        n->pending = xstrdup(status);
        if (!ev_is_active(&n->status_timer)) {
                ev_timer_set(&n->status_timer, MAX(0.0, n->last_sent + STATUS_INTERVAL_S - now), 0.);
                ev_timer_start(n->loop, &n->status_timer);
        }
}
