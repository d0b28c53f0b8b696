/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mapwriter: debounced, atomic rewrites of the access map with postmap.
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
 * Before the renames we check that the map text is still the file we
 * read (inode, size, mtime).  If the admin edited it meanwhile, their
 * edit wins: we read it again and redo the write, so no admin line is
 * lost.  postmap runs as a child watched by ev_child, in a process group
 * of its own that a timeout kills whole; its output is collected through
 * a pipe and logged.  The loop never waits.
 *
 * Security: the map path and the postmap command come from the config
 * (trusted).  Files in the private folder are opened with O_NOFOLLOW,
 * owners and modes are set through those descriptors, and the clean-up
 * of old folders removes only folders of ours, through a descriptor.
 * The temporary text is ours (root's) while postmap runs, so that root's
 * postmap never drops its privileges to the map's owner; the owner is
 * set afterwards.
 */
#include "backend/mapwriter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "service/log.h"

#define RETRY_MIN_S 1.0
#define RETRY_MAX_S 60.0
#define MAX_REDO 5
#define OUTPUT_MAX 4096 /* bytes of postmap's output kept for the log */
#define TIMEOUT_PER 100000.0 /* entries that postmap_timeout is for */
#define TMP_TAG ".autoblacklist-tmp"

typedef enum State {
        IDLE,
        DEBOUNCE,
        RUNNING,
        RETRY_WAIT,
} State;

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

struct MapWriter {
        struct ev_loop *loop;
        char *type, *path, *suffix, *db;
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
        bool pending; /* a request came while a write was under way */
        bool force;   /* run postmap even if the text says what we would write */
        bool swept;   /* old private folders removed */
        bool abandon; /* the running postmap was stopped on purpose */
        bool timed_out;
        unsigned redo;
        double backoff_s;
        ev_timer timer; /* debounce, retry */
        ev_timer timeout;
        ev_child child;
        ev_io out_io;
        int out_fd;
        pid_t pid;
        Buf out; /* postmap's output */
        FileId read_id;
        Perm text_perm, db_perm;
        size_t entries;
        bool no_block; /* write the admin's text alone */

        /* The failure episode: logged when it starts or its cause changes. */
        unsigned fail_key;
        uint64_t fail_count;
        bool owner_warned;

        AdminKeys *admin;
        FileId admin_id;
        ev_tstamp admin_checked; /* the loop time of the last look at the file */

        MapWriterStats stats;
};

static void start_write(MapWriter *mw);
static void arm(MapWriter *mw, State state, double after);

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
        mw->suffix = (char *)mapfile_suffix(type);
        mw->db = xasprintf("%s%s", mw->path, mw->suffix);
        mw->dir = xstrdup(dirname(d));
        mw->base = xstrdup(basename(b));
        mw->swept = false;
        mw->force = true; /* a map we have not written yet: make its pair agree */
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
static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents);

int mapwriter_new(MapWriter **out, struct ev_loop *loop, const char *type, const char *path,
                  char **postmap_argv, uint64_t postmap_timeout_ms, uint64_t debounce_ms,
                  const MapWriterOps *ops, void *ctx)
{
        MapWriter *mw = xcalloc(1, sizeof(MapWriter));

        if (!mapfile_suffix(type)) {
                free(mw);
                return -EINVAL;
        }
        mw->loop = loop;
        mw->ops = ops;
        mw->ctx = ctx;
        mw->out_fd = -1;
        mw->backoff_s = RETRY_MIN_S;
        set_paths(mw, type, path);
        mw->postmap = strv_copy(postmap_argv);
        mw->timeout_s = (double)postmap_timeout_ms / 1000.0;
        mw->debounce_s = (double)debounce_ms / 1000.0;
        ev_init(&mw->timer, timer_cb);
        mw->timer.data = mw;
        ev_init(&mw->timeout, timeout_cb);
        mw->timeout.data = mw;
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
                log_warn("%s: cannot remove: %s", mw->tmpdir, strerror(-r));
        mw->tmpdir = mfree(mw->tmpdir);
        mw->tmp = mfree(mw->tmp);
        mw->tmp_db = mfree(mw->tmp_db);
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
                log_info("%s: removed %u temporary %s left by an interrupted write", mw->dir, removed,
                         removed == 1 ? "entry" : "entries");
}

static void close_output(MapWriter *mw)
{
        if (mw->out_fd < 0)
                return;
        ev_io_stop(mw->loop, &mw->out_io);
        close(mw->out_fd);
        mw->out_fd = -1;
}

