/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mapwriter: debounced, atomic rewrites of the access map with postmap.
 *
 * Postfix's DATABASE_README warns that postmap rebuilds an indexed file
 * in place, so a running smtpd could read it half-built.  We therefore
 * run postmap on a temporary copy beside the map (same folder, so rename
 * is atomic) and rename the result over the live database, then the text
 * over the live text.  smtpd sees the old map or the new one.
 *
 * Before the renames we check that the map text is still the file we
 * read (inode, size, mtime).  If the admin edited it meanwhile, their
 * edit wins: we read it again and redo the write, so no admin line is
 * lost.  postmap runs as a child watched by ev_child; its output is
 * collected through a pipe and logged if it fails.  The loop never waits.
 *
 * Security: the map path and the postmap command come from the config
 * (trusted).  The temporary file is created with O_EXCL|O_NOFOLLOW, so a
 * planted symlink cannot redirect our write.
 */
#include "mapwriter.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "conf.h"
#include "log.h"

#define POSTMAP_TIMEOUT_S 300.0
#define RETRY_MIN_S 1.0
#define RETRY_MAX_S 60.0
#define MAX_REDO 5
#define OUTPUT_MAX 4096 /* bytes of postmap's output kept for the log */

typedef enum State {
        IDLE,
        DEBOUNCE,
        RUNNING,
        RETRY_WAIT,
} State;

typedef struct FileId {
        bool exists;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
} FileId;

struct MapWriter {
        struct ev_loop *loop;
        char *type, *path, *suffix;
        char *tmp, *tmp_db, *db;
        char **postmap;
        double debounce_s;
        const MapWriterOps *ops;
        void *ctx;

        State state;
        bool pending; /* a request came while a write was under way */
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
        size_t entries;
        bool no_block; /* write the admin's text alone */

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
        free(mw->tmp);
        free(mw->tmp_db);
        free(mw->db);
        mw->type = xstrdup(type);
        mw->path = xstrdup(path);
        mw->suffix = (char *)config_map_suffix(type);
        mw->tmp = xasprintf("%s/.%s.autoblacklist-tmp", dirname(d), basename(b));
        mw->tmp_db = xasprintf("%s%s", mw->tmp, mw->suffix);
        mw->db = xasprintf("%s%s", mw->path, mw->suffix);
}

static char **strv_copy(char **v)
{
        size_t n = strv_length(v);
        char **c = xcalloc(n + 1, sizeof(char *));

        for (size_t i = 0; i < n; i++)
                c[i] = xstrdup(v[i]);
        return c;
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents);

