/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tail: follow the maillog, exactly once per line, across rotation.
 *
 * Watches (inotify, through one ev_io): the folder of the log path (a new
 * file or symlink under that name), the folder of the symlink's target if
 * the path is a symlink (rotation of the target), and each open file's
 * inode (appends, truncation, rename, delete).  Every wake-up reads each
 * open file to its end (within a budget; a large backlog continues from
 * an idle watcher, so signals and timers are not starved), then stat()s
 * the path to see whether another file took its name.  There is no timer
 * that polls.
 *
 * Identity of a file: (device, inode), plus a hash of its first bytes (up
 * to 256).  The hash catches what the inode cannot: copytruncate, which
 * keeps the inode, and a file rewritten past our offset before we woke.
 *
 * After a rename rotation the old file stays open: syslog daemons keep
 * writing to it until logrotate's postrotate makes them reopen.  It is
 * read on every wake-up until it has been quiet for GRACE_S after the new
 * file got data, then closed.  Old files are read before the new one, so
 * lines come mostly in order, and each byte is read once because each
 * file keeps its own offset.
 *
 * After a truncation, what was written between our last read and the
 * truncation is gone from the file, but logrotate's copytruncate put it
 * in the copy beside it (maillog.1): we find the copy by the hash of its
 * first bytes and read the rest of it from our offset.
 *
 * What cannot be followed is said, not guessed: a log that is missing, one
 * that cannot be read (EACCES: its saved position is kept, and it is
 * resumed there once it can be read), a folder that is gone (the nearest
 * existing ancestor is watched until it is back), a directory in the
 * log's place.  tail_problem() says which, for STATUS and `status`; what
 * the admin should hear goes to ops->report (this module never logs).
 * Inotify does not see everything (a permission change of a parent
 * folder, a parent renamed): while something is wrong a timer retries,
 * backing off to RETRY_MAX_S; a daemon whose log is fine has no timer.
 *
 * A file we read before and that comes back under the log's name (moved
 * away, then back) is recognised by device, inode and the hash of its
 * first bytes, and read on from where we were, never again from 0.
 *
 * Security: the log is written by syslog, but its lines carry text from
 * remote clients.  Lines are cut at TAIL_MAX_LINE and memory never grows
 * with input; NUL bytes and invalid UTF-8 are just bytes here.
 */
#include "source/tail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#include <stdarg.h>
#include <syslog.h>

#include "util/util.h"

#define GRACE_S 2.0
#define MAX_OLD 8
#define READ_BUDGET (4u << 20) /* bytes per file per wake-up */
#define MAX_CLOSED 16   /* positions of files closed, in case they come back */
#define RETRY_MIN_S 1.0 /* first retry while something is wrong */
#define RETRY_MAX_S 30.0
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
/* IN_ATTRIB: a chmod of the log (or of the folder) that makes it readable */
#define DIR_MASK                                                                                         \
        (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | \
         IN_ONLYDIR)

/* What is wrong with the log path, as the last look found it. */
typedef enum PathState {
        PATH_OK,      /* it names the file we have open */
        PATH_MISSING, /* no such file, and we have none open */
        PATH_GONE,    /* deleted or moved away: the open file is still read */
        PATH_CANNOT,  /* there, but open() or stat() fails (err) */
        PATH_NOTREG,  /* a directory or other non-file in its place */
} PathState;

typedef struct TFile {
        struct Tail *t;
        int fd;
        int wd;
        dev_t dev;
        ino_t ino;
        uint64_t off;
        uint8_t head[TAIL_HEAD_LEN];
        uint32_t head_len;
        LineBuf lb;
        bool old;
        bool grace_armed;
        bool got_data; /* since the grace timer was armed */
        ev_timer grace;
} TFile;

struct Tail {
        struct ev_loop *loop;
        char *path, *dir;
        char *base; /* the log's name in its folder */
        char *tdir; /* folder of the symlink target, if path is a symlink */
        int ifd;
        ev_io iow;
        ev_idle more;
        int dir_wd, tdir_wd;
        int dir_err;  /* why the folder is not watched (ENOENT: it is gone) */
        dev_t dir_dev; /* the folder watched by dir_wd */
        ino_t dir_ino;
        char *anc;    /* nearest existing ancestor, watched while the folder is gone */
        int anc_wd;
        TFile *cur;
        TFile *old[MAX_OLD];
        size_t n_old;
        bool started;
        PathState path_state;
        int path_err;
        bool cur_deleted;
        /* saved positions of files that could not be read yet (EACCES) */
        TailPos pending[TAIL_MAX_POS];
        size_t n_pending;
        int pending_err;
        /* files we closed, in case one comes back under the log's name */
        TailPos closed[MAX_CLOSED];
        size_t n_closed, closed_next;
        /* files renamed away from the log's name, seen in the folder's events */
        char *moved[MAX_OLD];
        size_t n_moved;
        uint32_t from_cookie;
        bool have_from;
        time_t started_at;
        /* first start without a saved position, at the end: the file we saw then */
        bool start_at_end;
        uint64_t start_dev, start_ino, start_size;
        /* what tail_problem() says, and the retry timer while it says something */
        char problem[PATH_MAX + 160];
        int problem_kind, problem_err;
        ev_timer retry;
        double retry_s;
        TailStats stats;
        const TailOps *ops;
        void *ctx;
        char buf[65536];
};

