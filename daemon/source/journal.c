/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * journal: the journal source (see journal.h).
 *
 * One sd_journal handle on the local journal, no match filter (a prefix
 * of SYSLOG_IDENTIFIER such as "postfix-out/" cannot be expressed as a
 * journal match, and reading an entry we do not want costs little), its
 * inotify fd in an ev_io.  Each wake-up calls SD(sd_journal_process)() and
 * reads to the end in batches; a long catch-up yields to the loop between
 * batches (an ev_idle), so control commands and signals stay responsive.
 * Rotation, vacuuming and a restarted journald show as
 * SD_JOURNAL_INVALIDATE, after which sd_journal re-reads its file list and
 * reading simply goes on from the current entry.
 *
 * The position is the cursor of the last entry handed on (taken only when
 * asked for, since sd_journal_get_cursor allocates); on restart the entry
 * at the saved cursor is skipped, so nothing is read twice.
 *
 * At its end, the journal as a LogSource (journal_source_class): its
 * position is the cursor; refused entries and journald's drops are
 * reported for the service to log.
 *
 * Security: the message text is never trusted to say who wrote it; only
 * journald's own fields (_UID, _COMM, _EXE) are, in journal_trust().
 */
#include "source/journal.h"

#include <errno.h>
#include <poll.h>
#include <syslog.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-messages.h>
#include <time.h>

#include "source/source.h"
#include "util/sdlib.h"
#include "util/util.h"

#define BATCH 4096 /* entries per loop turn while catching up */

struct Journal {
        struct ev_loop *loop;
        sd_journal *j;
        ev_io io;
        ev_idle more;
        JournalTrust trust;
        const JournalOps *ops;
        void *ctx;
        char *start_cursor; /* skip the entry at it, and report it until one is read */
        bool read_one;      /* an entry was read since the start */
        JournalStats stats;
};

/* --- the trust check (pure) --------------------------------------------- */

/*
 * What _COMM holds for Postfix's and Dovecot's processes (the kernel keeps
 * 15 bytes of the program name).  Postfix: the daemons of master.cf and
 * the commands that log; Dovecot: the master, its log process (which
 * writes the other processes' lines to syslog), and the services.
 */
static const char *const mail_programs[] = {
        /* Postfix */
        "anvil",
        "bounce",
        "cleanup",
        "discard",
        "dnsblog",
        "error",
        "flush",
        "lmtp",
        "local",
        "master",
        "oqmgr",
        "pickup",
        "pipe",
        "postlogd",
        "postscreen",
        "proxymap",
        "qmgr",
        "qmqpd",
        "scache",
        "showq",
        "smtp",
        "smtpd",
        "spawn",
        "tlsmgr",
        "tlsproxy",
        "trivial-rewrite",
        "trivial-rewrit",
        "verify",
        "virtual",
        "postfix",
        "postfix-script",
        "postsuper",
        "postqueue",
        "postdrop",
        "sendmail",
        "postmulti",
        "postlog",
        /* Dovecot */
        "dovecot",
        "log",
        "auth",
        "auth-worker",
        "imap-login",
        "pop3-login",
        "submission-logi",
        "submission-login",
        "managesieve-log",
        "managesieve-login",
        "imap",
        "pop3",
        "lmtp",
        "submission",
        "managesieve",
        "config",
        "dict",
        "stats",
        "doveadm",
        "director",
        "indexer",
        "indexer-worker",
        "imap-urlauth",
        "quota-status",
        "lda",
        "dovecot-lda",
        "deliver",
};

bool journal_mail_program(const char *comm)
{
        for (size_t i = 0; i < ELEMENTSOF(mail_programs); i++)
                if (streq(comm, mail_programs[i]))
                        return true;
        return false;
}

bool journal_identifier_wanted(const JournalTrust *trust, const char *id, size_t len)
{
        for (char **p = trust->identifiers; p && *p; p++) {
                size_t n = strlen(*p);
                if (len < n || memcmp(id, *p, n) != 0)
                        continue;
                /* "postfix", "postfix/smtpd", "postfix-out/smtpd"; not "postfixadmin" */
                if (len == n || id[n] == '/' || id[n] == '-')
                        return true;
        }
        return false;
}

