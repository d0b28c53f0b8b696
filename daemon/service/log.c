/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * log: messages to the journal (structured) or to stderr (plain lines).
 *
 * The journal target sends each message with sd_journal_sendv() (libsystemd
 * is loaded at the first one, util/sdlib.h; if it cannot be, the message
 * goes to stderr, as when the journal is gone): MESSAGE,
 * PRIORITY, SYSLOG_IDENTIFIER, and for blocker events MESSAGE_ID,
 * AUTOBLACKLIST_EVENT, AUTOBLACKLIST_ADDRESS, AUTOBLACKLIST_RULE and
 * AUTOBLACKLIST_EXPIRES, so that `journalctl AUTOBLACKLIST_ADDRESS=x` gives
 * the history of one address.  The message IDs are described in
 * systemd/postfix-autoblacklist.catalog.
 *
 * Security: hits and skipped lines are driven by remote clients, so an
 * attack could otherwise flood the journal.  Those kinds go through a token
 * bucket each; what is dropped is counted, and the next message that gets
 * through says how many were suppressed.  Bans, expiries and errors are
 * limited too, with more room, since they are what the admin needs.
 */
#include "service/log.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "util/panic.h"
#include "util/sdlib.h"

static LogTarget log_target = LOG_TARGET_STDERR;
int log_max_prio = LOG_INFO;
static bool log_debug_forced; /* -d */

static const struct {
        const char *name;
        const char *message_id;
        double burst; /* messages allowed at once */
        double rate;  /* messages per second refilled */
} events[_LOG_EVENT_MAX] = {
        [LOG_EVENT_NONE] = {"message", NULL, 200, 20},
        [LOG_EVENT_HIT] = {"hit", "1c98e678a8a84941b7e069292cf53aa8", 200, 50},
        [LOG_EVENT_BAN] = {"ban", "e175c49dc9c54f5ab6913e3c87600269", 1000, 200},
        [LOG_EVENT_UNBAN] = {"unban", "66f080c18e4f433d9226a569ddb6cc0c", 1000, 200},
        [LOG_EVENT_EXPIRE] = {"expire", "079b330b0c2649f7a375721e230f414a", 1000, 200},
        [LOG_EVENT_RELOAD] = {"reload", "cbb63e53d17f49c9963f20ee1367e2c4", 100, 10},
        [LOG_EVENT_RELOAD_REJECTED] = {"reload-rejected", "c52483218ed5411d98fcab2cb30150fc", 100, 10},
        [LOG_EVENT_ROTATE] = {"rotate", "303ba6a51ef845eebec37f57873882cd", 100, 10},
        [LOG_EVENT_MAP_WRITTEN] = {"map-written", "73c2277d7a37423f8ce3dd3fe628e773", 100, 10},
        [LOG_EVENT_POSTMAP_FAILED] = {"postmap-failed", "bf179e4621124395b70b584884e2a6a8", 100, 10},
        [LOG_EVENT_START] = {"start", "2e4a51c28e2c43d7b178f9f74162d3d4", 100, 10},
        [LOG_EVENT_STOP] = {"stop", "5a8d68c3c9bd4971ade604f5017ff96c", 100, 10},
        [LOG_EVENT_SKIPPED] = {"skipped", "4a9cb942c4ca430da42eb3626bc191d4", 20, 1},
        [LOG_EVENT_SPOOFED] = {"spoofed", "5c12d6d4d550416dbdc385966c17d1a9", 20, 1},
};

typedef struct Bucket {
        double tokens;
        int64_t last_ms;
        uint64_t dropped; /* since the last message that got through */
        bool init;
} Bucket;

static Bucket buckets[_LOG_EVENT_MAX];
static uint64_t dropped_total;
static int64_t (*log_clock)(void) = now_ms;

const char *log_event_name(LogEvent ev) { return events[ev].name; }
const char *log_event_message_id(LogEvent ev) { return events[ev].message_id; }
uint64_t log_dropped(void) { return dropped_total; }

void log_ratelimit_reset(int64_t (*clock)(void))
{
        memset(buckets, 0, sizeof(buckets));
        dropped_total = 0;
        log_clock = clock ? clock : now_ms;
}

int log_target_from_string(const char *s, LogTarget *out)
{
        if (streq(s, "auto"))
                *out = LOG_TARGET_AUTO;
        else if (streq(s, "journal"))
                *out = LOG_TARGET_JOURNAL;
        else if (streq(s, "stderr"))
                *out = LOG_TARGET_STDERR;
        else
                return -EINVAL;
        return 0;
}

const char *log_target_to_string(LogTarget t)
{
        switch (t) {
        case LOG_TARGET_AUTO:
                return "auto";
        case LOG_TARGET_JOURNAL:
                return "journal";
        case LOG_TARGET_STDERR:
                return "stderr";
        }
        return "?";
}