static void inotify_cb(struct ev_loop *loop, ev_io *w, int revents);
static void more_cb(struct ev_loop *loop, ev_idle *w, int revents);
static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void wake(Tail *t);

/* Tell the owner (who logs it): a library module never logs itself. */
static void say(Tail *t, int prio, SourceEvent ev, const char *fmt, ...) _printf_(4, 5);
static void say(Tail *t, int prio, SourceEvent ev, const char *fmt, ...)
{
        char text[PATH_MAX * 2 + 256];
        va_list ap;

        if (!t->ops->report)
                return;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        t->ops->report(t->ctx, prio, ev, text);
}

int tail_new(Tail **out, struct ev_loop *loop, const char *path, const TailOps *ops, void *ctx)
{
        _cleanup_free_ char *d = xstrdup(path);
        Tail *t;

        if (path[0] != '/')
                return -EINVAL;
        t = xcalloc(1, sizeof(Tail));
        t->loop = loop;
        t->path = xstrdup(path);
        t->dir = xstrdup(dirname(d));
        free(d);
        d = xstrdup(path);
        t->base = xstrdup(basename(d));
        t->ops = ops;
        t->ctx = ctx;
        t->dir_wd = t->tdir_wd = t->anc_wd = -1;
        t->retry_s = RETRY_MIN_S;
        t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (t->ifd < 0) {
                int r = -errno;
                tail_free(t);
                return r;
        }
        ev_io_init(&t->iow, inotify_cb, t->ifd, EV_READ);
        t->iow.data = t;
        ev_idle_init(&t->more, more_cb);
        t->more.data = t;
        ev_init(&t->retry, retry_cb);
        t->retry.data = t;
        *out = t;
        return 0;
}

static void file_close(Tail *t, TFile *f)
{
        if (!f)
                return;
        ev_timer_stop(t->loop, &f->grace);
        /* Another open file may share the watch (same inode): keep it then. */
        if (f->wd >= 0) {
                bool shared = (t->cur && t->cur != f && t->cur->wd == f->wd);
                for (size_t i = 0; i < t->n_old; i++)
                        shared = shared || (t->old[i] != f && t->old[i]->wd == f->wd);
                if (!shared)
                        (void)inotify_rm_watch(t->ifd, f->wd);
        }
        if (f->fd >= 0)
                close(f->fd);
        linebuf_free(&f->lb);
        free(f);
}

Tail *tail_free(Tail *t)
{
        if (!t)
                return NULL;
        ev_io_stop(t->loop, &t->iow);
        ev_idle_stop(t->loop, &t->more);
        ev_timer_stop(t->loop, &t->retry);
        /* Off the list first: file_close() looks at the others for a shared watch. */
        while (t->n_old > 0)
                file_close(t, t->old[--t->n_old]);
        file_close(t, t->cur);
        t->cur = NULL;
        if (t->ifd >= 0)
                close(t->ifd);
        free(t->path);
        free(t->dir);
        free(t->tdir);
        free(t->anc);
        free(t->base);
        for (size_t i = 0; i < t->n_moved; i++)
                free(t->moved[i]);
        free(t);
        return NULL;
}

const TailStats *tail_stats(const Tail *t) { return &t->stats; }
bool tail_is_open(const Tail *t) { return t->cur != NULL; }
const char *tail_problem(const Tail *t) { return t->problem[0] ? t->problem : NULL; }

static void line_fn(void *ctx, const char *line, size_t len)
{
        TFile *f = ctx;
        Tail *t = f->t;

        t->stats.lines++;
        t->ops->line(t->ctx, line, len);
}

/* Remember the first bytes of the file once we have read past them. */
static void update_head(TFile *f)
{
        ssize_t n;

        if (f->head_len == TAIL_HEAD_LEN || f->off <= f->head_len)
                return;
        n = pread(f->fd, f->head, (size_t)MIN(f->off, (uint64_t)TAIL_HEAD_LEN), 0);
        if (n > 0)
                f->head_len = (uint32_t)n;
}

/* Does the file still start with the bytes we saw at its start? */
static bool head_matches(TFile *f)
{
        uint8_t now[TAIL_HEAD_LEN];
        ssize_t n;

        if (f->head_len == 0)
                return true;
        n = pread(f->fd, now, f->head_len, 0);
        return n == (ssize_t)f->head_len && memcmp(now, f->head, f->head_len) == 0;
}

/* Read f from its offset; returns true if the budget ran out first. */
static bool file_read(Tail *t, TFile *f)
{
        size_t total = 0;

        while (total < READ_BUDGET) {
                ssize_t n = pread(f->fd, t->buf, sizeof(t->buf), (off_t)f->off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        say(t, LOG_WARNING, SOURCE_EVENT_NONE, "%s: read: %m", t->path);
                        return false;
                }
                if (n == 0)
                        break;
                f->off += (uint64_t)n;
                total += (size_t)n;
                t->stats.bytes += (uint64_t)n;
                linebuf_feed(&f->lb, t->buf, (size_t)n, line_fn, f);
        }
        if (f->lb.cut) {
                t->stats.cut += f->lb.cut; /* counted before it is said: the owner may read it then */
                say(t, LOG_WARNING, SOURCE_EVENT_SKIPPED, "%s: skipped %llu line%s longer than %d bytes", t->path,
                    (unsigned long long)f->lb.cut, f->lb.cut == 1 ? "" : "s", TAIL_MAX_LINE);
                f->lb.cut = 0;
        }
        update_head(f);
        if (total > 0 && f->old) {
                f->got_data = true;
        }
        if (total > 0 && !f->old) {
                /* The writer has moved to the new file: old files may go quiet. */
                for (size_t i = 0; i < t->n_old; i++)
                        if (!t->old[i]->grace_armed) {
                                t->old[i]->grace_armed = true;
                                ev_timer_set(&t->old[i]->grace, GRACE_S, 0.);
                                ev_timer_start(t->loop, &t->old[i]->grace);
                        }
        }
        return total >= READ_BUDGET;
}