/*
 * Postfix's daemons: an identifier that ends in one of these names
 * ("postfix/smtpd", "postfix-out/submission/smtpd") is only ever written
 * by that program, whose _COMM (or _EXE) has the same name.  A trusted
 * sender with another name -- postlog(1) run by a root script,
 * "postlog -t postfix/smtpd ..." -- does not speak for it.  (postlog
 * writes the lines of postfix-script and the like, whose names are not
 * in this list.)
 */
static const char *const postfix_daemons[] = {
        "anvil",  "bounce",     "cleanup",  "discard", "dnsblog", "error", "flush",
        "lmtp",   "local",      "master",   "oqmgr",   "pickup",  "pipe",  "postlogd",
        "postscreen", "proxymap", "qmgr",   "qmqpd",   "scache",  "showq", "smtp",
        "smtpd",  "spawn",      "tlsmgr",   "tlsproxy", "trivial-rewrite", "verify", "virtual",
};

#define COMM_MAX 15 /* the kernel keeps 15 bytes of a program's name */

/* Does the sender's _COMM or _EXE name the Postfix daemon its identifier names? */
static bool names_its_daemon(const JournalFields *f)
{
        const char *last = strrchr(f->identifier, '/'), *base;
        bool daemon = false;

        if (!last)
                return true;
        last++;
        for (size_t i = 0; !daemon && i < ELEMENTSOF(postfix_daemons); i++)
                daemon = streq(last, postfix_daemons[i]);
        if (!daemon)
                return true;
        if (f->comm && strncmp(f->comm, last, COMM_MAX) == 0 &&
            strlen(f->comm) == MIN(strlen(last), (size_t)COMM_MAX))
                return true;
        base = f->exe ? strrchr(f->exe, '/') : NULL;
        return base && streq(base + 1, last);
}

static bool under_dir(const char *exe, const char *dir)
{
        size_t n = strlen(dir);

        while (n > 1 && dir[n - 1] == '/')
                n--;
        return strncmp(exe, dir, n) == 0 && exe[n] == '/' && !strstr(exe + n, "/../");
}

JournalVerdict journal_trust(const JournalTrust *trust, const JournalFields *f, const char **why)
{
        uint64_t uid;
        bool user = false, program = false;

        *why = NULL;
        if (!f->identifier || !journal_identifier_wanted(trust, f->identifier, strlen(f->identifier)))
                return JOURNAL_NOT_OURS;
        if (!f->uid || parse_uint(f->uid, UINT32_MAX, &uid) < 0) {
                *why = "journald recorded no sender (_UID)";
                return JOURNAL_SPOOFED;
        }
        user = uid == 0;
        for (size_t i = 0; !user && i < trust->n_uids; i++)
                user = (uid_t)uid == trust->uids[i];
        if (!user) {
                *why = "its sender (_UID) is not root or a mail user";
                return JOURNAL_SPOOFED;
        }
        if (f->comm && journal_mail_program(f->comm))
                program = true;
        for (char **d = trust->exe_dirs; !program && f->exe && d && *d; d++)
                program = under_dir(f->exe, *d);
        if (!program) {
                *why = "its program (_COMM, _EXE) is not one of Postfix's or Dovecot's";
                return JOURNAL_SPOOFED;
        }
        if (!names_its_daemon(f)) {
                *why = "its program (_COMM, _EXE) is not the Postfix daemon its identifier names";
                return JOURNAL_SPOOFED;
        }
        return JOURNAL_TRUSTED;
}

void journal_trust_clear(JournalTrust *t)
{
        free(t->uids);
        strv_free(t->exe_dirs);
        strv_free(t->identifiers);
        *t = (JournalTrust){0};
}

/* --- reading ------------------------------------------------------------ */

typedef struct Entry {
        JournalFields f;
        const char *msg;
        size_t msg_len;
        size_t id_len;
        const char *message_id, *transport, *n_dropped, *syslog_pid;
        /* NUL-terminated copies of the short fields */
        char buf[8][256];
} Entry;

