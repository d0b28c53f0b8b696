/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mapwriter: debounced, atomic rewrites of the access map with postmap,
 * with the loop never waiting for any of it.
 *
 * Postfix's DATABASE_README warns that postmap rebuilds an indexed file
 * in place, so a running smtpd could read it half-built.  We therefore
 * build the new text and database in a private folder made with mkdtemp
 * beside the map (same file system, so rename is atomic; mode 0700, so no
 * other user can plant a symlink at a name that root's postmap opens) and
 * rename both into place.  smtpd sees the old database or the new one.
 * Whatever postmap leaves behind (Berkeley DB's __db.* files after a full
 * disk, a half-built database after a kill) goes with the folder; folders
 * left by a crash are removed at the next start.
 *
 * The two renames cannot be one step.  The text goes first, then the
 * database: a crash between them leaves a new text beside the old
 * database, which is the state an admin's edit before `postmap` is in.
 * Postfix warns that the database is older than its source, and any
 * postmap of the text -- the admin's, or ours at the next start, where
 * the first write always runs postmap -- rebuilds it with nothing lost.
 * The other order would leave a new database beside the old text, which
 * no timestamp shows, and which an admin's postmap silently undoes.
 *
 * A write is three children in a row, each watched by the loop through
 * util/child's runner:
 *
 *   1. render: a fork of the daemon reads the map, renders it from the
 *      ban set as it stood at the fork, and writes the text into the
 *      private folder.  The fork is the snapshot: copy-on-write
 *      pages, so the loop goes on while a million bans are rendered
 *      (rendering, reading the map and writing 30 MB took the loop a
 *      second at that size).  Whatever the render wants done to the
 *      daemon (bans to lift) comes back as notes through the pipe; the
 *      state was saved by ops->prepare before the fork, so a ban reaches
 *      the map only once the state holds it.
 *   2. postmap on the text there, a program in a process group of its
 *      own that a timeout kills whole.
 *   3. final: a fork that gives both files the map's owner and mode,
 *      fsyncs them (a database of 50 MB takes a while; the text waits for
 *      it too, as postmap reads it from the page cache), and renames them
 *      into place.
 *
 * Step 2 is cheaper when few entries changed (a ban, an expiry) and the
 * map is the one our last write put in place (text and database, same
 * inode, size and mtime: the admin touched neither): the render copies
 * the database into the private folder beside the new text, mapdiff.c
 * gives the keys to delete and the lines to add, and postmap applies them
 * to the copy (`postmap -d -`, then `postmap -i`, each reading stdin)
 * instead of building it whole: a copy and a few entries instead of a
 * full build, 20 ms instead of 150 at 100,000 bans.  The live database is
 * never modified in place (smtpd may have it open); the copy is renamed
 * like a built one, so a kill at any moment leaves the same old-or-new
 * pair as a full build.  Anything else builds in full: the first write
 * (which repairs a pair a crash left out of step), an admin's edit or
 * postmap, cdb and lmdb maps, a change of more than a quarter of the
 * entries, a text that mapdiff cannot be sure of, and an update that
 * failed or said anything (then a full build follows in the same write).
 *
 * The debounce is a least interval between the starts of two writes, not
 * a delay: a request after a quiet spell (the last write started a
 * debounce or more ago) is written at once, so a lone offender is
 * refused within one write's time; the requests that follow within the
 * debounce gather into one write when it ends.  A request during a write
 * is written when it ends, or when the debounce counted from that request
 * ends, whichever comes later.  A flood thus costs one write per debounce,
 * as before, and the first ban of it is out a debounce sooner.
 *
 * Between 2 and 3 we check that the map text is still the file the render
 * read (inode, size, mtime), and that the database we copied is still the
 * one in place (an admin's postmap rewrites it in place).  If the admin edited it meanwhile, their edit
 * wins: we redo the write from the new text, so no admin line is lost.
 * Library code: nothing is logged here; ops->log gets each message and
 * the service layer logs it.
 *
 * Security: the map path and the postmap command come from the config
 * (trusted).  Files in the private folder are opened with O_NOFOLLOW,
 * owners and modes are set through those descriptors, and the clean-up
 * of old folders removes only folders of ours, through a descriptor.
 * The temporary text is ours (root's) while postmap runs, so that root's
 * postmap never drops its privileges to the map's owner; the owner is
 * set afterwards.  A report from a child is checked (magic, lengths)
 * before it is believed; a child that died without one fails the write.
 */
#include "backend/mapwriter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>

#include "backend/mapdiff.h"
#include "util/child.h"

#define RETRY_MIN_S 1.0
#define RETRY_MAX_S 60.0
#define MAX_REDO 5
#define OUTPUT_MAX 4096 /* bytes of postmap's output kept for the log */
#define TIMEOUT_PER 100000.0 /* entries that postmap_timeout is for */
#define FORK_TIMEOUT_MS 600000 /* a render or final child that hangs: a backstop */
#define REPORT_MAX ((size_t)1 << 30)
#define REPORT_MAGIC 0x4d575250u
#define TMP_TAG ".autoblacklist-tmp"
#define MAX_INC_FAILS 3 /* incremental updates failed in a row: build in full from then on */

typedef enum State {
        IDLE,
        DEBOUNCE,
        RUNNING,
        RETRY_WAIT,
} State;

/* The child of a write under way. */
typedef enum Phase {
        PHASE_NONE,
        PHASE_RENDER,
        PHASE_POSTMAP, /* a full build */
        PHASE_DELETE,  /* incremental: postmap -d - on the copy of the database */
        PHASE_ADD,     /* incremental: postmap -i on it */
        PHASE_FINAL,
} Phase;

/* Which step failed: with its errno or exit status, the key of an episode. */
typedef enum Step {
        STEP_READ = 1,
        STEP_SPLIT,
        STEP_TMPDIR,
        STEP_WRITE,
        STEP_SPAWN,
        STEP_EXIT,
        STEP_SIGNAL,
        STEP_TIMEOUT,
        STEP_OWNER,
        STEP_RENAME,
        STEP_BUSY,
        STEP_CHILD,
} Step;

typedef struct FileId {
        bool exists;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
} FileId;

/* The owner and mode that a file of the map gets. */
typedef struct Perm {
        uid_t uid;
        gid_t gid;
        mode_t mode;
} Perm;

/*
 * What a render or final child sends back, followed by error_len bytes
 * of error text, warn_len of a warning, notes_len of notes.
 */
typedef struct Report {
        uint32_t magic;
        int32_t result; /* 0, MAPWRITER_UNCHANGED, or -errno */
        int32_t step, code;
        uint64_t entries;
        uint64_t admin_hash; /* of the admin's part of the text that was read */
        FileId read_id;
        Perm text_perm, db_perm;
        bool owner_warned;
        bool incremental; /* the database was copied, with the changes below to apply */
        uint64_t n_dels, n_adds;
        FileId read_db;                                /* the database that was copied */
        uint32_t us_read, us_render, us_text, us_diff, us_copy; /* what the render took, for the log */
        uint64_t error_len, warn_len, notes_len;
} Report;

struct MapWriter {
        struct ev_loop *loop;
        char *type, *path, *db;
        const char *suffix;
        char *dir, *base; /* the map's folder, and its file name */
        char *tmpdir;     /* the private folder of this write, or NULL */
        char *tmp, *tmp_db;
        char **postmap;
        char *running; /* the program that runs now (postmap may be reconfigured) */
        double timeout_s, debounce_s;
        double run_timeout_s; /* the timeout of the run under way */
        const MapWriterOps *ops;
        void *ctx;

        State state;
        Phase phase;
        ChildRun *run;
        bool pending; /* a request came while a write was under way */
        bool pending_now;        /* ... by mapwriter_request_now */
        ev_tstamp pending_since; /* the first of them: its debounce counts from there */
        ev_tstamp last_start;    /* ev_now() when the last write started; 0: none yet */
        bool force;   /* run postmap even if the text says what we would write */
        bool swept;   /* old private folders removed */
        unsigned redo;
        double backoff_s;
        ev_timer timer; /* debounce, retry */
        FileId read_id;
        Perm text_perm, db_perm;
        size_t entries;
        uint64_t written_hash; /* admin_hash of the write under way */
        bool no_block; /* write the admin's text alone */

        /* Incremental updates: the files our last write put in place, as
           it put them (what the admin did not touch since), and how the
           write under way goes. */
        FileId placed_text, placed_db;
        FileId read_db;     /* the database the write under way copied */
        bool incremental;   /* the write under way applies changes to a copy */
        bool no_inc;        /* the next write builds in full */
        unsigned inc_fails; /* incremental updates that failed in a row */
        bool inc_fell_back; /* this write builds in full because an incremental one failed */
        char *tmp_dels, *tmp_adds;
        uint64_t n_dels, n_adds;
        bool todo_dels, todo_adds; /* the postmap runs still to come */
        /* Stage times of the write under way, for the log (seconds). */
        ev_tstamp t_start, t_phase;
        double t_render, t_postmap, t_final;
        uint32_t us_read, us_render, us_text, us_diff, us_copy;

        /* The failure episode: logged when it starts or its cause changes. */
        unsigned fail_key;
        uint64_t fail_count;
        bool owner_warned;

        AdminKeys *admin;
        FileId admin_id;
        FileId text_id; /* the text the final child renames into place, as it is */
        FileId db_id;   /* and the database */
        uint64_t admin_hash;     /* of the admin's part that admin was parsed from */
        uint64_t admin_gen;      /* counts the changes of the admin's part */
        ev_tstamp admin_checked; /* the loop time of the last look at the file */

        MapWriterStats stats;
};

static void start_write(MapWriter *mw);
static void arm(MapWriter *mw, State state, double after);
static void run_done(void *ctx, const ChildResult *res);

static void say(MapWriter *mw, int priority, bool failed, const char *fmt, ...) _printf_(4, 5);
static void say(MapWriter *mw, int priority, bool failed, const char *fmt, ...)
{
        _cleanup_free_ char *text = NULL;
        va_list ap;

        if (!mw->ops->log)
                return;
        va_start(ap, fmt);
        if (vasprintf(&text, fmt, ap) < 0)
                oom();
        va_end(ap);
        mw->ops->log(mw->ctx, priority, failed, text);
}

static FileId file_id(const char *path)
{
        struct stat st;
        FileId id = {0};

        if (stat(path, &st) < 0)
                return id;
        id.exists = true;
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        id.size = st.st_size;
        id.mtime = st.st_mtim;
        return id;
}


static bool same_file(const FileId *a, const FileId *b)
{
        if (a->exists != b->exists)
                return false;
        if (!a->exists)
                return true;
        return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
               a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}


/* The admin's part of a map text, hashed: did a write keep what we parsed? */
static uint64_t admin_hash(const MapText *mt)
{
        uint64_t h = fnv1a(mt->before, mt->before_len);

        return h ^ (fnv1a(mt->after, mt->after_len) * 31);
}

static void set_paths(MapWriter *mw, const char *type, const char *path)
{
        _cleanup_free_ char *d = xstrdup(path), *b = xstrdup(path);

        free(mw->type);
        free(mw->path);
        free(mw->db);
        free(mw->dir);
        free(mw->base);
        mw->type = xstrdup(type);
        mw->path = xstrdup(path);
        mw->suffix = mapfile_suffix(type);
        mw->db = xasprintf("%s%s", mw->path, mw->suffix);
        mw->dir = xstrdup(dirname(d));
        mw->base = xstrdup(basename(b));
        mw->swept = false;
        mw->force = true; /* a map we have not written yet: make its pair agree */
        mw->placed_text = mw->placed_db = (FileId){0};
}

static bool strv_equal(char **a, char **b)
{
        size_t i;

        for (i = 0; a[i] && b[i]; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return !a[i] && !b[i];
}


static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

int mapwriter_new(MapWriter **out, struct ev_loop *loop, const char *type, const char *path,
                  char **postmap_argv, uint64_t postmap_timeout_ms, uint64_t debounce_ms,
                  const MapWriterOps *ops, void *ctx)
{
        MapWriter *mw;

        if (!mapfile_suffix(type))
                return -EINVAL;
        mw = xcalloc(1, sizeof(MapWriter));
        mw->loop = loop;
        mw->ops = ops;
        mw->ctx = ctx;
        mw->backoff_s = RETRY_MIN_S;
        set_paths(mw, type, path);
        mw->postmap = strv_copy(postmap_argv);
        mw->timeout_s = (double)postmap_timeout_ms / 1000.0;
        mw->debounce_s = (double)debounce_ms / 1000.0;
        mw->run = child_run_new(loop, run_done, mw);
        ev_init(&mw->timer, timer_cb);
        mw->timer.data = mw;
        *out = mw;
        return 0;
}

/*
 * Remove the private folder name in the folder dfd, and what is in it.
 * Only a folder of ours (owner and mode as mkdtemp made it), and only
 * through descriptors, so that a folder or symlink someone else planted
 * under a matching name makes us remove nothing of theirs.
 */
static int remove_private_dir(int dfd, const char *name)
{
        struct stat st;
        struct dirent *e;
        DIR *dir;
        int fd, r = 0;

        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
                close(fd);
                return -EPERM;
        }
        dir = fdopendir(fd);
        if (!dir) {
                r = -errno;
                close(fd);
                return r;
        }
        while ((e = readdir(dir)))
                if (!streq(e->d_name, ".") && !streq(e->d_name, "..") && unlinkat(fd, e->d_name, 0) < 0)
                        r = -errno;
        closedir(dir);
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && r == 0)
                r = -errno;
        return r;
}

static void cleanup_tmp(MapWriter *mw)
{
        _cleanup_close_ int dfd = -1;
        int r;

        if (!mw->tmpdir)
                return;
        dfd = open(mw->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = dfd < 0 ? -errno : remove_private_dir(dfd, basename(mw->tmpdir));
        if (r < 0)
                say(mw, LOG_WARNING, false, "%s: cannot remove: %s", mw->tmpdir, strerror(-r));
        mw->tmpdir = mfree(mw->tmpdir);
        mw->tmp = mfree(mw->tmp);
        mw->tmp_db = mfree(mw->tmp_db);
        mw->tmp_dels = mfree(mw->tmp_dels);
        mw->tmp_adds = mfree(mw->tmp_adds);
}

/*
 * Remove what an earlier run left in the map's folder: private folders
 * of a write that a crash interrupted, and the fixed-name temporary files
 * (and Berkeley DB's __db.* files beside them) of older versions.
 */
static void sweep(MapWriter *mw)
{
        _cleanup_free_ char *prefix = xasprintf(".%s" TMP_TAG, mw->base);
        _cleanup_free_ char *bdb = xasprintf("__db.%s", prefix);
        unsigned removed = 0;
        struct dirent *e;
        DIR *dir;
        int dfd;

        mw->swept = true;
        dfd = open(mw->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return; /* the write that follows reports it */
        dir = fdopendir(dfd);
        if (!dir) {
                close(dfd);
                return;
        }
        while ((e = readdir(dir))) {
                struct stat st;

                if (!startswith(e->d_name, prefix) && !startswith(e->d_name, bdb))
                        continue;
                if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        if (remove_private_dir(dfd, e->d_name) == 0)
                                removed++;
                } else if (st.st_uid == geteuid() && unlinkat(dfd, e->d_name, 0) == 0)
                        removed++;
        }
        closedir(dir);
        if (removed)
                say(mw, LOG_INFO, false, "%s: removed %u temporary %s left by an interrupted write", mw->dir,
                    removed, removed == 1 ? "entry" : "entries");
}

MapWriter *mapwriter_free(MapWriter *mw)
{
        if (!mw)
                return NULL;
        ev_timer_stop(mw->loop, &mw->timer);
        mw->run = child_run_free(mw->run);
        cleanup_tmp(mw);
        free(mw->type);
        free(mw->path);
        free(mw->db);
        free(mw->dir);
        free(mw->base);
        free(mw->running);
        strv_free(mw->postmap);
        adminkeys_free(mw->admin);
        free(mw);
        return NULL;
}

void mapwriter_configure(MapWriter *mw, const char *type, const char *path, char **postmap_argv,
                         uint64_t postmap_timeout_ms, uint64_t debounce_ms)
{
        bool new_command = !strv_equal(postmap_argv, mw->postmap);

        if (!streq(type, mw->type) || !streq(path, mw->path)) {
                if (mw->state != RUNNING) {
                        set_paths(mw, type, path);
                        mw->admin = adminkeys_free(mw->admin);
                        mw->admin_id = (FileId){0};
                } else
                        say(mw, LOG_WARNING, false, "%s: the new access_map takes effect after a restart",
                            mw->path);
        }
        strv_free(mw->postmap);
        mw->postmap = strv_copy(postmap_argv);
        mw->timeout_s = (double)postmap_timeout_ms / 1000.0;
        mw->debounce_s = (double)debounce_ms / 1000.0;
        if (new_command)
                mw->inc_fails = 0; /* the new one may take incremental updates */
        /* A run of the old command (hung, perhaps) makes way for the new one;
           a render under way runs the new command when it is done. */
        if (mw->state == RUNNING && new_command &&
            (mw->phase == PHASE_POSTMAP || mw->phase == PHASE_DELETE || mw->phase == PHASE_ADD)) {
                say(mw, LOG_INFO, false,
                    "%s: stopping %s (pid %d): the postmap command changed; writing again with %s", mw->path,
                    mw->running, (int)child_run_pid(mw->run), mw->postmap[0]);
                child_run_stop(mw->run);
                mw->phase = PHASE_NONE;
                cleanup_tmp(mw);
                arm(mw, DEBOUNCE, 0.);
        }
        /* A failing write may have been waiting for exactly this: retry now. */
        if (mw->state == RETRY_WAIT) {
                mw->backoff_s = RETRY_MIN_S;
                arm(mw, DEBOUNCE, 0.);
        }
}

void mapwriter_set_block(MapWriter *mw, bool present) { mw->no_block = !present; }
const MapWriterStats *mapwriter_stats(const MapWriter *mw) { return &mw->stats; }
const char *mapwriter_path(const MapWriter *mw) { return mw->path; }
bool mapwriter_busy(const MapWriter *mw) { return mw->state != IDLE || mw->pending; }

static void arm(MapWriter *mw, State state, double after)
{
        ev_timer_stop(mw->loop, &mw->timer);
        ev_timer_set(&mw->timer, after, 0.);
        ev_timer_start(mw->loop, &mw->timer);
        mw->state = state;
}

void mapwriter_request(MapWriter *mw)
{
        switch (mw->state) {
        case IDLE:
                /* At once after a quiet spell; else when the debounce since
                   the last write's start is over. */
                arm(mw, DEBOUNCE,
                    mw->last_start ? MAX(0., mw->last_start + mw->debounce_s - ev_now(mw->loop)) : 0.);
                break;
        case RUNNING:
                /* The debounce counts from this request, not from the end
                   of the write under way: a write that took longer than
                   the debounce is followed by the next at once. */
                if (!mw->pending)
                        mw->pending_since = ev_now(mw->loop);
                mw->pending = true;
                break;
        case DEBOUNCE:   /* joins the write that is already scheduled */
        case RETRY_WAIT: /* the retry renders the latest bans */
                break;
        }
}

void mapwriter_request_now(MapWriter *mw)
{
        switch (mw->state) {
        case IDLE:
        case DEBOUNCE:
        case RETRY_WAIT: /* a failing write is tried again at once */
                arm(mw, DEBOUNCE, 0.);
                break;
        case RUNNING:
                mw->pending = mw->pending_now = true;
                break;
        }
}

static void set_error(MapWriter *mw, const char *fmt, ...) _printf_(2, 3);
static void set_error(MapWriter *mw, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(mw->stats.last_error, sizeof(mw->stats.last_error), fmt, ap);
        va_end(ap);
}

/*
 * A write failed: tell, clean up, and try again later.  The error is
 * logged when an episode of failures starts and when its cause changes,
 * not at every retry (a full disk would fill the journal); STATUS= and
 * `status` show it all along.
 */
static void fail(MapWriter *mw, Step step, int code, int r)
{
        unsigned key = (unsigned)step << 16 | ((unsigned)code & 0xffff);

        mw->phase = PHASE_NONE;
        cleanup_tmp(mw);
        mw->inc_fell_back = false; /* the full build failed too: postmap itself is the problem */
        mw->stats.failures++;
        mw->fail_count++;
        if (key != mw->fail_key)
                say(mw, LOG_ERR, true,
                    "%s: map not updated: %s; retrying with backoff (in %.0fs, then up to every %.0fs), "
                    "logged again when the cause changes or the map is written",
                    mw->path, mw->stats.last_error, mw->backoff_s, RETRY_MAX_S);
        else
                say(mw, LOG_DEBUG, false, "%s: map not updated (attempt %llu): %s", mw->path,
                    (unsigned long long)mw->fail_count, mw->stats.last_error);
        mw->fail_key = key;
        arm(mw, RETRY_WAIT, mw->backoff_s);
        mw->backoff_s = MIN(mw->backoff_s * 2, RETRY_MAX_S);
        mw->pending = mw->pending_now = false;
        if (mw->ops->done)
                mw->ops->done(mw->ctx, r, 0);
}

static void finish(MapWriter *mw, int r)
{
        if (mw->fail_count)
                say(mw, LOG_INFO, false, "%s: map written again after %llu failed %s", mw->path,
                    (unsigned long long)mw->fail_count, mw->fail_count == 1 ? "attempt" : "attempts");
        if (r == 0) {
                char what[64];

                if (mw->incremental)
                        snprintf(what, sizeof(what), "updated (-%llu +%llu entries)",
                                 (unsigned long long)mw->n_dels, (unsigned long long)mw->n_adds);
                else
                        snprintf(what, sizeof(what), "rebuilt");
                say(mw, LOG_DEBUG, false,
                    "%s: %s in %.0f ms: render %.0f ms (read %.1f, render %.1f, text %.1f, diff %.1f, "
                    "database copy %.1f), postmap %.0f ms, fsync and rename %.0f ms",
                    mw->path, what, (ev_time() - mw->t_start) * 1000.0, mw->t_render * 1000.0,
                    mw->us_read / 1000.0, mw->us_render / 1000.0, mw->us_text / 1000.0, mw->us_diff / 1000.0,
                    mw->us_copy / 1000.0, mw->t_postmap * 1000.0, mw->t_final * 1000.0);
        }
        mw->phase = PHASE_NONE;
        mw->fail_key = 0;
        mw->fail_count = 0;
        mw->state = IDLE;
        mw->redo = 0;
        mw->backoff_s = RETRY_MIN_S;
        /* Schedule what came meanwhile before telling: done() may want it now. */
        if (mw->pending) {
                double wait = mw->pending_now ? 0. : mw->pending_since + mw->debounce_s - ev_now(mw->loop);

                mw->pending = mw->pending_now = false;
                arm(mw, DEBOUNCE, MAX(0., wait));
        }
        if (mw->ops->done)
                mw->ops->done(mw->ctx, r, mw->entries);
}

static void refresh_admin(MapWriter *mw, const MapText *mt, const FileId *id)
{
        uint64_t h = admin_hash(mt);

        if (!mw->admin || h != mw->admin_hash)
                mw->admin_gen++;
        adminkeys_free(mw->admin);
        mw->admin = adminkeys_parse(mt);
        mw->admin_id = *id;
        mw->admin_hash = h;
}

uint64_t mapwriter_admin_generation(const MapWriter *mw) { return mw->admin_gen; }

const AdminKeys *mapwriter_admin_keys(MapWriter *mw)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        MapText mt;
        FileId id;

        /* Called for every matched line: look at the file once per loop
           iteration, not once per line of a burst read in one go. */
        if (mw->admin && mw->admin_checked == ev_now(mw->loop))
                return mw->admin;
        /* Our renames are under way: the map changes under us with the
           admin's lines we parsed (final_done takes note of the new file);
           reading it now would cost the loop the whole file for nothing. */
        if (mw->admin && mw->state == RUNNING && mw->phase == PHASE_FINAL)
                return mw->admin;
        mw->admin_checked = ev_now(mw->loop);
        id = file_id(mw->path);
        if (mw->admin && same_file(&id, &mw->admin_id))
                return mw->admin;
        if (!id.exists) {
                refresh_admin(mw, &(MapText){0}, &id);
                return mw->admin;
        }
        if (read_file(mw->path, SIZE_MAX / 2, &text, &len) < 0 || mapfile_split(text, len, &mt) < 0)
                return mw->admin; /* keep what we knew; the writer reports the problem */
        refresh_admin(mw, &mt, &id);
        return mw->admin;
}

/*
 * The owner and mode the text and the database get: those of the files
 * there now; a database that does not exist yet gets the text's, and a
 * new map is ours with mode 0644, whatever the umask (Debian's maps are
 * 0644, and smtpd runs as another user).
 */
static void map_perms(MapWriter *mw)
{
        struct stat st;

        if (stat(mw->path, &st) == 0)
                mw->text_perm = (Perm){st.st_uid, st.st_gid, st.st_mode & 07777};
        else
                mw->text_perm = (Perm){geteuid(), getegid(), 0644};
        if (stat(mw->db, &st) == 0)
                mw->db_perm = (Perm){st.st_uid, st.st_gid, st.st_mode & 07777};
        else
                mw->db_perm = mw->text_perm;
}

/* The advice for a folder we cannot write to. */
static const char *dir_hint(MapWriter *mw, int r, char *buf, size_t size)
{
        if (r == -EROFS)
                snprintf(buf, size,
                         " (under systemd, allow it with `systemctl edit postfix-autoblacklist`: "
                         "[Service] ReadWritePaths=%s)",
                         mw->dir);
        else
                buf[0] = '\0';
        return buf;
}

/* Make the private folder of this write (on the loop: a kill of a child leaves it to us). */
static int make_tmpdir(MapWriter *mw)
{
        _cleanup_free_ char *tmpl = xasprintf("%s/.%s" TMP_TAG ".XXXXXX", mw->dir, mw->base);
        char hint[256];
        int r;

        if (!mkdtemp(tmpl)) {
                r = -errno;
                set_error(mw, "%s: cannot make a temporary folder: %s%s", mw->dir, strerror(-r),
                          dir_hint(mw, r, hint, sizeof(hint)));
                return r;
        }
        mw->tmpdir = TAKE_PTR(tmpl);
        mw->tmp = xasprintf("%s/%s", mw->tmpdir, mw->base);
        mw->tmp_db = xasprintf("%s%s", mw->tmp, mw->suffix);
        mw->tmp_dels = xasprintf("%s/deletions", mw->tmpdir);
        mw->tmp_adds = xasprintf("%s/additions", mw->tmpdir);
        return 0;
}

/*
 * Start writing a file's pages to disk now, without waiting for it: the
 * fsync before the rename (set_perm) then finds most of them written
 * while postmap ran.  Advice only; a failure shows at that fsync.
 */
static void start_writeback(int fd) { (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }

/*
 * Write data to the text file in the private folder.  Not fsynced here:
 * postmap reads it from the page cache, and set_perm makes it durable
 * before the rename, in the final child, while nothing waits for it.
 */
static int write_tmp(MapWriter *mw, const Buf *data)
{
        int fd, r;

        fd = open(mw->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                set_error(mw, "%s: %s", mw->tmp, strerror(-r));
                return r;
        }
        r = write_all(fd, data->data, data->len);
        if (r == 0)
                start_writeback(fd);
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0)
                set_error(mw, "%s: write: %s", mw->tmp, strerror(-r));
        return r;
}

/*
 * Give a built file its owner and mode, and make it durable.  The mode
 * first: after the chown the file may no longer be ours to chmod.  A
 * chown we are not allowed (no CAP_CHOWN) leaves the file ours, with a
 * warning once (into warn).
 */
static int set_perm(MapWriter *mw, const char *path, const Perm *p, Buf *warn)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (fchmod(fd, p->mode) < 0)
                return -errno;
        if ((st.st_uid != p->uid || st.st_gid != p->gid) && fchown(fd, p->uid, p->gid) < 0) {
                if (errno != EPERM)
                        return -errno;
                if (!mw->owner_warned)
                        buf_printf(warn,
                                   "%s: cannot keep the owner %u:%u (%m): the map becomes %u:%u; "
                                   "give the daemon CAP_CHOWN to keep it",
                                   mw->path, (unsigned)p->uid, (unsigned)p->gid, (unsigned)st.st_uid,
                                   (unsigned)st.st_gid);
                mw->owner_warned = true;
        }
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

/* The output of postmap on one line, for the log. */
static const char *one_line(Buf *b)
{
        for (size_t i = 0; i < b->len; i++)
                if (b->data[i] == '\n')
                        b->data[i] = i + 1 < b->len ? ' ' : '\0';
        return b->len ? b->data : "(no output)";
}


/* Is the indexed file at least as new as the text? */
static bool db_current(const MapWriter *mw)
{
        struct stat t, d;

        if (stat(mw->path, &t) < 0 || stat(mw->db, &d) < 0)
                return false;
        return d.st_mtim.tv_sec > t.st_mtim.tv_sec ||
               (d.st_mtim.tv_sec == t.st_mtim.tv_sec && d.st_mtim.tv_nsec >= t.st_mtim.tv_nsec);
}

/* --- in the children ------------------------------------------------------ */

static uint64_t mono_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static FileId stat_id(const struct stat *st)
{
        return (FileId){.exists = true,
                        .dev = st->st_dev,
                        .ino = st->st_ino,
                        .size = st->st_size,
                        .mtime = st->st_mtim};
}

/* Does postmap -i / -d work on this type?  (cdb is built whole; lmdb untried.) */
static bool type_incremental(const char *type)
{
        return streq(type, "hash") || streq(type, "btree");
}

/*
 * Copy the database in place now to the private folder, if it is still
 * the one our last write put there (else -ESTALE: an admin's postmap
 * rebuilt it, and only a full build is sure to agree with the text).
 * The copy gets the id of the source in *id, taken before and checked
 * after the copy: a postmap that rewrote it meanwhile makes it -ESTALE.
 */
static int copy_db(MapWriter *mw, FileId *id)
{
        _cleanup_close_ int in = open(mw->db, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
        struct stat st;
        FileId after;
        off_t left;

        if (in < 0)
                return errno == ENOENT ? -ESTALE : -errno;
        if (fstat(in, &st) < 0)
                return -errno;
        *id = stat_id(&st);
        if (!S_ISREG(st.st_mode) || !same_file(id, &mw->placed_db))
                return -ESTALE;
        out = open(mw->tmp_db, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out < 0)
                return -errno;
        for (left = st.st_size; left > 0;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

                if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
                        char chunk[65536];

                        n = read(in, chunk, MIN(sizeof(chunk), (size_t)left));
                        if (n > 0 && write_all(out, chunk, (size_t)n) < 0)
                                return -errno;
                }
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ESTALE; /* it shrank under us */
                left -= n;
        }
        start_writeback(out);
        if (close(out) < 0) {
                out = -1;
                return -errno;
        }
        out = -1;
        if (fstat(in, &st) < 0)
                return -errno;
        after = stat_id(&st);
        return same_file(id, &after) ? 0 : -ESTALE;
}

/* Write data to a new file of ours at path. */
static int write_new(const char *path, const Buf *data)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        int r;

        if (fd < 0)
                return -errno;
        r = write_all(fd, data->data, data->len);
        if (r == 0 && close(fd) < 0)
                r = -errno;
        fd = -1;
        return r;
}

/*
 * After the text is written: can the database be the one in place plus
 * the changes of our block, rather than a full postmap?  Only when the
 * text that was read is exactly the one our last write put in place (so
 * the admin's lines are as they were and the database in place was built
 * from it), the database is still ours too, and the changes are few.
 * Sets rep->incremental, with the copy of the database and the files of
 * deletions and additions in the private folder; 0 (full or incremental)
 * or -errno (the write fails).
 */
static int try_incremental(MapWriter *mw, const char *text, const MapText *mt, const Buf *entries,
                           Report *rep)
{
        uint64_t t0 = mono_us();
        const char *block, *end;
        MapDiff d;
        FileId db;
        int r;

        if (mw->force || mw->no_inc || mw->no_block || mw->inc_fails >= MAX_INC_FAILS ||
            !type_incremental(mw->type) || !text || !mt->has_block || !mw->placed_db.exists ||
            !same_file(&rep->read_id, &mw->placed_text))
                return 0;
        /* Our entry lines as the last write rendered them: the block less
           its BEGIN line and note on top and its END line (the same lines
           in both would stop mapdiff's common head and tail short). */
        block = text + mt->before_len;
        end = mt->after;
        while (block < end && *block == '#') {
                const char *nl = memchr(block, '\n', (size_t)(end - block));
                block = nl ? nl + 1 : end;
        }
        if (end > block && end[-1] == '\n')
                end--;
        while (end > block && end[-1] != '\n')
                end--; /* the END line */
        if (mapdiff(block, (size_t)(end - block), entries->data ? entries->data : "", entries->len, &d) < 0)
                return 0;
        /* Past a quarter of the map changed, a full build costs no more. */
        if ((d.n_dels + d.n_adds) * 4 > MAX(d.n_old, d.n_new)) {
                mapdiff_free(&d);
                return 0;
        }
        rep->us_diff = (uint32_t)(mono_us() - t0);
        r = copy_db(mw, &db);
        if (r == 0 && d.n_dels)
                r = write_new(mw->tmp_dels, &d.dels);
        if (r == 0 && d.n_adds)
                r = write_new(mw->tmp_adds, &d.adds);
        if (r == -ESTALE) {
                (void)unlink(mw->tmp_db);
                (void)unlink(mw->tmp_dels);
                (void)unlink(mw->tmp_adds);
                return 0;
        }
        if (r < 0) {
                set_error(mw, "%s: cannot copy the database for an update: %s", mw->tmpdir, strerror(-r));
                return r;
        }
        rep->incremental = true;
        rep->n_dels = d.n_dels;
        rep->n_adds = d.n_adds;
        rep->read_db = db;
        return 0;
}

/* Send rep and what follows it to the parent; the child's exit status. */
static int send_report(MapWriter *mw, int fd, Report *rep, const Buf *warn, const Buf *notes)
{
        size_t elen = rep->result < 0 ? strlen(mw->stats.last_error) : 0;

        rep->magic = REPORT_MAGIC;
        rep->error_len = elen;
        rep->warn_len = warn ? warn->len : 0;
        rep->notes_len = notes ? notes->len : 0;
        if (write_all(fd, rep, sizeof(*rep)) < 0 || write_all(fd, mw->stats.last_error, elen) < 0 ||
            (rep->warn_len && write_all(fd, warn->data, warn->len) < 0) ||
            (rep->notes_len && write_all(fd, notes->data, notes->len) < 0))
                return 1;
        return 0;
}

/* Step 1, in a fork: read the map, render it, write the text and fsync it. */
static int render_child(void *ctx, int fd)
{
        MapWriter *mw = ctx;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        Buf entries = {0}, out = {0}, notes = {0};
        AdminKeys *admin;
        Report rep = {0};
        MapText mt;
        uint64_t t0 = mono_us(), t1, t2;
        int r;

        rep.read_id = file_id(mw->path);
        if (rep.read_id.exists) {
                r = read_file(mw->path, SIZE_MAX / 2, &text, &len);
                if (r < 0) {
                        set_error(mw, "%s: cannot read: %s", mw->path, strerror(-r));
                        rep = (Report){.result = r, .step = STEP_READ, .code = -r};
                        return send_report(mw, fd, &rep, NULL, NULL);
                }
        }
        r = mapfile_split(text ? text : "", len, &mt);
        if (r < 0) {
                set_error(mw, "the '%s' and '%s' lines do not pair up; fix the file by hand, "
                              "nothing was written", MAP_BEGIN, MAP_END);
                rep = (Report){.result = r, .step = STEP_SPLIT, .code = -r};
                return send_report(mw, fd, &rep, NULL, NULL);
        }
        t1 = mono_us();
        rep.us_read = (uint32_t)(t1 - t0);
        rep.admin_hash = admin_hash(&mt);
        admin = adminkeys_parse(&mt);
        rep.entries = mw->ops->render(mw->ctx, admin, &entries, &notes);
        if (mw->no_block) {
                buf_append(&out, mt.before, mt.before_len);
                buf_append(&out, mt.after, mt.after_len);
        } else
                mapfile_render(&out, &mt, entries.data ? entries.data : "", rep.entries);
        if (!out.data)
                buf_puts(&out, ""); /* an empty map is still a file */
        t2 = mono_us();
        rep.us_render = (uint32_t)(t2 - t1);

        if (!mw->force && text && out.len == len && memcmp(out.data, text, len) == 0 && db_current(mw)) {
                rep.result = MAPWRITER_UNCHANGED;
                return send_report(mw, fd, &rep, NULL, &notes);
        }
        map_perms(mw);
        rep.text_perm = mw->text_perm;
        rep.db_perm = mw->db_perm;
        r = write_tmp(mw, &out);
        t1 = mono_us();
        rep.us_text = (uint32_t)(t1 - t2);
        /* After the text: the database copied must be newer than it. */
        if (r == 0)
                r = try_incremental(mw, text, &mt, &entries, &rep);
        rep.us_copy = (uint32_t)(mono_us() - t1 - rep.us_diff);
        if (r < 0) {
                rep.result = r;
                rep.step = STEP_WRITE;
                rep.code = -r;
        }
        /* no frees: the process ends here, and its memory with it */
        return send_report(mw, fd, &rep, NULL, &notes);
}

/* Step 3, in a fork: owners, modes, fsync, and the renames. */
static int final_child(void *ctx, int fd)
{
        MapWriter *mw = ctx;
        Report rep = {0};
        Buf warn = {0};
        int r;

        r = set_perm(mw, mw->tmp, &mw->text_perm, &warn);
        if (r == 0)
                r = set_perm(mw, mw->tmp_db, &mw->db_perm, &warn);
        rep.owner_warned = mw->owner_warned;
        if (r < 0) {
                set_error(mw, "%s: cannot set owner and mode: %s", mw->tmpdir, strerror(-r));
                rep = (Report){.result = r, .step = STEP_OWNER, .code = -r, .owner_warned = mw->owner_warned};
                return send_report(mw, fd, &rep, &warn, NULL);
        }
        /* The text first, then the database: see the top of this file. */
        if (rename(mw->tmp, mw->path) < 0) {
                r = -errno;
                set_error(mw, "%s: rename to %s: %s", mw->tmp, mw->path, strerror(-r));
        } else if (rename(mw->tmp_db, mw->db) < 0) {
                r = -errno;
                set_error(mw, "%s: rename to %s: %s", mw->tmp_db, mw->db, strerror(-r));
        }
        if (r < 0) {
                rep.result = r;
                rep.step = STEP_RENAME;
                rep.code = -r;
        } else
                (void)fsync_parent(mw->path);
        return send_report(mw, fd, &rep, &warn, NULL);
}

/* --- on the loop ------------------------------------------------------------ */

/*
 * A forked child's report, checked: NULL (and the write failed) if the
 * child died or said something that does not add up.
 */
static const Report *take_report(MapWriter *mw, const ChildResult *res, const char *what)
{
        const Report *rep = (const Report *)res->out;

        if (res->timed_out)
                set_error(mw, "the %s did not finish within %ds; killed it", what, FORK_TIMEOUT_MS / 1000);
        else if (!WIFEXITED(res->status) || WEXITSTATUS(res->status) != 0)
                set_error(mw, "the %s (pid %d) %s %d", what, (int)res->pid,
                          WIFSIGNALED(res->status) ? "was killed by signal" : "exited with status",
                          WIFSIGNALED(res->status) ? WTERMSIG(res->status) : WEXITSTATUS(res->status));
        else if (res->out_len < sizeof(Report) || rep->magic != REPORT_MAGIC ||
                 rep->error_len > res->out_len || rep->warn_len > res->out_len ||
                 rep->notes_len > res->out_len ||
                 sizeof(Report) + rep->error_len + rep->warn_len + rep->notes_len != res->out_len)
                set_error(mw, "the %s (pid %d) sent a report that does not add up", what, (int)res->pid);
        else
                return rep;
        fail(mw, STEP_CHILD, res->timed_out ? 1 : 2, -EIO);
        return NULL;
}

static void start_final(MapWriter *mw)
{
        int r;

        mw->phase = PHASE_FINAL;
        /* Taken now, not after the rename: an edit by the admin between the
           rename and our hearing of it must not be taken for our file. */
        mw->text_id = file_id(mw->tmp);
        mw->db_id = file_id(mw->tmp_db);
        r = child_run_fork(mw->run, final_child, mw, FORK_TIMEOUT_MS, REPORT_MAX);
        if (r < 0) {
                set_error(mw, "cannot fork the map writer: %s", strerror(-r));
                fail(mw, STEP_SPAWN, -r, r);
        }
}

/*
 * Run postmap on the private folder's map: a full build (PHASE_POSTMAP),
 * or one step of an incremental update of the copied database:
 * `postmap -d -` with the keys to delete, `postmap -i` with the lines to
 * add, each on stdin.  Either is given the timeout of a full build.
 */
static void start_postmap(MapWriter *mw, Phase phase)
{
        _cleanup_free_ char *arg = xasprintf("%s:%s", mw->type, mw->tmp);
        size_t n = strv_length(mw->postmap), k = n;
        _cleanup_free_ char **argv = xcalloc(n + 4, sizeof(char *));
        double timeout = mw->timeout_s * MAX(1.0, (double)mw->entries / TIMEOUT_PER);
        const char *in = "/dev/null";
        int r;

        for (size_t i = 0; i < n; i++)
                argv[i] = mw->postmap[i];
        if (phase == PHASE_DELETE) {
                argv[k++] = (char *)"-d";
                argv[k++] = (char *)"-";
                in = mw->tmp_dels;
        } else if (phase == PHASE_ADD) {
                argv[k++] = (char *)"-i";
                in = mw->tmp_adds;
        }
        argv[k] = arg;
        free(mw->running);
        mw->running = xstrdup(mw->postmap[0]);
        mw->run_timeout_s = timeout;
        mw->phase = phase;
        r = child_run_exec_in(mw->run, argv, in, (uint64_t)(timeout * 1000.0), OUTPUT_MAX);
        if (r < 0) {
                set_error(mw, "cannot run %s: %s", mw->postmap[0], strerror(-r));
                fail(mw, STEP_SPAWN, -r, r);
        }
}

/* The next step after the render, or after one postmap of an incremental update. */
static void postmap_next(MapWriter *mw);

static void render_done(MapWriter *mw, const ChildResult *res)
{
        const Report *rep = take_report(mw, res, "map writer's render");
        const char *p;

        if (!rep)
                return;
        p = res->out + sizeof(Report);
        if (rep->notes_len && mw->ops->notes)
                mw->ops->notes(mw->ctx, p + rep->error_len + rep->warn_len, rep->notes_len);
        if (mw->state != RUNNING)
                return; /* the notes callback freed or reconfigured us: nothing more to do */
        mw->entries = rep->entries;
        if (rep->result < 0) {
                snprintf(mw->stats.last_error, sizeof(mw->stats.last_error), "%.*s", (int)rep->error_len, p);
                fail(mw, (Step)rep->step, rep->code, rep->result);
                return;
        }
        if (rep->result == MAPWRITER_UNCHANGED) {
                cleanup_tmp(mw);
                mw->stats.skipped++;
                mw->stats.last_error[0] = '\0';
                finish(mw, MAPWRITER_UNCHANGED);
                return;
        }
        mw->read_id = rep->read_id;
        mw->text_perm = rep->text_perm;
        mw->db_perm = rep->db_perm;
        mw->written_hash = rep->admin_hash;
        mw->incremental = rep->incremental;
        mw->read_db = rep->read_db;
        mw->n_dels = rep->n_dels;
        mw->n_adds = rep->n_adds;
        mw->todo_dels = rep->n_dels > 0;
        mw->todo_adds = rep->n_adds > 0;
        mw->us_read = rep->us_read;
        mw->us_render = rep->us_render;
        mw->us_text = rep->us_text;
        mw->us_copy = rep->us_copy;
        mw->us_diff = rep->us_diff;
        mw->t_render = ev_time() - mw->t_phase;
        mw->t_phase = ev_time();
        if (!mw->incremental)
                start_postmap(mw, PHASE_POSTMAP);
        else
                postmap_next(mw);
}

/*
 * An incremental update that failed: build in full now instead, within
 * the same write (a failure of that one is the write's).  After a few in
 * a row, say so once and build in full from then on (a postmap command
 * that takes no -i or -d, say).
 */
static void incremental_failed(MapWriter *mw, const char *why)
{
        say(mw, LOG_DEBUG, false,
            "%s: the incremental update of the database failed (%s); rebuilding it whole", mw->path, why);
        mw->phase = PHASE_NONE;
        mw->no_inc = true;
        mw->inc_fell_back = true;
        cleanup_tmp(mw);
        start_write(mw);
}

static void postmap_done(MapWriter *mw, const ChildResult *res)
{
        int status = res->status;
        Buf out = {0};

        buf_append(&out, res->out, res->out_len);
        /* An update that timed out or was killed fails the write as a full
           build would (a hung postmap must not be waited for twice); the
           retry builds in full.  One that failed or said anything: the
           full build, at once, decides. */
        if (mw->phase != PHASE_POSTMAP && (res->timed_out || WIFSIGNALED(status)))
                mw->no_inc = true;
        else if (mw->phase != PHASE_POSTMAP && (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out.len)) {
                _cleanup_free_ char *why = xasprintf("%s -%c %s: %s", mw->running,
                                                     mw->phase == PHASE_DELETE ? 'd' : 'i',
                                                     WEXITSTATUS(status) ? "failed" : "said something",
                                                     one_line(&out));
                buf_free(&out);
                incremental_failed(mw, why);
                return;
        }
        if (res->timed_out) {
                set_error(mw,
                          "%s did not finish within %.1fs (postmap_timeout); killed it and its process "
                          "group: %s",
                          mw->running, mw->run_timeout_s, one_line(&out));
                buf_free(&out);
                fail(mw, STEP_TIMEOUT, 0, -ETIMEDOUT);
                return;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFSIGNALED(status)) {
                        set_error(mw, "%s killed by signal %d: %s", mw->running, WTERMSIG(status),
                                  one_line(&out));
                        buf_free(&out);
                        fail(mw, STEP_SIGNAL, WTERMSIG(status), -EIO);
                } else {
                        set_error(mw, "%s exited with status %d: %s", mw->running, WEXITSTATUS(status),
                                  one_line(&out));
                        buf_free(&out);
                        fail(mw, STEP_EXIT, WEXITSTATUS(status), -EIO);
                }
                return;
        }
        if (out.len)
                say(mw, LOG_WARNING, false, "%s: %s", mw->running, one_line(&out));
        buf_free(&out);
        if (mw->phase == PHASE_DELETE)
                mw->todo_dels = false;
        else if (mw->phase == PHASE_ADD)
                mw->todo_adds = false;
        postmap_next(mw);
}