static int add_file_watch(Tail *t, int fd)
{
        char proc[64];
        int wd;

        /* Watch the inode we opened, not whatever the path names by now. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        wd = inotify_add_watch(t->ifd, proc, FILE_MASK);
        if (wd < 0)
                wd = inotify_add_watch(t->ifd, t->path, FILE_MASK);
        return wd;
}

/* Open path to follow it: -errno, -EISDIR or -EINVAL if it is no regular file. */
static int file_open(Tail *t, const char *path, TFile **out)
{
        struct stat st;
        TFile *f;
        int fd;

        *out = NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                int r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
                close(fd);
                return r;
        }
        f = xcalloc(1, sizeof(TFile));
        f->t = t;
        f->fd = fd;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->wd = add_file_watch(t, fd);
        linebuf_init(&f->lb, TAIL_MAX_LINE);
        ev_init(&f->grace, grace_cb);
        f->grace.data = f;
        *out = f;
        return 0;
}

/* Where reading f stopped, as the state file keeps it. */
static TailPos file_pos(TFile *f)
{
        update_head(f);
        return (TailPos){
                .dev = (uint64_t)f->dev,
                .ino = (uint64_t)f->ino,
                /* a partial line is read again, whole, after a restart; the rest of
                   an over-long line being dropped is skipped (skip_line) */
                .offset = f->off - linebuf_pending(&f->lb),
                .head_len = f->head_len,
                .head_hash = fnv1a(f->head, f->head_len),
                .skip_line = f->lb.cutting,
        };
}

/* Remember where we stopped in a file we close, in case it comes back. */
static void remember_closed(Tail *t, TFile *f)
{
        t->closed[t->closed_next] = file_pos(f);
        t->closed_next = (t->closed_next + 1) % MAX_CLOSED;
        if (t->n_closed < MAX_CLOSED)
                t->n_closed++;
}

static void remove_old(Tail *t, size_t i)
{
        TFile *f = t->old[i];

        memmove(&t->old[i], &t->old[i + 1], (t->n_old - i - 1) * sizeof(TFile *));
        t->n_old--;
        remember_closed(t, f);
        file_close(t, f);
}

static void push_old(Tail *t, TFile *f)
{
        f->old = true;
        if (t->n_old == MAX_OLD) {
                (void)file_read(t, t->old[0]);
                say(t, LOG_WARNING, SOURCE_EVENT_NONE, "%s: more than %d rotated files still open; closing the oldest", t->path, MAX_OLD);
                remove_old(t, 0);
        }
        t->old[t->n_old++] = f;
}

static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        TFile *f = w->data;
        Tail *t = f->t;

        (void)loop;
        (void)revents;
        f->got_data = false;
        (void)file_read(t, f);
        if (f->got_data) {
                /* still being written: wait for it to go quiet */
                f->got_data = false;
                ev_timer_set(&f->grace, GRACE_S, 0.);
                ev_timer_start(t->loop, &f->grace);
                return;
        }
        for (size_t i = 0; i < t->n_old; i++)
                if (t->old[i] == f) {
                        remove_old(t, i);
                        break;
                }
}

static bool is_compressed(const char *name)
{
        static const char *sfx[] = {".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", ".lzma"};
        for (size_t i = 0; i < ELEMENTSOF(sfx); i++)
                if (endswith(name, sfx[i]))
                        return true;
        return false;
}

typedef struct Sibling {
        char *path;
        struct stat st;
} Sibling;

/* Rotated files beside the log: same folder, name starting with the log's.
   *err (if not NULL) gets why the folder could not be read. */
static size_t siblings_err(Tail *t, Sibling **out, int *err)
{
        _cleanup_free_ char *b = xstrdup(t->path);
        const char *base = basename(b);
        size_t blen = strlen(base), n = 0, cap = 0;
        Sibling *v = NULL;
        struct dirent *de;
        DIR *d = opendir(t->dir);

        *out = NULL;
        if (err)
                *err = d ? 0 : -errno;
        if (!d)
                return 0;
        while ((de = readdir(d))) {
                Sibling s;
                if (strncmp(de->d_name, base, blen) != 0 || de->d_name[blen] == '\0' ||
                    is_compressed(de->d_name))
                        continue;
                s.path = xasprintf("%s/%s", t->dir, de->d_name);
                if (stat(s.path, &s.st) < 0 || !S_ISREG(s.st.st_mode)) {
                        free(s.path);
                        continue;
                }
                GROW(v, cap, n + 1);
                v[n++] = s;
        }
        closedir(d);
        *out = v;
        return n;
}

static size_t siblings(Tail *t, Sibling **out) { return siblings_err(t, out, NULL); }

static void siblings_free(Sibling *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].path);
        free(v);
}

/* Does the file at fd start with bytes hashing to hash over len bytes? */
static bool fd_head_is(int fd, uint32_t len, uint64_t hash)
{
        uint8_t buf[TAIL_HEAD_LEN];

        if (len == 0 || len > TAIL_HEAD_LEN)
                return len == 0;
        return pread(fd, buf, len, 0) == (ssize_t)len && fnv1a(buf, len) == hash;
}