/* The value of a "FIELD=value" datum, if it is field; len is its length. */
static const char *field(const void *data, size_t len, const char *name, size_t name_len, size_t *vlen)
{
        const char *d = data;

        if (len <= name_len || memcmp(d, name, name_len) != 0 || d[name_len] != '=')
                return NULL;
        *vlen = len - name_len - 1;
        return d + name_len + 1;
}

static const char *copy_short(char *dst, const char *v, size_t n)
{
        if (n >= 256)
                n = 255;
        memcpy(dst, v, n);
        dst[n] = '\0';
        return dst;
}

#define FIELD(name) field(data, len, name, sizeof(name) - 1, &vlen)

static void read_fields(sd_journal *j, Entry *e)
{
        const void *data;
        size_t len, vlen;
        const char *v;

        memset(&e->f, 0, sizeof(e->f));
        e->msg = e->message_id = e->transport = e->n_dropped = e->syslog_pid = NULL;
        e->msg_len = e->id_len = 0;
        /* SD_JOURNAL_FOREACH_DATA, through the loaded library */
        for (SD(sd_journal_restart_data)(j); SD(sd_journal_enumerate_available_data)(j, &data, &len) > 0;) {
                const char *d = data;
                switch (d[0]) {
                case 'M':
                        if ((v = FIELD("MESSAGE"))) {
                                e->msg = v;
                                e->msg_len = vlen;
                        } else if ((v = FIELD("MESSAGE_ID")))
                                e->message_id = copy_short(e->buf[5], v, vlen);
                        break;
                case 'S':
                        if ((v = FIELD("SYSLOG_IDENTIFIER"))) {
                                e->f.identifier = copy_short(e->buf[0], v, vlen);
                                e->id_len = strlen(e->f.identifier);
                        } else if ((v = FIELD("SYSLOG_PID")))
                                e->syslog_pid = copy_short(e->buf[7], v, vlen);
                        break;
                case 'N':
                        if ((v = FIELD("N_DROPPED")))
                                e->n_dropped = copy_short(e->buf[4], v, vlen);
                        break;
                case '_':
                        if ((v = FIELD("_UID")))
                                e->f.uid = copy_short(e->buf[1], v, vlen);
                        else if ((v = FIELD("_COMM")))
                                e->f.comm = copy_short(e->buf[2], v, vlen);
                        else if ((v = FIELD("_EXE")))
                                e->f.exe = copy_short(e->buf[3], v, vlen);
                        else if ((v = FIELD("_PID")))
                                e->f.pid = copy_short(e->buf[6], v, vlen);
                        else if ((v = FIELD("_TRANSPORT")))
                                e->transport =
                                        (vlen == 6 && memcmp(v, "driver", 6) == 0) ? "driver" : "other";
                        break;
                }
        }
}

static bool is_identifier(const JournalTrust *trust, const char *s, size_t n)
{
        for (char **p = trust->identifiers; p && *p; p++)
                if (strlen(*p) == n && memcmp(s, *p, n) == 0)
                        return true;
        return false;
}

/*
 * journald 252 writes LOG_MESSAGE("Suppressed %i messages from %s", n,
 * unit) (it rate-limits only processes in a unit).  Matching a substring
 * "postfix" of the message counted the daemon's own unit,
 * postfix-autoblacklist.service, and any postfix-policyd-... as lost mail
 * input; only the unit's own name counts.
 */
bool journal_suppressed_mail_unit(const JournalTrust *trust, const char *msg, size_t len)
{
        static const char from[] = " messages from ";
        const char *end = msg + len, *unit = NULL, *at, *dot;

        for (const char *p = msg; p + sizeof(from) - 1 <= end; p++)
                if (memcmp(p, from, sizeof(from) - 1) == 0) {
                        unit = p + sizeof(from) - 1;
                        break;
                }
        if (!unit || strncmp(msg, "Suppressed ", 11) != 0)
                return false;
        dot = memrchr(unit, '.', (size_t)(end - unit));
        if (!dot)
                dot = end;
        at = memchr(unit, '@', (size_t)(dot - unit));
        if (!at)
                return is_identifier(trust, unit, (size_t)(dot - unit));
        return is_identifier(trust, unit, (size_t)(at - unit)) || is_identifier(trust, at + 1, (size_t)(dot - at - 1));
}