MapWriter *mapwriter_free(MapWriter *mw)
{
        if (!mw)
                return NULL;
        ev_timer_stop(mw->loop, &mw->timer);
        ev_timer_stop(mw->loop, &mw->timeout);
        if (mw->state == RUNNING && mw->pid > 0) {
                ev_child_stop(mw->loop, &mw->child);
                kill(-mw->pid, SIGKILL);
                (void)waitpid(mw->pid, NULL, 0);
        }
        cleanup_tmp(mw);
        close_output(mw);
        free(mw->type);
        free(mw->path);
        free(mw->db);
        free(mw->dir);
        free(mw->base);
        free(mw->running);
        strv_free(mw->postmap);
        buf_free(&mw->out);
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
                        log_warn("%s: the new access_map takes effect after a restart", mw->path);
        }
        strv_free(mw->postmap);
        mw->postmap = strv_copy(postmap_argv);
        mw->timeout_s = (double)postmap_timeout_ms / 1000.0;
        mw->debounce_s = (double)debounce_ms / 1000.0;
        /* A run of the old command (hung, perhaps) makes way for the new one. */
        if (mw->state == RUNNING && mw->pid > 0 && new_command && !mw->abandon) {
                log_info("%s: stopping %s (pid %d): the postmap command changed; writing again with %s",
                         mw->path, mw->running, (int)mw->pid, mw->postmap[0]);
                mw->abandon = true;
                kill(-mw->pid, SIGKILL); /* child_cb starts the write again */
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
                arm(mw, DEBOUNCE, mw->debounce_s);
                break;
        case RUNNING:
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
                mw->pending = true;
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

        cleanup_tmp(mw);
        mw->stats.failures++;
        mw->fail_count++;
        if (key != mw->fail_key)
                log_event(
                        LOG_EVENT_POSTMAP_FAILED, LOG_ERR, NULL,
                        "%s: map not updated: %s; retrying with backoff (in %.0fs, then up to every %.0fs), "
                        "logged again when the cause changes or the map is written",
                        mw->path, mw->stats.last_error, mw->backoff_s, RETRY_MAX_S);
        else
                log_debug("%s: map not updated (attempt %llu): %s", mw->path,
                          (unsigned long long)mw->fail_count, mw->stats.last_error);
        mw->fail_key = key;
        arm(mw, RETRY_WAIT, mw->backoff_s);
        mw->backoff_s = MIN(mw->backoff_s * 2, RETRY_MAX_S);
        mw->pending = false;
        if (mw->ops->done)
                mw->ops->done(mw->ctx, r, 0);
}

static void finish(MapWriter *mw, int r)
{
        if (mw->fail_count)
                log_info("%s: map written again after %llu failed %s", mw->path,
                         (unsigned long long)mw->fail_count, mw->fail_count == 1 ? "attempt" : "attempts");
        mw->fail_key = 0;
        mw->fail_count = 0;
        mw->state = IDLE;
        mw->redo = 0;
        mw->backoff_s = RETRY_MIN_S;
        /* Schedule what came meanwhile before telling: done() may want it now. */
        if (mw->pending) {
                mw->pending = false;
                arm(mw, DEBOUNCE, mw->debounce_s);
        }
        if (mw->ops->done)
                mw->ops->done(mw->ctx, r, mw->entries);
}

static void refresh_admin(MapWriter *mw, const MapText *mt, const FileId *id)
{
        adminkeys_free(mw->admin);
        mw->admin = adminkeys_parse(mt);
        mw->admin_id = *id;
}

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