/*
 * The log was truncated (or found different at start) under f: read what
 * was left after f->off from a copy beside the log that starts like f.
 */
static void recover_from_copy(Tail *t, TFile *f, uint32_t head_len, uint64_t head_hash)
{
        Sibling *s;
        size_t n = siblings(t, &s);
        const Sibling *best = NULL;

        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = -1;
                if (s[i].st.st_dev == f->dev && s[i].st.st_ino == f->ino)
                        continue;
                if ((uint64_t)s[i].st.st_size <= f->off)
                        continue;
                fd = open(s[i].path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0 || !fd_head_is(fd, head_len, head_hash))
                        continue;
                if (!best || s[i].st.st_mtim.tv_sec > best->st.st_mtim.tv_sec)
                        best = &s[i];
        }
        if (best) {
                int fd = open(best->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd >= 0) {
                        int saved = f->fd;
                        f->fd = fd;
                        while (file_read(t, f))
                                ;
                        f->fd = saved;
                        close(fd);
                        say(t, LOG_INFO, SOURCE_EVENT_NONE, "%s: read the rest of the log from %s", t->path, best->path);
                }
        }
        siblings_free(s, n);
}

/*
 * f was truncated, or has other content under the same inode: read what
 * we had not read yet from a copy beside it (the copy starts like f
 * started: head_len bytes hashing to head_hash), then f from its start.
 */
static void reread_from_start(Tail *t, TFile *f, uint32_t head_len, uint64_t head_hash)
{
        t->stats.truncations++;
        recover_from_copy(t, f, head_len, head_hash);
        linebuf_reset(&f->lb);
        f->off = 0;
        f->head_len = 0; /* the head recover_from_copy saw is the copy's */
}

static void handle_truncation(Tail *t, TFile *f)
{
        say(t, LOG_INFO, SOURCE_EVENT_ROTATE, "%s: truncated (copytruncate?); reading it again from the start",
                  t->path);
        reread_from_start(t, f, f->head_len, fnv1a(f->head, f->head_len));
}

/* Stop watching a folder, unless another of our folder watches is the same one. */
static void rm_dir_watch(Tail *t, int *wd)
{
        int w = *wd;

        *wd = -1;
        if (w >= 0 && w != t->dir_wd && w != t->tdir_wd && w != t->anc_wd)
                (void)inotify_rm_watch(t->ifd, w);
}

/* Keep a watch on the folder of the symlink target, if path is a symlink. */
static void watch_target_dir(Tail *t)
{
        char real[PATH_MAX];
        _cleanup_free_ char *d = NULL;
        struct stat st;

        if (lstat(t->path, &st) < 0 || !S_ISLNK(st.st_mode) || !realpath(t->path, real))
                return;
        d = xstrdup(dirname(real));
        /* the same folder, still watched (a watch lost to IN_IGNORED is made again) */
        if (t->tdir && streq(t->tdir, d) && (t->tdir_wd >= 0 || streq(d, t->dir)))
                return;
        if (streq(d, t->dir)) {
                rm_dir_watch(t, &t->tdir_wd);
                free(t->tdir);
                t->tdir = TAKE_PTR(d);
                return;
        }
        rm_dir_watch(t, &t->tdir_wd);
        t->tdir_wd = inotify_add_watch(t->ifd, d, DIR_MASK);
        free(t->tdir);
        t->tdir = TAKE_PTR(d);
}

/*
 * Watch the log's folder.  While it does not exist, watch its nearest
 * existing ancestor instead, so that its making again (or a rename back)
 * wakes us; each wake-up comes back here and moves the watch down.  After
 * the ancestor watch is placed the folder is tried again, in case it was
 * made in between.
 */
static void ensure_dir_watch(Tail *t)
{
        if (t->dir_wd >= 0)
                return;
        for (int tries = 0; tries < 64; tries++) {
                _cleanup_free_ char *a = xstrdup(t->dir);
                int wd = inotify_add_watch(t->ifd, t->dir, DIR_MASK);

                if (wd >= 0) {
                        struct stat st;
                        t->dir_wd = wd;
                        t->dir_err = 0;
                        t->dir_dev = t->dir_ino = 0;
                        if (stat(t->dir, &st) == 0) {
                                t->dir_dev = st.st_dev;
                                t->dir_ino = st.st_ino;
                        }
                        free(t->anc);
                        t->anc = NULL;
                        rm_dir_watch(t, &t->anc_wd);
                        return;
                }
                t->dir_err = errno;
                if (errno != ENOENT && errno != ENOTDIR)
                        return; /* EACCES, ENOSPC (out of watches): the retry timer */
                for (;;) {
                        char *slash = strrchr(a, '/');
                        if (!slash)
                                return;
                        if (slash == a)
                                slash[1] = '\0';
                        else
                                *slash = '\0';
                        wd = inotify_add_watch(t->ifd, a, DIR_MASK);
                        if (wd >= 0 || streq(a, "/") || (errno != ENOENT && errno != ENOTDIR))
                                break;
                }
                if (wd < 0)
                        return;
                if (t->anc_wd == wd && t->anc && streq(t->anc, a))
                        return; /* settled: wait for an event there */
                if (t->anc_wd != wd)
                        rm_dir_watch(t, &t->anc_wd);
                t->anc_wd = wd;
                free(t->anc);
                t->anc = TAKE_PTR(a);
        }
}