/* journald's own "Suppressed N messages from UNIT" about a mail program's unit. */
static void check_suppressed(Journal *jr, Entry *e)
{
        uint64_t n = 0;
        _cleanup_free_ char *text = NULL;

        if (!e->message_id || !streq(e->message_id, SD_MESSAGE_JOURNAL_DROPPED_STR) || !e->transport ||
            !streq(e->transport, "driver") || !e->msg)
                return;
        if (!journal_suppressed_mail_unit(&jr->trust, e->msg, e->msg_len))
                return;
        text = xstrndup(e->msg, e->msg_len);
        if (!e->n_dropped || parse_uint(e->n_dropped, UINT32_MAX, &n) < 0)
                n = 1;
        jr->stats.suppressed += n;
        if (jr->ops->suppressed)
                jr->ops->suppressed(jr->ctx, n, text);
}

static void handle_entry(Journal *jr)
{
        Entry e;
        const char *why;
        uint64_t usec = 0, pid;
        JournalVerdict v;

        jr->stats.entries++;
        read_fields(jr->j, &e);
        if (!e.f.identifier) {
                check_suppressed(jr, &e);
                return;
        }
        v = journal_trust(&jr->trust, &e.f, &why);
        if (v == JOURNAL_NOT_OURS) {
                if (e.transport && streq(e.transport, "driver"))
                        check_suppressed(jr, &e);
                return;
        }
        if (v == JOURNAL_SPOOFED) {
                jr->stats.spoofed++;
                snprintf(jr->stats.last_spoofed, sizeof(jr->stats.last_spoofed),
                         "_UID=%.16s _COMM=%.16s _PID=%.16s", e.f.uid ? e.f.uid : "?",
                         e.f.comm ? e.f.comm : "?", e.f.pid ? e.f.pid : "?");
                if (jr->ops->spoofed)
                        jr->ops->spoofed(jr->ctx, &e.f, why);
                return;
        }
        if (!e.msg)
                return;
        (void)SD(sd_journal_get_realtime_usec)(jr->j, &usec);
        jr->stats.records++;
        /* The session key: journald's _PID (the kernel's word), else the program's SYSLOG_PID. */
        if (parse_uint(e.f.pid ? e.f.pid : e.syslog_pid ? e.syslog_pid : "", INT32_MAX, &pid) < 0)
                pid = 0;
        jr->ops->record(jr->ctx, &(LogRecord){.time_ms = (int64_t)(usec / 1000),
                                              .tag = e.f.identifier,
                                              .tag_len = e.id_len,
                                              .msg = e.msg,
                                              .msg_len = e.msg_len,
                                              .pid = (int32_t)pid});
}

/* Read up to max entries; returns true if there may be more. */
static bool read_batch(Journal *jr, size_t max)
{
        for (size_t i = 0; i < max; i++) {
                int r = SD(sd_journal_next)(jr->j);
                if (r <= 0)
                        return false;
                if (jr->start_cursor && !jr->read_one &&
                    SD(sd_journal_test_cursor)(jr->j, jr->start_cursor) > 0)
                        continue; /* read before the restart */
                jr->read_one = true;
                handle_entry(jr);
        }
        return true;
}

static void more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
        Journal *jr = w->data;

        (void)revents;
        if (!read_batch(jr, BATCH))
                ev_idle_stop(loop, w);
}

void journal_poll_now(Journal *jr)
{
        if (!read_batch(jr, BATCH) || !jr->loop)
                return;
        ev_idle_start(jr->loop, &jr->more);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        Journal *jr = w->data;
        int r;

        (void)loop;
        (void)revents;
        r = SD(sd_journal_process)(jr->j);
        if (r == SD_JOURNAL_NOP)
                return;
        journal_poll_now(jr);
}