/* Make the private folder, and write data to the text file in it. */
static int write_tmp(MapWriter *mw, const Buf *data, Step *step)
{
        _cleanup_free_ char *tmpl = xasprintf("%s/.%s" TMP_TAG ".XXXXXX", mw->dir, mw->base);
        char hint[256];
        int fd, r;

        *step = STEP_TMPDIR;
        if (!mkdtemp(tmpl)) {
                r = -errno;
                set_error(mw, "%s: cannot make a temporary folder: %s%s", mw->dir, strerror(-r),
                          dir_hint(mw, r, hint, sizeof(hint)));
                return r;
        }
        mw->tmpdir = TAKE_PTR(tmpl);
        mw->tmp = xasprintf("%s/%s", mw->tmpdir, mw->base);
        mw->tmp_db = xasprintf("%s%s", mw->tmp, mw->suffix);
        *step = STEP_WRITE;
        fd = open(mw->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                set_error(mw, "%s: %s", mw->tmp, strerror(-r));
                return r;
        }
        r = write_all(fd, data->data, data->len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
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
 * warning once.
 */
static int set_perm(MapWriter *mw, const char *path, const Perm *p)
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
                        log_warn("%s: cannot keep the owner %u:%u (%m): the map becomes %u:%u; "
                                 "give the daemon CAP_CHOWN to keep it",
                                 mw->path, (unsigned)p->uid, (unsigned)p->gid, (unsigned)st.st_uid,
                                 (unsigned)st.st_gid);
                mw->owner_warned = true;
        }
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

/* Keep what postmap wrote so far (its first OUTPUT_MAX bytes); true at its end. */
static bool read_output(MapWriter *mw)
{
        char chunk[1024];
        ssize_t n;

        while ((n = read(mw->out_fd, chunk, sizeof(chunk))) > 0)
                if (mw->out.len < OUTPUT_MAX)
                        buf_append(&mw->out, chunk, MIN((size_t)n, OUTPUT_MAX - mw->out.len));
        return !(n < 0 && (errno == EINTR || errno == EAGAIN));
}

static void out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        MapWriter *mw = w->data;

        (void)loop;
        (void)revents;
        if (read_output(mw))
                close_output(mw);
}

/* The output of postmap on one line, for the log. */
static const char *one_line(Buf *b)
{
        for (size_t i = 0; i < b->len; i++)
                if (b->data[i] == '\n')
                        b->data[i] = i + 1 < b->len ? ' ' : '\0';
        return b->len ? b->data : "(no output)";
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
        MapWriter *mw = w->data;
        int status = w->rstatus, r;
        FileId now;

        (void)revents;
        ev_child_stop(loop, w);
        ev_timer_stop(loop, &mw->timeout);
        /* Whatever it started and left behind goes with it. */
        kill(-mw->pid, SIGKILL);
        mw->pid = 0;
        if (mw->out_fd >= 0) {
                (void)read_output(mw); /* what is there; a grandchild may have held the pipe open */
                close_output(mw);
        }
        if (mw->abandon) {
                mw->abandon = false;
                mw->timed_out = false;
                cleanup_tmp(mw);
                arm(mw, DEBOUNCE, 0.);
                return;
        }
        if (mw->timed_out) {
                mw->timed_out = false;
                set_error(mw,
                          "%s did not finish within %.1fs (postmap_timeout); killed it and its process "
                          "group: %s",
                          mw->running, mw->run_timeout_s, one_line(&mw->out));
                fail(mw, STEP_TIMEOUT, 0, -ETIMEDOUT);
                return;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFSIGNALED(status)) {
                        set_error(mw, "%s killed by signal %d: %s", mw->running, WTERMSIG(status),
                                  one_line(&mw->out));
                        fail(mw, STEP_SIGNAL, WTERMSIG(status), -EIO);
                } else {
                        set_error(mw, "%s exited with status %d: %s", mw->running, WEXITSTATUS(status),
                                  one_line(&mw->out));
                        fail(mw, STEP_EXIT, WEXITSTATUS(status), -EIO);
                }
                return;
        }
        if (mw->out.len)
                log_warn("%s: %s", mw->running, one_line(&mw->out));

        /* Did the admin edit the map while postmap ran?  Then theirs wins. */
        now = file_id(mw->path);
        if (!same_file(&now, &mw->read_id)) {
                cleanup_tmp(mw);
                if (++mw->redo > MAX_REDO) {
                        set_error(mw, "the map keeps changing under us");
                        fail(mw, STEP_BUSY, 0, -EBUSY);
                        return;
                }
                log_info("%s: changed while we wrote it; writing again from the new text", mw->path);
                start_write(mw);
                return;
        }
        r = set_perm(mw, mw->tmp, &mw->text_perm);
        if (r == 0)
                r = set_perm(mw, mw->tmp_db, &mw->db_perm);
        if (r < 0) {
                set_error(mw, "%s: cannot set owner and mode: %s", mw->tmpdir, strerror(-r));
                fail(mw, STEP_OWNER, -r, r);
                return;
        }
        /* The text first, then the database: see the top of this file. */
        if (rename(mw->tmp, mw->path) < 0) {
                r = -errno;
                set_error(mw, "%s: rename to %s: %s", mw->tmp, mw->path, strerror(-r));
                fail(mw, STEP_RENAME, -r, r);
                return;
        }
        if (rename(mw->tmp_db, mw->db) < 0) {
                r = -errno;
                set_error(mw, "%s: rename to %s: %s", mw->tmp_db, mw->db, strerror(-r));
                fail(mw, STEP_RENAME, -r, r);
                return;
        }
        (void)fsync_parent(mw->path);
        cleanup_tmp(mw);
        mw->force = false;
        mw->stats.writes++;
        mw->stats.last_write_ms = now_ms();
        mw->stats.last_error[0] = '\0';
        /* The admin part is what we read; remember the file as it is now. */
        mw->admin_id = file_id(mw->path);
        finish(mw, 0);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        MapWriter *mw = w->data;

        (void)loop;
        (void)revents;
        if (mw->pid <= 0)
                return;
        mw->timed_out = true;
        kill(-mw->pid, SIGKILL); /* child_cb sees it and fails the write */
}