static void postmap_next(MapWriter *mw)
{
        FileId now, db;

        if (mw->incremental && mw->todo_dels) {
                start_postmap(mw, PHASE_DELETE);
                return;
        }
        if (mw->incremental && mw->todo_adds) {
                start_postmap(mw, PHASE_ADD);
                return;
        }
        mw->t_postmap = ev_time() - mw->t_phase;
        mw->t_phase = ev_time();

        /* Did the admin edit the map while we wrote it?  Then theirs wins.
           (And the database we copied must still be the one in place: an
           admin's postmap rewrites it in place, under our copy.) */
        now = file_id(mw->path);
        db = file_id(mw->db);
        if (!same_file(&now, &mw->read_id) || (mw->incremental && !same_file(&db, &mw->read_db))) {
                mw->phase = PHASE_NONE;
                cleanup_tmp(mw);
                if (++mw->redo > MAX_REDO) {
                        set_error(mw, "the map keeps changing under us");
                        fail(mw, STEP_BUSY, 0, -EBUSY);
                        return;
                }
                say(mw, LOG_INFO, false, "%s: changed while we wrote it; writing again from the new text",
                    mw->path);
                start_write(mw);
                return;
        }
        start_final(mw);
}

static void final_done(MapWriter *mw, const ChildResult *res)
{
        const Report *rep = take_report(mw, res, "map writer's rename");
        const char *p;

        if (!rep)
                return;
        p = res->out + sizeof(Report);
        if (rep->warn_len)
                say(mw, LOG_WARNING, false, "%.*s", (int)rep->warn_len, p + rep->error_len);
        mw->owner_warned = mw->owner_warned || rep->owner_warned;
        if (rep->result < 0) {
                snprintf(mw->stats.last_error, sizeof(mw->stats.last_error), "%.*s", (int)rep->error_len, p);
                fail(mw, (Step)rep->step, rep->code, rep->result);
                return;
        }
        mw->phase = PHASE_NONE;
        cleanup_tmp(mw);
        mw->force = false;
        mw->no_inc = false;
        mw->placed_text = mw->text_id;
        mw->placed_db = mw->db_id;
        if (mw->incremental)
                mw->inc_fails = 0;
        else if (mw->inc_fell_back && ++mw->inc_fails == MAX_INC_FAILS)
                say(mw, LOG_WARNING, false,
                    "%s: incremental updates of the database failed %d times in a row while full builds "
                    "work; every write rebuilds it whole from now on (until the postmap command changes)",
                    mw->path, MAX_INC_FAILS);
        mw->inc_fell_back = false;
        mw->t_final = ev_time() - mw->t_phase;
        mw->stats.writes++;
        mw->stats.last_write_ms = now_ms();
        mw->stats.last_error[0] = '\0';
        /* The admin part is what the render read: if that is what we parsed
           last, our keys still hold for the file as it is now; if not, the
           next look reads it again. */
        mw->admin_id = mw->admin && mw->written_hash == mw->admin_hash ? mw->text_id : (FileId){0};
        finish(mw, 0);
}