int journal_new(Journal **out, struct ev_loop *loop, const JournalTrust *trust, const JournalOps *ops,
                void *ctx)
{
        Journal *jr;
        int r;

        r = sdlib_load(NULL);
        if (r < 0)
                return r;
        jr = xcalloc(1, sizeof(Journal));
        r = SD(sd_journal_open)(&jr->j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r < 0) {
                free(jr);
                return r;
        }
        jr->loop = loop;
        jr->ops = ops;
        jr->ctx = ctx;
        journal_set_trust(jr, trust);
        /* MESSAGE may be long; journald itself keeps at most 48 KiB a line by default */
        (void)SD(sd_journal_set_data_threshold)(jr->j, 65536);
        *out = jr;
        return 0;
}

void journal_set_trust(Journal *jr, const JournalTrust *trust)
{
        journal_trust_clear(&jr->trust);
        jr->trust.uids = xcalloc(trust->n_uids + 1, sizeof(uid_t));
        if (trust->n_uids)
                memcpy(jr->trust.uids, trust->uids, trust->n_uids * sizeof(uid_t));
        jr->trust.n_uids = trust->n_uids;
        jr->trust.exe_dirs = strv_copy(trust->exe_dirs);
        jr->trust.identifiers = strv_copy(trust->identifiers);
}

Journal *journal_free(Journal *jr)
{
        if (!jr)
                return NULL;
        if (jr->loop) {
                ev_io_stop(jr->loop, &jr->io);
                ev_idle_stop(jr->loop, &jr->more);
        }
        SD(sd_journal_close)(jr->j);
        journal_trust_clear(&jr->trust);
        free(jr->start_cursor);
        free(jr);
        return NULL;
}

int journal_start(Journal *jr, const char *cursor, uint64_t since_us)
{
        int r;

        if (cursor) {
                r = SD(sd_journal_seek_cursor)(jr->j, cursor);
                if (r < 0)
                        return r;
                jr->start_cursor = xstrdup(cursor);
        } else if (since_us) {
                r = SD(sd_journal_seek_realtime_usec)(jr->j, since_us);
                if (r < 0)
                        return r;
        } else {
                r = SD(sd_journal_seek_tail)(jr->j);
                if (r < 0)
                        return r;
                /* position on the last entry, so that next() gives only new ones */
                r = SD(sd_journal_previous)(jr->j);
                if (r < 0)
                        return r;
                if (r > 0) {
                        char *c = NULL;
                        if (SD(sd_journal_get_cursor)(jr->j, &c) >= 0) {
                                jr->start_cursor = xstrdup(c);
                                free(c);
                        }
                }
        }
        if (!jr->loop)
                return 0;
        r = SD(sd_journal_get_fd)(jr->j);
        if (r < 0)
                return r;
        ev_io_init(&jr->io, io_cb, r, EV_READ);
        jr->io.data = jr;
        ev_io_start(jr->loop, &jr->io);
        ev_idle_init(&jr->more, more_cb);
        jr->more.data = jr;
        journal_poll_now(jr);
        return 0;
}

int journal_read_all(Journal *jr)
{
        while (read_batch(jr, BATCH))
                ;
        return 0;
}

char *journal_cursor(Journal *jr)
{
        char *c = NULL;

        if (!jr->read_one)
                return jr->start_cursor ? xstrdup(jr->start_cursor) : NULL;
        if (SD(sd_journal_get_cursor)(jr->j, &c) < 0)
                return jr->start_cursor ? xstrdup(jr->start_cursor) : NULL;
        {
                char *copy = xstrdup(c);
                free(c);
                return copy;
        }
}

const JournalStats *journal_stats(const Journal *jr)
{
        return &jr->stats;
}

uint64_t journal_boot_start_us(void)
{
        struct timespec rt, bt;

        clock_gettime(CLOCK_REALTIME, &rt);
        clock_gettime(CLOCK_BOOTTIME, &bt);
        return (uint64_t)(rt.tv_sec - bt.tv_sec) * 1000000u + (uint64_t)((rt.tv_nsec - bt.tv_nsec) / 1000);
}

/* --- the journal as a LogSource ----------------------------------------- */

typedef struct JournalSource {
        LogSource base;
        Journal *j;
        uint64_t since_us;
} JournalSource;