/* Is stderr the stream that systemd connected to the journal? */
static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static const char *const level_names[] = {
        [LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s, int *out)
{
        for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
                if (streq(s, level_names[i])) {
                        *out = i;
                        return 0;
                }
        return -EINVAL;
}

const char *log_level_to_string(int prio)
{
        return prio >= LOG_ERR && prio <= LOG_DEBUG ? level_names[prio] : "?";
}

static void log_panic(const char *msg);

void log_setup(LogTarget target, int max_prio)
{
        if (target == LOG_TARGET_AUTO)
                target = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
        log_target = target;
        log_set_max_priority(max_prio);
        panic_set_hook(log_panic);
}

LogTarget log_get_target(void) { return log_target; }
void log_set_max_priority(int prio) { log_max_prio = log_debug_forced ? LOG_DEBUG : prio; }

void log_force_debug(void)
{
        log_debug_forced = true;
        log_max_prio = LOG_DEBUG;
}

/* Token bucket: may a message of this kind go out now? */
static bool ratelimit_pass(LogEvent ev, int prio, uint64_t *suppressed)
{
        Bucket *b = &buckets[ev];
        int64_t now = log_clock();

        /* Errors about our own operation are never dropped. */
        if (prio <= LOG_ERR && ev == LOG_EVENT_NONE) {
                *suppressed = 0;
                return true;
        }
        if (!b->init) {
                b->tokens = events[ev].burst;
                b->last_ms = now;
                b->init = true;
        }
        if (now > b->last_ms) {
                b->tokens += (double)(now - b->last_ms) / 1000.0 * events[ev].rate;
                if (b->tokens > events[ev].burst)
                        b->tokens = events[ev].burst;
                b->last_ms = now;
        }
        if (b->tokens < 1.0) {
                b->dropped++;
                dropped_total++;
                return false;
        }
        b->tokens -= 1.0;
        *suppressed = b->dropped;
        b->dropped = 0;
        return true;
}

static const char *prio_prefix(int prio)
{
        switch (prio) {
        case LOG_EMERG:
        case LOG_ALERT:
                return "fatal: ";
        case LOG_CRIT:
                return "panic: "; /* only log_panic() uses it */
        case LOG_ERR:
                return "error: ";
        case LOG_WARNING:
                return "warning: ";
        case LOG_DEBUG:
                return "debug: ";
        default:
                return "";
        }
}

static void emit(LogEvent ev, int prio, const LogFields *f, const char *msg)
{
        if (log_target == LOG_TARGET_JOURNAL) {
                _cleanup_free_ char *m = xasprintf("MESSAGE=%s", msg);
                _cleanup_free_ char *p = xasprintf("PRIORITY=%d", prio);
                _cleanup_free_ char *id = NULL, *evf = NULL, *a = NULL, *r = NULL, *x = NULL;
                struct iovec iov[8];
                size_t n = 0;

                iov[n++] = (struct iovec){m, strlen(m)};
                iov[n++] = (struct iovec){p, strlen(p)};
                iov[n++] = (struct iovec){(char *)"SYSLOG_IDENTIFIER=autoblacklistd", 32};
                if (ev != LOG_EVENT_NONE) {
                        id = xasprintf("MESSAGE_ID=%s", events[ev].message_id);
                        evf = xasprintf("AUTOBLACKLIST_EVENT=%s", events[ev].name);
                        iov[n++] = (struct iovec){id, strlen(id)};
                        iov[n++] = (struct iovec){evf, strlen(evf)};
                }
                if (f && f->address) {
                        a = xasprintf("AUTOBLACKLIST_ADDRESS=%s", f->address);
                        iov[n++] = (struct iovec){a, strlen(a)};
                }
                if (f && f->rule) {
                        r = xasprintf("AUTOBLACKLIST_RULE=%s", f->rule);
                        iov[n++] = (struct iovec){r, strlen(r)};
                }
                if (f && f->expires_ms) {
                        char t[64];
                        if (f->expires_ms < 0)
                                x = xstrdup("AUTOBLACKLIST_EXPIRES=never");
                        else
                                x = xasprintf("AUTOBLACKLIST_EXPIRES=%s",
                                              format_time(f->expires_ms, t, sizeof(t)));
                        iov[n++] = (struct iovec){x, strlen(x)};
                }
                /* libsystemd is loaded at the first message (util/sdlib.h) */
                if (sdlib_load(NULL) == 0 && SD(sd_journal_sendv)(iov, (int)n) >= 0)
                        return;
                /* The journal is gone: fall back to stderr for this one. */
        }
        fprintf(stderr, "autoblacklistd: %s%s\n", prio_prefix(prio), msg);
        fflush(stderr);
}

/* A panic's message: never rate-limited; util/panic aborts when this returns. */
static void log_panic(const char *msg) { emit(LOG_EVENT_NONE, LOG_CRIT, NULL, msg); }

void log_event_emit(LogEvent ev, int prio, const LogFields *f, const char *fmt, ...)
{
        int saved_errno = errno;
        uint64_t suppressed = 0;
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (prio > log_max_prio)
                return;
        ASSERT((unsigned)ev < _LOG_EVENT_MAX);
        if (!ratelimit_pass(ev, prio, &suppressed))
                return;
        if (suppressed) {
                _cleanup_free_ char *s = xasprintf("%llu %s messages suppressed by the flood limiter",
                                                   (unsigned long long)suppressed, events[ev].name);
                emit(LOG_EVENT_NONE, LOG_WARNING, NULL, s);
        }
        errno = saved_errno; /* for %m */
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                oom();
        va_end(ap);
        emit(ev, prio, f, msg);
        errno = saved_errno;
}
