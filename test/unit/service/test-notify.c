/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * notify: what reaches a real AF_UNIX datagram socket named by
 * NOTIFY_SOCKET, through a real libev loop: the watchdog as
 * WATCHDOG_USEC/WATCHDOG_PID ask, and a burst of status changes that makes
 * one text per interval, not one per change.
 */
#include "check.h"
#include "service/notify.h"
#include "util/util.h"

#include <sys/socket.h>
#include <sys/un.h>

static int sock = -1;

/* Every datagram waiting on the socket, joined with '|'. */
static char *drain(void)
{
        _cleanup_buf_ Buf b = {0};
        char m[512];
        ssize_t r;

        buf_puts(&b, "");
        while ((r = recv(sock, m, sizeof(m) - 1, MSG_DONTWAIT)) >= 0) {
                m[r] = '\0';
                buf_printf(&b, "%s%s", b.len ? "|" : "", m);
        }
        return xstrdup(b.data);
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)w;
        (void)revents;
        ev_break(loop, EVBREAK_ONE);
}

/* Run the loop for s seconds. */
static void run_for(struct ev_loop *loop, double s)
{
        ev_timer t;

        ev_timer_init(&t, stop_cb, s, 0.);
        ev_timer_start(loop, &t);
        ev_run(loop, 0);
        ev_timer_stop(loop, &t);
}

static const struct {
        const char *usec, *pid; /* NULL: unset; "self": our pid */
        bool want_pings;
} watchdogs[] = {
        {"50000", NULL, true}, {"50000", "self", true}, {"50000", "1", false}, /* for another process */
        {"0", NULL, false},    {"junk", NULL, false},   {"-5", NULL, false},   {NULL, NULL, false},
};

typedef struct Texts {
        int calls;
        int value;
} Texts;

static char *make_text(void *ctx)
{
        Texts *t = ctx;

        t->calls++;
        return xasprintf("value %d", t->value);
}

int main(void)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct ev_loop *loop = ev_default_loop(0);
        char pid[32];

        check_mktemp();
        if (strlen(check_tmpdir) + sizeof("/notify") > sizeof(sa.sun_path))
                return 2;
        memcpy(sa.sun_path, check_tmpdir, strlen(check_tmpdir));
        memcpy(sa.sun_path + strlen(check_tmpdir), "/notify", sizeof("/notify"));
        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                perror("notify socket");
                return 1;
        }
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());

        for (size_t i = 0; i < ELEMENTSOF(watchdogs); i++) {
                Notify *n;
                _cleanup_free_ char *got = NULL;

                if (watchdogs[i].usec)
                        setenv("WATCHDOG_USEC", watchdogs[i].usec, 1);
                else
                        unsetenv("WATCHDOG_USEC");
                if (watchdogs[i].pid)
                        setenv("WATCHDOG_PID", streq(watchdogs[i].pid, "self") ? pid : watchdogs[i].pid, 1);
                else
                        unsetenv("WATCHDOG_PID");
                n = notify_new(loop);
                run_for(loop, 0.2);
                got = drain();
                CHECK(!!strstr(got, "WATCHDOG=1") == watchdogs[i].want_pings,
                      "WATCHDOG_USEC=%s WATCHDOG_PID=%s: got '%s', want %s", check_show(watchdogs[i].usec),
                      check_show(watchdogs[i].pid), got, watchdogs[i].want_pings ? "pings" : "none");
                notify_free(n);
        }
        unsetenv("WATCHDOG_USEC");
        unsetenv("WATCHDOG_PID");

        {
                Notify *n = notify_new(loop);
                Texts t = {0};
                _cleanup_free_ char *first = NULL, *later = NULL, *none = NULL;

                /* a burst: the first change is sent at once, the rest once, at the interval's end */
                for (t.value = 1; t.value <= 1000; t.value++)
                        notify_status_later(n, make_text, &t);
                t.value = 1000;
                first = drain();
                CHECK_STR(first, "STATUS=value 1", "the burst's first status");
                CHECK_INT(t.calls, 1, "texts made during the burst");
                run_for(loop, 2.5);
                later = drain();
                CHECK_STR(later, "STATUS=value 1000", "the burst's last status, at the interval's end");
                CHECK_INT(t.calls, 2, "texts made for a burst of 1000 changes");
                /* a change that leaves the text as it was sends nothing */
                notify_status_later(n, make_text, &t);
                run_for(loop, 2.5);
                none = drain();
                CHECK_STR(none, "", "an unchanged status");
                notify_free(n);
        }
        close(sock);
        return check_done();
}