static void js_record(void *ctx, const LogRecord *rec)
{
        JournalSource *js = ctx;

        js->base.counts.records++;
        js->base.ops->record(js->base.ctx, rec);
}

/* A refused entry: the service's flood limiter keeps a burst of them to a few lines. */
static void js_spoofed(void *ctx, const JournalFields *f, const char *why)
{
        source_report(ctx, LOG_WARNING, SOURCE_EVENT_SPOOFED,
                      "journal: refused an entry of %s (_UID=%s _COMM=%s _PID=%s): %s; it is not counted",
                      f->identifier, f->uid ? f->uid : "?", f->comm ? f->comm : "?", f->pid ? f->pid : "?", why);
}

static void js_suppressed(void *ctx, uint64_t n, const char *text)
{
        source_report(ctx, LOG_WARNING, SOURCE_EVENT_NONE,
                      "journal: journald dropped %llu messages of a mail program (\"%s\"): lost input; raise "
                      "RateLimitBurst (see README)",
                      (unsigned long long)n, text);
}

static const JournalOps js_ops = {js_record, js_spoofed, js_suppressed};

static int js_new(LogSource **out, struct ev_loop *loop, const SourceSettings *set, const LogSourceOps *ops,
                  void *ctx)
{
        JournalSource *js;
        int r;

        (void)ops;
        (void)ctx;
        if (!set->trust)
                return -EINVAL;
        js = xcalloc(1, sizeof(JournalSource));
        js->since_us = set->since_us;
        js->base.label = "journal";
        js->base.what = "the journal";
        r = journal_new(&js->j, loop, set->trust, &js_ops, js);
        if (r < 0) {
                free(js);
                return r;
        }
        *out = &js->base;
        return 0;
}

static void js_free(LogSource *s)
{
        JournalSource *js = (JournalSource *)s;

        journal_free(js->j);
        free(js);
}

static int js_start(LogSource *s, const char *position, bool from_beginning, char **why)
{
        JournalSource *js = (JournalSource *)s;

        (void)why; /* a cursor that is no longer in the journal: sd_journal seeks the nearest entry */
        return journal_start(js->j, position,
                             position || !from_beginning ? 0 : js->since_us ? js->since_us : journal_boot_start_us());
}

static void js_poll(LogSource *s) { journal_poll_now(((JournalSource *)s)->j); }
static int js_read_all(LogSource *s) { return journal_read_all(((JournalSource *)s)->j); }
static char *js_position(LogSource *s) { return journal_cursor(((JournalSource *)s)->j); }

static const char *js_problem(const LogSource *s)
{
        (void)s;
        return NULL;
}

static void js_status(const LogSource *s, Buf *out)
{
        const JournalStats *st = journal_stats(((const JournalSource *)s)->j);

        buf_printf(out, "journal: %llu entries read, %llu of mail programs, %llu refused as spoofed%s%s, "
                        "%llu lost (dropped by journald's rate limit)\n",
                   (unsigned long long)st->entries, (unsigned long long)st->records,
                   (unsigned long long)st->spoofed, st->spoofed ? ", the last " : "", st->last_spoofed,
                   (unsigned long long)st->suppressed);
}

static void js_summary(const LogSource *s, Buf *out)
{
        const JournalStats *st = journal_stats(((const JournalSource *)s)->j);

        buf_printf(out, "%llu journal entries (%llu of mail programs, %llu refused as spoofed, %llu dropped by "
                        "journald)",
                   (unsigned long long)st->entries, (unsigned long long)st->records,
                   (unsigned long long)st->spoofed, (unsigned long long)st->suppressed);
}

static void js_configure(LogSource *s, const SourceSettings *set)
{
        if (set->trust)
                journal_set_trust(((JournalSource *)s)->j, set->trust);
}

const LogSourceClass journal_source_class = {
        .kind = "journal",
        .create = js_new,
        .start = js_start,
        .poll = js_poll,
        .read_all = js_read_all,
        .position = js_position,
        .problem = js_problem,
        .status = js_status,
        .summary = js_summary,
        .configure = js_configure,
        .free = js_free,
};