/*
 * Is the folder we watch still the log's folder?  Its IN_DELETE_SELF does
 * not come while we hold a file in it open (the file pins the folder), so
 * this is asked whenever the log is missing or another file has its name.
 * If not, watch the folder (or an ancestor) again; true if it changed.
 */
static bool folder_replaced(Tail *t)
{
        struct stat st;

        if (t->dir_wd < 0)
                return false;
        if (stat(t->dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == t->dir_dev && st.st_ino == t->dir_ino)
                return false;
        rm_dir_watch(t, &t->dir_wd);
        ensure_dir_watch(t);
        return true;
}

/*
 * Was the current file truncated under us?  It shrank below our offset,
 * or it no longer starts with the bytes it started with (truncated and
 * written past our offset before we woke).  Checked before each read, so
 * that we never read new content from the old offset.
 */
static void check_truncated(Tail *t)
{
        struct stat fst;

        if (t->cur && fstat(t->cur->fd, &fst) == 0 &&
            ((uint64_t)fst.st_size < t->cur->off || !head_matches(t->cur)))
                handle_truncation(t, t->cur);
}

static bool pending_has(const Tail *t, ino_t ino)
{
        for (size_t i = 0; i < t->n_pending; i++)
                if (t->pending[i].ino == (uint64_t)ino)
                        return true;
        return false;
}

/* An old file we still have open, taken off the list (it is the log again). */
static TFile *take_old(Tail *t, dev_t dev, ino_t ino)
{
        for (size_t i = 0; i < t->n_old; i++) {
                TFile *f = t->old[i];
                if (f->dev != dev || f->ino != ino)
                        continue;
                memmove(&t->old[i], &t->old[i + 1], (t->n_old - i - 1) * sizeof(TFile *));
                t->n_old--;
                ev_timer_stop(t->loop, &f->grace);
                f->old = f->grace_armed = f->got_data = false;
                return f;
        }
        return NULL;
}

/*
 * f is a file we read before and closed (same device and inode, same
 * first bytes, at least as long as where we stopped): go on from there.
 */
static bool resume_closed(Tail *t, TFile *f)
{
        struct stat st;

        if (fstat(f->fd, &st) < 0)
                return false;
        for (size_t i = 0; i < t->n_closed; i++) {
                TailPos *p = &t->closed[i];
                if (p->dev != (uint64_t)f->dev || p->ino != (uint64_t)f->ino ||
                    (uint64_t)st.st_size < p->offset || !fd_head_is(f->fd, p->head_len, p->head_hash))
                        continue;
                f->off = p->offset;
                f->lb.cutting = p->skip_line;
                p->ino = 0; /* used up: it is open again */
                update_head(f);
                return true;
        }
        return false;
}

/* Start in f at size, the end it had when we started; a partial last line is not ours. */
static void seek_end(TFile *f, uint64_t size)
{
        struct stat st;
        char last;

        if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size < size)
                size = (uint64_t)st.st_size;
        if (size == 0)
                return;
        f->off = size;
        if (pread(f->fd, &last, 1, (off_t)size - 1) == 1 && last != '\n')
                f->lb.cutting = true;
        update_head(f);
}

/* Has another file taken the log's name?  Also says what the path is now. */
static void check_path(Tail *t)
{
        struct stat st;
        TFile *f;
        int r;

        watch_target_dir(t);
        if (stat(t->path, &st) < 0 && (!folder_replaced(t) || stat(t->path, &st) < 0)) {
                struct stat fst;
                r = errno;
                t->cur_deleted = t->cur && fstat(t->cur->fd, &fst) == 0 && fst.st_nlink == 0;
                if (r == ENOENT || r == ENOTDIR)
                        t->path_state = t->cur ? PATH_GONE : PATH_MISSING;
                else {
                        t->path_state = PATH_CANNOT;
                        t->path_err = r;
                }
                return;
        }
        t->cur_deleted = false;
        if (t->cur && st.st_dev == t->cur->dev && st.st_ino == t->cur->ino) {
                t->path_state = PATH_OK;
                return;
        }
        if (!S_ISREG(st.st_mode)) {
                t->path_state = PATH_NOTREG;
                return;
        }
        (void)folder_replaced(t); /* made again, with a new log in it already? */
        if (pending_has(t, st.st_ino)) {
                /* the file we stopped in, still unreadable: resume_pending() waits for it */
                t->path_state = PATH_CANNOT;
                t->path_err = t->pending_err ? -t->pending_err : EACCES;
                return;
        }
        f = take_old(t, st.st_dev, st.st_ino);
        if (f)
                say(t, LOG_INFO, SOURCE_EVENT_ROTATE,
                          "%s: a file we read before is back under this name; going on at offset %llu", t->path,
                          (unsigned long long)f->off);
        else {
                r = file_open(t, t->path, &f);
                if (r < 0) {
                        if (r == -ENOENT)
                                t->path_state = t->cur ? PATH_GONE : PATH_MISSING;
                        else if (r == -EISDIR || r == -EINVAL)
                                t->path_state = PATH_NOTREG;
                        else {
                                t->path_state = PATH_CANNOT;
                                t->path_err = -r;
                        }
                        return;
                }
                if (resume_closed(t, f))
                        say(t, LOG_INFO, SOURCE_EVENT_ROTATE,
                                  "%s: a file we read before is back under this name; going on at offset %llu",
                                  t->path, (unsigned long long)f->off);
                else if (t->start_at_end && (uint64_t)f->dev == t->start_dev && (uint64_t)f->ino == t->start_ino)
                        seek_end(f, t->start_size);
        }
        t->start_at_end = false;
        if (t->cur) {
                t->stats.rotations++;
                say(t, LOG_INFO, SOURCE_EVENT_ROTATE, "%s: rotated; following the new file", t->path);
                push_old(t, t->cur);
        }
        t->cur = f;
        t->path_state = PATH_OK;
}

