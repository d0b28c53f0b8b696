/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * saver: the state file (state.h) written by a forked child, so that the
 * loop never renders, writes or fsyncs a snapshot or a batch (see
 * saver.h for the rules; only the last save at a stop is written in the
 * process).
 *
 * What the loop does for a save: it takes the list of changed records
 * (O(changes)), notes which active bans the file does not hold yet, and
 * forks.  The child renders from its copy-on-write copy of the bans,
 * either the batch for the change log (an append and an fdatasync) or a
 * full snapshot (the first save after a start, after a failure, or once
 * the log has outgrown the snapshot), and reports in a fixed-size record.
 * At the end the loop marks the noted bans saved, unless they changed
 * since the fork (the next save holds their new form).
 *
 * Security and robustness: the child writes only the state file, and the
 * report is checked (its size, the child's exit); a child that dies or
 * hangs (killed at SAVE_TIMEOUT_MS) is a failed save.  A SIGKILL of the
 * daemon takes the child with it (PR_SET_PDEATHSIG): the snapshot is
 * written to a temporary file and renamed, a batch is appended whole or
 * is ignored by the loader, so what is on disk always loads.
 */
#include "service/saver.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "service/daemon-internal.h"
#include "service/log.h"
#include "service/state.h"
#include "util/child.h"
#include "util/util.h"

#define SAVE_LOG_MIN (1u << 20) /* a change log this small is never worth a snapshot */
#define SAVE_RETRY_MIN_S 1.0
#define SAVE_RETRY_MAX_S 60.0
#define SAVE_TIMEOUT_MS 300000 /* a state file on a hung disk */
#define SAVE_NICE 10

/* What the child tells: its result, and the file's new figures. */
typedef struct SaveReport {
        int32_t r;
        uint32_t pad;
        uint64_t snap_hash, snap_bytes, log_bytes;
} SaveReport;

struct Saver {
        Daemon *d;
        ChildRun *run;
        bool again; /* a save was asked for while one ran */
        /* The save under way (the child has its own copy of all this). */
        bool full;
        State head;       /* source, position and map: the records beside the bans */
        BanChange *batch; /* an append's changes */
        size_t n_batch;
        /* Active bans the state file does not hold yet: marked saved at the
           end of a save that holds them (kept over failed saves). */
        struct StateKey *unsaved;
        size_t n_unsaved, cap_unsaved;
};

static void fill_ban(Daemon *d, StateBan *sb, const Ban *b)
{
        sb->addr = b->addr;
        sb->plen = b->plen;
        snprintf(sb->rule, sizeof(sb->rule), "%s", names_get(d->names, b->rule));
        sb->active = b->active;
        sb->manual = b->manual;
        sb->count = b->count;
        sb->hits = b->hits;
        sb->first_hit_ms = b->first_hit_ms;
        sb->last_hit_ms = b->last_hit_ms;
        sb->banned_ms = b->banned_ms;
        sb->expires_ms = b->expires_ms;
        if (b->remote)
                snprintf(sb->origin, sizeof(sb->origin), "%s", names_get(d->names, b->origin));
}

static void save_done(void *ctx, const ChildResult *res);

Saver *saver_new(Daemon *d)
{
        Saver *s = xcalloc(1, sizeof(Saver));

        s->d = d;
        s->run = child_run_new(d->loop, save_done, s);
        d->save_backoff_s = SAVE_RETRY_MIN_S;
        return s;
}

static void forget_save(Saver *s)
{
        s->batch = mfree(s->batch);
        s->n_batch = 0;
        state_clear(&s->head);
}

Saver *saver_free(Saver *s)
{
        if (!s)
                return NULL;
        s->run = child_run_free(s->run);
        forget_save(s);
        free(s->unsaved);
        free(s);
        return NULL;
}

bool saver_busy(const Saver *s) { return s && child_run_busy(s->run); }

/*
 * On the loop: what the next save writes.  false if there is nothing
 * new (no change, the same position) for the change log.
 */
static bool plan_save(Saver *s)
{
        Daemon *d = s->d;
        BanChange *c = NULL;
        size_t n;

        forget_save(s);
        s->full = !d->snap_ok || d->log_bytes > MAX(d->snap_bytes, SAVE_LOG_MIN);
        s->head.position = source_position(d->source);
        if (s->head.position)
                s->head.source = xstrdup(source_kind(d->source));
        /* which map holds our block: a start with another access_map cleans it */
        s->head.map = backends_state_key(d->backends);
        n = policy_take_changes(d->policy, &c);
        if (!s->full && !n &&
            (d->saved_position && s->head.position ? streq(d->saved_position, s->head.position)
                                                   : d->saved_position == s->head.position)) {
                free(c);
                forget_save(s);
                d->bans_dirty = false;
                return false;
        }
        for (size_t i = 0; i < n; i++)
                if (c[i].ban && c[i].ban->active && !c[i].ban->in_state) {
                        GROW(s->unsaved, s->cap_unsaved, s->n_unsaved + 1);
                        s->unsaved[s->n_unsaved++] = (struct StateKey){c[i].addr, c[i].plen};
                }
        if (s->full)
                free(c); /* the snapshot holds them */
        else {
                s->batch = c;
                s->n_batch = n;
        }
        return true;
}

/* In the child (or at the stop, in the daemon): write what plan_save() chose. */
static void write_save(Saver *s, SaveReport *rep)
{
        Daemon *d = s->d;
        State st = {0};
        size_t bytes = 0;

        *rep = (SaveReport){0};
        st.source = s->head.source ? xstrdup(s->head.source) : NULL;
        st.position = s->head.position ? xstrdup(s->head.position) : NULL;
        st.map = s->head.map ? xstrdup(s->head.map) : NULL;
        if (s->full) {
                _cleanup_free_ const Ban **v = NULL;
                size_t n = policy_list(d->policy, false, &v);
                for (size_t i = 0; i < n; i++)
                        fill_ban(d, state_add_ban(&st), v[i]);
                rep->r = state_save_snapshot(d->cfg->state_file, &st, &rep->snap_hash, &bytes);
                rep->snap_bytes = bytes;
        } else {
                /* The Ban pointers hold: nothing changed since the take. */
                for (size_t i = 0; i < s->n_batch; i++) {
                        if (s->batch[i].ban)
                                fill_ban(d, state_add_ban(&st), s->batch[i].ban);
                        else
                                state_add_gone(&st, &s->batch[i].addr, s->batch[i].plen);
                }
                rep->r = state_append(d->cfg->state_file, d->snap_hash, &st, &bytes);
                rep->log_bytes = bytes;
        }
        state_clear(&st);
}

static int save_child(void *ctx, int fd)
{
        SaveReport rep;

        /* Behind the loop and smtpd for the CPU: it has seconds, they have not. */
        (void)setpriority(PRIO_PROCESS, 0, SAVE_NICE);
        write_save(ctx, &rep);
        return write_all(fd, &rep, sizeof(rep)) < 0 ? 1 : 0;
}

/* On the loop: the save ended (rep->r < 0: it failed). */
static int save_end(Saver *s, const SaveReport *rep, const char *why)
{
        Daemon *d = s->d;
        int r = rep->r;

        if (r < 0) {
                if (!s->full)
                        d->snap_ok = false; /* the log's tail is unknown: the retry writes it all */
                d->bans_dirty = true;
                snprintf(d->save_error, sizeof(d->save_error), "%s", why ? why : strerror(-r));
                /* Said once; the retries are quiet until one works. */
                if (!d->save_failing)
                        log_err("%s: cannot save the state: %s; new bans stay out of the map until it "
                                "is saved; retrying",
                                d->cfg->state_file, d->save_error);
                else
                        d->save_backoff_s = MIN(d->save_backoff_s * 2, SAVE_RETRY_MAX_S);
                d->save_failing = true;
                s->again = false;
                if (!d->stopping)
                        daemon_schedule_save(d, d->save_backoff_s);
                forget_save(s);
                daemon_map_after_save(d); /* lifts go out; the render holds the unsaved bans back */
                return r;
        }
        if (s->full) {
                d->snap_hash = rep->snap_hash;
                d->snap_bytes = (size_t)rep->snap_bytes;
                d->log_bytes = 0;
                d->snap_ok = true;
        } else
                d->log_bytes = (size_t)rep->log_bytes;
        /* A ban changed since the fork is saved as it is now by the next save. */
        for (size_t i = 0; i < s->n_unsaved; i++) {
                const Ban *b = policy_get(d->policy, &s->unsaved[i].addr, s->unsaved[i].plen);
                if (b && !b->changed)
                        policy_mark_saved(d->policy, b);
        }
        s->n_unsaved = 0;
        free(d->saved_position);
        d->saved_position = s->head.position;
        s->head.position = NULL;
        forget_save(s);
        if (d->save_failing) {
                d->save_failing = false;
                d->save_backoff_s = SAVE_RETRY_MIN_S;
                d->save_error[0] = '\0';
                log_notice("%s: the state is saved again; the bans held back go to the map", d->cfg->state_file);
                d->held_render = false;
                if (d->backends)
                        (void)daemon_map_request(d, false);
        } else if (d->held_render && !d->stopping) {
                /* A render ran while this save was under way: show what it held back. */
                d->held_render = false;
                (void)daemon_map_request(d, !d->bans_dirty);
        }
        /* The bans this save holds go to the map, unless newer ones wait for
           the next save (s->again), whose end asks for it. */
        if (!s->again)
                daemon_map_after_save(d);
        return 0;
}

static void save_done(void *ctx, const ChildResult *res)
{
        Saver *s = ctx;
        SaveReport rep = {.r = -EIO};
        char why[96] = "";

        if (res->timed_out)
                snprintf(why, sizeof(why), "the saving process took more than %us and was killed",
                         SAVE_TIMEOUT_MS / 1000);
        else if (WIFSIGNALED(res->status))
                snprintf(why, sizeof(why), "the saving process was killed by signal %d", WTERMSIG(res->status));
        else if (!WIFEXITED(res->status) || WEXITSTATUS(res->status) != 0 || res->out_len != sizeof(rep))
                snprintf(why, sizeof(why), "the saving process failed");
        else
                memcpy(&rep, res->out, sizeof(rep));
        (void)save_end(s, &rep, why[0] ? why : NULL);
        if (s->again && !s->d->stopping) {
                s->again = false;
                saver_start(s);
                if (!child_run_busy(s->run))
                        daemon_map_after_save(s->d); /* nothing new after all */
        }
}

static void launch(Saver *s)
{
        int r = child_run_fork(s->run, save_child, s, SAVE_TIMEOUT_MS, sizeof(SaveReport));

        if (r < 0) {
                char why[96];
                snprintf(why, sizeof(why), "cannot fork to save it: %s", strerror(-r));
                (void)save_end(s, &(SaveReport){.r = r}, why);
                return;
        }
        /* Everything so far is in this save; a change from now on needs another. */
        s->d->bans_dirty = false;
}

void saver_start(Saver *s)
{
        if (child_run_busy(s->run)) {
                s->again = true;
                return;
        }
        if (plan_save(s))
                launch(s);
}

int saver_save_sync(Saver *s)
{
        SaveReport rep;

        if (child_run_busy(s->run)) {
                /* Its batch may be cut short in the log: what follows writes it all. */
                child_run_stop(s->run);
                s->d->snap_ok = false;
                s->d->bans_dirty = true;
                forget_save(s);
        }
        if (!plan_save(s))
                return 0;
        write_save(s, &rep);
        return save_end(s, &rep, NULL);
}