int mapwriter_new(MapWriter **out, struct ev_loop *loop, const char *type, const char *path,
                  char **postmap_argv, uint64_t debounce_ms, const MapWriterOps *ops, void *ctx)
{
        MapWriter *mw = xcalloc(1, sizeof(MapWriter));

        if (!config_map_suffix(type)) {
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
        mw->debounce_s = (double)debounce_ms / 1000.0;
        ev_init(&mw->timer, timer_cb);
        mw->timer.data = mw;
        ev_init(&mw->timeout, timeout_cb);
        mw->timeout.data = mw;
        *out = mw;
        return 0;
}

static void cleanup_tmp(MapWriter *mw)
{
        (void)unlink(mw->tmp);
        (void)unlink(mw->tmp_db);
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
        if (mw->state == RUNNING) {
                ev_child_stop(mw->loop, &mw->child);
                kill(mw->pid, SIGKILL);
                (void)waitpid(mw->pid, NULL, 0);
                cleanup_tmp(mw);
        }
        close_output(mw);
        free(mw->type);
        free(mw->path);
        free(mw->tmp);
        free(mw->tmp_db);
        free(mw->db);
        strv_free(mw->postmap);
        buf_free(&mw->out);
        adminkeys_free(mw->admin);
        free(mw);
        return NULL;
}

void mapwriter_configure(MapWriter *mw, const char *type, const char *path, char **postmap_argv,
                         uint64_t debounce_ms)
{
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
        mw->debounce_s = (double)debounce_ms / 1000.0;
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

/* A write failed: tell, clean up, and try again later. */
static void fail(MapWriter *mw, int r)
{
        cleanup_tmp(mw);
        mw->stats.failures++;
        log_event(LOG_EVENT_POSTMAP_FAILED, LOG_ERR, NULL, "%s: map not updated: %s; retrying in %.0fs",
                  mw->path, mw->stats.last_error, mw->backoff_s);
        arm(mw, RETRY_WAIT, mw->backoff_s);
        mw->backoff_s = MIN(mw->backoff_s * 2, RETRY_MAX_S);
        mw->pending = false;
        if (mw->ops->done)
                mw->ops->done(mw->ctx, r, 0);
}

static void finish(MapWriter *mw, int r)
{
        mw->state = IDLE;
        mw->redo = 0;
        mw->backoff_s = RETRY_MIN_S;
        if (mw->ops->done)
                mw->ops->done(mw->ctx, r, mw->entries);
        if (mw->pending) {
                mw->pending = false;
                arm(mw, DEBOUNCE, mw->debounce_s);
        }
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

/* Write data to the temporary file, with the map's owner and mode. */
static int write_tmp(MapWriter *mw, const Buf *data)
{
        struct stat st;
        bool have_orig = stat(mw->path, &st) == 0;
        int fd, r;

        cleanup_tmp(mw);
        fd = open(mw->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  have_orig ? (st.st_mode & 07777) : 0644);
        if (fd < 0) {
                r = -errno;
                set_error(mw, "%s: %s", mw->tmp, strerror(-r));
                return r;
        }
        if (have_orig) {
                (void)!fchown(fd, st.st_uid, st.st_gid); /* only root can; fine otherwise */
                (void)fchmod(fd, st.st_mode & 07777);
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
        int status = w->rstatus;
        FileId now;

        (void)revents;
        ev_child_stop(loop, w);
        ev_timer_stop(loop, &mw->timeout);
        if (mw->out_fd >= 0) {
                (void)read_output(mw); /* what is there; a grandchild may hold the pipe open */
                close_output(mw);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                if (WIFSIGNALED(status))
                        set_error(mw, "%s killed by signal %d: %s", mw->postmap[0], WTERMSIG(status),
                                  one_line(&mw->out));
                else
                        set_error(mw, "%s exited with status %d: %s", mw->postmap[0],
                                  WEXITSTATUS(status), one_line(&mw->out));
                fail(mw, -EIO);
                return;
        }
        if (mw->out.len)
                log_warn("%s: %s", mw->postmap[0], one_line(&mw->out));

        /* Did the admin edit the map while postmap ran?  Then theirs wins. */
        now = file_id(mw->path);
        if (!same_file(&now, &mw->read_id)) {
                cleanup_tmp(mw);
                mw->stats.redone++;
                if (++mw->redo > MAX_REDO) {
                        set_error(mw, "the map keeps changing under us");
                        fail(mw, -EBUSY);
                        return;
                }
                log_info("%s: changed while we wrote it; writing again from the new text", mw->path);
                start_write(mw);
                return;
        }
        if (rename(mw->tmp_db, mw->db) < 0) {
                set_error(mw, "rename %s to %s: %s", mw->tmp_db, mw->db, strerror(errno));
                fail(mw, -errno);
                return;
        }
        if (rename(mw->tmp, mw->path) < 0) {
                set_error(mw, "rename %s to %s: %s", mw->tmp, mw->path, strerror(errno));
                fail(mw, -errno);
                return;
        }
        (void)fsync_parent(mw->path);
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
        log_warn("%s: %s takes over %.0fs; killing it", mw->path, mw->postmap[0], POSTMAP_TIMEOUT_S);
        kill(mw->pid, SIGKILL); /* child_cb sees the signal and fails the write */
}

static int spawn_postmap(MapWriter *mw)
{
        _cleanup_free_ char *arg = xasprintf("%s:%s", mw->type, mw->tmp);
        size_t n = strv_length(mw->postmap);
        _cleanup_free_ char **argv = xcalloc(n + 2, sizeof(char *));
        int r;

        for (size_t i = 0; i < n; i++)
                argv[i] = mw->postmap[i];
        argv[n] = arg;
        r = spawn_piped(argv, &mw->pid, &mw->out_fd);
        if (r < 0)
                return r;
        (void)fcntl(mw->out_fd, F_SETFL, O_NONBLOCK);
        buf_clear(&mw->out);
        ev_io_init(&mw->out_io, out_cb, mw->out_fd, EV_READ);
        mw->out_io.data = mw;
        ev_io_start(mw->loop, &mw->out_io);
        ev_child_init(&mw->child, child_cb, mw->pid, 0);
        mw->child.data = mw;
        ev_child_start(mw->loop, &mw->child);
        ev_timer_set(&mw->timeout, POSTMAP_TIMEOUT_S, 0.);
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
        int r;

        mw->state = RUNNING;
        mw->read_id = file_id(mw->path);
        if (mw->read_id.exists) {
                r = read_file(mw->path, SIZE_MAX / 2, &text, &len);
                if (r < 0) {
                        set_error(mw, "%s: cannot read: %s", mw->path, strerror(-r));
                        fail(mw, r);
                        return;
                }
        }
        r = mapfile_split(text ? text : "", len, &mt);
        if (r < 0) {
                set_error(mw, "the '%s' and '%s' lines do not pair up; fix the file by hand, "
                              "nothing was written", MAP_BEGIN, MAP_END);
                fail(mw, r);
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

        if (text && out.len == len && memcmp(out.data, text, len) == 0 && db_current(mw)) {
                buf_free(&out);
                mw->stats.skipped++;
                finish(mw, 0);
                return;
        }
        r = write_tmp(mw, &out);
        buf_free(&out);
        if (r < 0) {
                fail(mw, r);
                return;
        }
        r = spawn_postmap(mw);
        if (r < 0) {
                set_error(mw, "cannot run %s: %s", mw->postmap[0], strerror(-r));
                fail(mw, r);
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