/*
 * Open a file we were reading when we stopped, and go to where we stopped.
 * It is found by inode (the device number may differ after a reboot) and
 * must still start with the bytes we saw, or the inode was reused.
 * 0 and *out: resumed.  -ENOENT: it is gone.  Another -errno: it may be
 * there but cannot be read now (EACCES): try again later.
 */
static int resume_file(Tail *t, const TailPos *p, bool *is_current, TFile **out)
{
        struct stat st;
        TFile *f = NULL;
        int blocked = 0, r;

        *is_current = false;
        *out = NULL;
        r = stat(t->path, &st) < 0 ? -errno : 0;
        if (r == 0 && (uint64_t)st.st_ino == p->ino) {
                r = file_open(t, t->path, &f);
                if (r < 0 && r != -ENOENT)
                        blocked = r;
                *is_current = f != NULL;
        } else if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                blocked = r; /* the folder cannot be searched */
        if (!f && !blocked) {
                Sibling *s;
                size_t n = siblings_err(t, &s, &r);
                if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                        blocked = r;
                for (size_t i = 0; i < n && !f; i++)
                        if ((uint64_t)s[i].st.st_ino == p->ino) {
                                int e = file_open(t, s[i].path, &f);
                                if (e < 0 && e != -ENOENT)
                                        blocked = e;
                        }
                siblings_free(s, n);
        }
        if (!f)
                return blocked ? blocked : -ENOENT;
        if (!fd_head_is(f->fd, p->head_len, p->head_hash)) {
                if (*is_current) {
                        /*
                         * The log's own inode with other content: truncated
                         * (copytruncate) while we were down, or a new file that
                         * got the old inode number.  Read the rest of our old
                         * content from a copy beside it, if there is one, then
                         * this file from its start.
                         */
                        f->off = p->offset;
                        reread_from_start(t, f, p->head_len, p->head_hash);
                        *out = f;
                        return 0;
                }
                file_close(t, f);
                return -ENOENT;
        }
        if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size < p->offset)
                f->off = (uint64_t)st.st_size; /* cut short: do not read again what we read */
        else {
                f->off = p->offset;
                f->lb.cutting = p->skip_line;
        }
        update_head(f);
        *out = f;
        return 0;
}

static void warn_gone(Tail *t, const TailPos *p)
{
        say(t, LOG_WARNING, SOURCE_EVENT_NONE, "%s: the file we stopped in (inode %llu) is gone (compressed or deleted?); lines written to it "
                 "after we stopped are not read",
                 t->path, (unsigned long long)p->ino);
}

/* Saved positions of files that could not be read: can they be now? */
static void resume_pending(Tail *t)
{
        size_t k = 0;
        int err = 0;

        for (size_t i = 0; i < t->n_pending; i++) {
                TailPos p = t->pending[i];
                bool is_current;
                TFile *f;
                int r = resume_file(t, &p, &is_current, &f);

                if (r == -ENOENT) {
                        warn_gone(t, &p);
                        continue;
                }
                if (r < 0) {
                        t->pending[k++] = p;
                        err = r;
                        continue;
                }
                say(t, LOG_INFO, SOURCE_EVENT_NONE, "%s: can read the file we stopped in (inode %llu) now; going on at offset %llu", t->path,
                         (unsigned long long)p.ino, (unsigned long long)f->off);
                if (is_current) {
                        if (t->cur)
                                push_old(t, t->cur); /* opened meanwhile, but no longer under the name */
                        t->cur = f;
                } else
                        push_old(t, f);
        }
        t->n_pending = k;
        t->pending_err = err;
}