static void run_done(void *ctx, const ChildResult *res)
{
        MapWriter *mw = ctx;

        switch (mw->phase) {
        case PHASE_RENDER:
                render_done(mw, res);
                break;
        case PHASE_POSTMAP:
        case PHASE_DELETE:
        case PHASE_ADD:
                postmap_done(mw, res);
                break;
        case PHASE_FINAL:
                final_done(mw, res);
                break;
        case PHASE_NONE:
                break;
        }
}

static void start_write(MapWriter *mw)
{
        int r;

        mw->state = RUNNING;
        mw->incremental = false;
        mw->last_start = ev_now(mw->loop);
        if (!mw->redo && !mw->inc_fell_back)
                mw->t_start = ev_time();
        mw->t_phase = ev_time();
        if (!mw->swept)
                sweep(mw);
        /* The state must hold what the fork below renders. */
        if (mw->ops->prepare)
                mw->ops->prepare(mw->ctx);
        r = make_tmpdir(mw);
        if (r < 0) {
                fail(mw, STEP_TMPDIR, -r, r);
                return;
        }
        mw->phase = PHASE_RENDER;
        r = child_run_fork(mw->run, render_child, mw, FORK_TIMEOUT_MS, REPORT_MAX);
        if (r < 0) {
                set_error(mw, "cannot fork the map writer: %s", strerror(-r));
                fail(mw, STEP_SPAWN, -r, r);
        }
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        MapWriter *mw = w->data;

        (void)loop;
        (void)revents;
        mw->pending = mw->pending_now = false;
        start_write(mw);
}