static int spawn_postmap(MapWriter *mw)
{
        _cleanup_free_ char *arg = xasprintf("%s:%s", mw->type, mw->tmp);
        size_t n = strv_length(mw->postmap);
        _cleanup_free_ char **argv = xcalloc(n + 2, sizeof(char *));
        double timeout = mw->timeout_s * MAX(1.0, (double)mw->entries / TIMEOUT_PER);
        int r;

        for (size_t i = 0; i < n; i++)
                argv[i] = mw->postmap[i];
        argv[n] = arg;
        r = spawn_piped(argv, &mw->pid, &mw->out_fd);
        if (r < 0)
                return r;
        free(mw->running);
        mw->running = xstrdup(mw->postmap[0]);
        (void)fcntl(mw->out_fd, F_SETFL, O_NONBLOCK);
        buf_clear(&mw->out);
        ev_io_init(&mw->out_io, out_cb, mw->out_fd, EV_READ);
        mw->out_io.data = mw;
        ev_io_start(mw->loop, &mw->out_io);
        ev_child_init(&mw->child, child_cb, mw->pid, 0);
        mw->child.data = mw;
        ev_child_start(mw->loop, &mw->child);
        mw->timed_out = false;
        mw->run_timeout_s = timeout;
        ev_timer_set(&mw->timeout, timeout, 0.);
        ev_timer_start(mw->loop, &mw->timeout);
        return 0;
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

static void start_write(MapWriter *mw)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        Buf entries = {0}, out = {0};
        MapText mt;
        Step step;
        int r;

        mw->state = RUNNING;
        if (!mw->swept)
                sweep(mw);
        mw->read_id = file_id(mw->path);
        if (mw->read_id.exists) {
                r = read_file(mw->path, SIZE_MAX / 2, &text, &len);
                if (r < 0) {
                        set_error(mw, "%s: cannot read: %s", mw->path, strerror(-r));
                        fail(mw, STEP_READ, -r, r);
                        return;
                }
        }
        r = mapfile_split(text ? text : "", len, &mt);
        if (r < 0) {
                set_error(mw, "the '%s' and '%s' lines do not pair up; fix the file by hand, "
                              "nothing was written", MAP_BEGIN, MAP_END);
                fail(mw, STEP_SPLIT, -r, r);
                return;
        }
        refresh_admin(mw, &mt, &mw->read_id);
        mw->entries = mw->ops->render(mw->ctx, mw->admin, &entries);
        if (mw->no_block) {
                buf_append(&out, mt.before, mt.before_len);
                buf_append(&out, mt.after, mt.after_len);
        } else
                mapfile_render(&out, &mt, entries.data ? entries.data : "", mw->entries);
        buf_free(&entries);
        if (!out.data)
                buf_puts(&out, ""); /* an empty map is still a file */

        if (!mw->force && text && out.len == len && memcmp(out.data, text, len) == 0 && db_current(mw)) {
                buf_free(&out);
                mw->stats.skipped++;
                mw->stats.last_error[0] = '\0';
                finish(mw, MAPWRITER_UNCHANGED);
                return;
        }
        map_perms(mw);
        r = write_tmp(mw, &out, &step);
        buf_free(&out);
        if (r < 0) {
                fail(mw, step, -r, r);
                return;
        }
        r = spawn_postmap(mw);
        if (r < 0) {
                set_error(mw, "cannot run %s: %s", mw->postmap[0], strerror(-r));
                fail(mw, STEP_SPAWN, -r, r);
        }
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        MapWriter *mw = w->data;

        (void)loop;
        (void)revents;
        mw->pending = false;
        start_write(mw);
}