/* The problem text from what the last look found; logged when it changes. */
static void update_problem(Tail *t)
{
        char text[sizeof(t->problem)];
        int kind, err = 0;
        bool retry = false;

        text[0] = '\0';
        if (t->dir_err == ENOENT || t->dir_err == ENOTDIR) {
                kind = 1;
                snprintf(text, sizeof(text), "its folder %s does not exist; waiting for it", t->dir);
                retry = true; /* a rename of a folder above the one watched is not seen */
        } else if (t->dir_err) {
                kind = 2;
                err = t->dir_err;
                snprintf(text, sizeof(text), "cannot watch its folder %s: %s; retrying", t->dir,
                         err == ENOSPC ? "too many inotify watches (sysctl fs.inotify.max_user_watches)"
                                       : strerror(err));
                retry = true;
        } else if (t->path_state == PATH_MISSING) {
                kind = 3;
                snprintf(text, sizeof(text), "not there yet");
        } else if (t->path_state == PATH_GONE) {
                kind = t->cur_deleted ? 4 : 5;
                snprintf(text, sizeof(text), "%s; waiting for a new file (the old one is still read)",
                         t->cur_deleted ? "deleted" : "moved away");
                retry = true; /* its folder may go too, unseen: folder_replaced() */
        } else if (t->path_state == PATH_CANNOT) {
                kind = 6;
                err = t->path_err;
                snprintf(text, sizeof(text), "cannot read it: %s; retrying", strerror(err));
                retry = true; /* a permission change of a folder above is not seen */
        } else if (t->path_state == PATH_NOTREG) {
                kind = 7;
                snprintf(text, sizeof(text), "not a regular file; waiting for one");
        } else if (t->n_pending) {
                kind = 8;
                err = -t->pending_err;
                snprintf(text, sizeof(text), "cannot read the file we stopped in: %s; its position is kept, retrying",
                         strerror(err));
                retry = true;
        } else
                kind = 0;

        if (kind != t->problem_kind || err != t->problem_err) {
                /* A rename rotation passes through "moved away" for an instant:
                   "rotated" says enough then. */
                if (kind == 0 && t->problem_kind != 5)
                        say(t, LOG_INFO, SOURCE_EVENT_NONE, "%s: %s", t->path,
                                 t->problem_kind == 3 ? "appeared; following it" : "following it again");
                else if (kind == 3)
                        say(t, LOG_WARNING, SOURCE_EVENT_NONE, "%s: does not exist (yet); waiting for it", t->path);
                else if (kind == 4)
                        say(t, LOG_INFO, SOURCE_EVENT_NONE, "%s: %s", t->path, text);
                else if (kind != 0 && kind != 5)
                        say(t, LOG_WARNING, SOURCE_EVENT_NONE, "%s: %s", t->path, text);
                t->problem_kind = kind;
                t->problem_err = err;
                t->retry_s = RETRY_MIN_S;
                ev_timer_stop(t->loop, &t->retry);
        }
        if (!streq(text, t->problem)) {
                snprintf(t->problem, sizeof(t->problem), "%s", text);
                if (t->ops->problem)
                        t->ops->problem(t->ctx);
        }
        if (!retry)
                ev_timer_stop(t->loop, &t->retry);
        else if (!ev_is_active(&t->retry)) {
                ev_timer_set(&t->retry, t->retry_s, 0.);
                ev_timer_start(t->loop, &t->retry);
        }
}

static bool is_open(const Tail *t, ino_t ino);

/*
 * Files that had the log's name and were renamed away before we looked
 * (the loop was busy across a rotation or two): the folder's events said
 * so (IN_MOVED_FROM the log's name, IN_MOVED_TO another).  Open each one
 * we do not have open already and read it as a rotated file: from where
 * we were if we read it before (closed since), else from its start.  A
 * file older than our start is not one of these.
 */
static void adopt_moved(Tail *t)
{
        for (size_t i = 0; i < t->n_moved; i++) {
                _cleanup_free_ char *name = t->moved[i];
                struct stat st;
                TFile *f;

                if (stat(name, &st) < 0 || !S_ISREG(st.st_mode) || is_open(t, st.st_ino) ||
                    st.st_mtim.tv_sec < t->started_at || pending_has(t, st.st_ino) || file_open(t, name, &f) < 0)
                        continue;
                if (!resume_closed(t, f))
                        say(t, LOG_INFO, SOURCE_EVENT_ROTATE,
                                  "%s: reading %s, which had the log's name while we were busy", t->path, name);
                t->stats.rotations++;
                push_old(t, f);
        }
        t->n_moved = 0;
}

/* Read everything new, then look for rotation; again while there is more. */
static void wake(Tail *t)
{
        bool more = false;

        ensure_dir_watch(t);
        if (t->n_pending)
                resume_pending(t);
        if (t->n_moved)
                adopt_moved(t);
        for (int round = 0; round < 4; round++) {
                bool changed;
                TFile *before = t->cur;

                for (size_t i = 0; i < t->n_old; i++)
                        more |= file_read(t, t->old[i]);
                check_truncated(t);
                if (t->cur)
                        more |= file_read(t, t->cur);
                check_path(t);
                changed = t->cur != before;
                if (t->cur && changed)
                        more |= file_read(t, t->cur);
                if (!changed)
                        break;
        }
        if (more)
                ev_idle_start(t->loop, &t->more);
        else
                ev_idle_stop(t->loop, &t->more);
        if (t->started)
                update_problem(t);
}

void tail_poll_now(Tail *t) { wake(t); }

static void more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
        (void)loop;
        (void)revents;
        wake(w->data);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        Tail *t = w->data;

        (void)loop;
        (void)revents;
        t->retry_s = MIN(t->retry_s * 2, RETRY_MAX_S);
        wake(t);
}

static void inotify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        Tail *t = w->data;
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

        (void)loop;
        (void)revents;
        for (;;) {
                ssize_t n = read(t->ifd, buf, sizeof(buf));
                if (n <= 0)
                        break;
                for (char *p = buf; p < buf + n;) {
                        struct inotify_event *ev = (struct inotify_event *)p;
                        if (ev->wd >= 0 && ev->wd == t->dir_wd && ev->len > 0 && streq(ev->name, t->base) &&
                            (ev->mask & IN_MOVED_FROM)) {
                                t->from_cookie = ev->cookie;
                                t->have_from = true;
                        } else if (ev->wd >= 0 && ev->wd == t->dir_wd && ev->len > 0 && (ev->mask & IN_MOVED_TO) &&
                                   t->have_from && ev->cookie == t->from_cookie) {
                                /* the log's file now has this name: adopt_moved() */
                                t->have_from = false;
                                if (t->n_moved < MAX_OLD && !is_compressed(ev->name))
                                        t->moved[t->n_moved++] = xasprintf("%s/%s", t->dir, ev->name);
                        }
                        if (ev->wd >= 0 && (ev->mask & IN_MOVE_SELF) &&
                            (ev->wd == t->dir_wd || ev->wd == t->tdir_wd || ev->wd == t->anc_wd)) {
                                /* a watched folder was renamed: the watch follows it, not
                                   the path; watch again by path at the end of this */
                                (void)inotify_rm_watch(t->ifd, ev->wd);
                                if (ev->wd == t->dir_wd)
                                        t->dir_wd = -1;
                                if (ev->wd == t->tdir_wd)
                                        t->tdir_wd = -1;
                                if (ev->wd == t->anc_wd)
                                        t->anc_wd = -1;
                        }
                        if (ev->mask & IN_IGNORED) {
                                /* the inode is gone or the watch was removed */
                                if (t->cur && t->cur->wd == ev->wd)
                                        t->cur->wd = -1;
                                for (size_t i = 0; i < t->n_old; i++)
                                        if (t->old[i]->wd == ev->wd)
                                                t->old[i]->wd = -1;
                                if (ev->wd == t->dir_wd)
                                        t->dir_wd = -1; /* the folder is gone: ensure_dir_watch() */
                                if (ev->wd == t->tdir_wd)
                                        t->tdir_wd = -1;
                                if (ev->wd == t->anc_wd)
                                        t->anc_wd = -1;
                        }
                        p += sizeof(struct inotify_event) + ev->len;
                }
        }
        wake(t);
}

static bool is_open(const Tail *t, ino_t ino)
{
        if (t->cur && t->cur->ino == ino)
                return true;
        for (size_t i = 0; i < t->n_old; i++)
                if (t->old[i]->ino == ino)
                        return true;
        return false;
}

static int by_mtime(const void *a, const void *b)
{
        const struct timespec *x = &((const Sibling *)a)->st.st_mtim, *y = &((const Sibling *)b)->st.st_mtim;

        if (x->tv_sec != y->tv_sec)
                return x->tv_sec < y->tv_sec ? -1 : 1;
        return x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec;
}

/*
 * The log was rotated (maybe more than once) while we were stopped, after
 * we stopped in prev: open the rotated files written since (not the log
 * itself, which becomes the current file), oldest first.
 */
static void open_rotated_since(Tail *t, const TFile *prev)
{
        Sibling *s;
        size_t n = siblings(t, &s);
        struct stat pst, cur;
        bool have_cur = stat(t->path, &cur) == 0;

        if (fstat(prev->fd, &pst) == 0) {
                qsort(s, n, sizeof(*s), by_mtime);
                for (size_t i = 0; i < n; i++) {
                        TFile *f;
                        if (s[i].st.st_mtim.tv_sec < pst.st_mtim.tv_sec || is_open(t, s[i].st.st_ino) ||
                            (have_cur && cur.st_ino == s[i].st.st_ino))
                                continue;
                        if (file_open(t, s[i].path, &f) == 0) {
                                say(t, LOG_INFO, SOURCE_EVENT_NONE, "%s: reading %s, rotated while we were stopped", t->path, s[i].path);
                                push_old(t, f);
                        }
                }
        }
        siblings_free(s, n);
}

int tail_start(Tail *t, const TailPos *saved, size_t n_saved, bool from_beginning)
{
        TFile *prev = NULL;
        bool resumed_current = false;
        struct stat st;

        t->started_at = time(NULL) - 1;
        ensure_dir_watch(t); /* a folder that cannot be watched is said by update_problem() */
        watch_target_dir(t);
        ev_io_start(t->loop, &t->iow);

        /* Saved positions: the files we were reading when we stopped. */
        for (size_t i = 0; i < n_saved; i++) {
                bool is_current;
                TFile *f;
                int r = resume_file(t, &saved[i], &is_current, &f);
                if (r == -ENOENT) {
                        warn_gone(t, &saved[i]);
                        continue;
                }
                if (r < 0) {
                        /* keep it: never start again at 0 in a file we have a position for */
                        t->pending[t->n_pending++] = saved[i];
                        t->pending_err = r;
                        continue;
                }
                if (is_current) {
                        if (t->cur)
                                file_close(t, t->cur);
                        t->cur = f;
                        resumed_current = true;
                } else {
                        if (i == 0)
                                prev = f;
                        push_old(t, f);
                        t->stats.rotations++;
                }
        }
        if (n_saved && !resumed_current && prev)
                open_rotated_since(t, prev);
        if (n_saved == 0 && !from_beginning && stat(t->path, &st) == 0) {
                /* the first open of this file (now, or once it can be read) starts at this end */
                t->start_at_end = true;
                t->start_dev = (uint64_t)st.st_dev;
                t->start_ino = (uint64_t)st.st_ino;
                t->start_size = (uint64_t)st.st_size;
        }
        t->started = true;
        wake(t);
        return 0;
}

size_t tail_positions(Tail *t, TailPos *out, size_t max)
{
        size_t n = 0;

        if (t->cur && n < max)
                out[n++] = file_pos(t->cur);
        for (size_t i = 0; i < t->n_old && n < max; i++)
                out[n++] = file_pos(t->old[i]);
        /* saved positions we could not resume yet stay saved */
        for (size_t i = 0; i < t->n_pending && n < max; i++)
                out[n++] = t->pending[i];
        return n;
}
