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
 * Security: the log is written by syslog, but its lines carry text from
 * remote clients.  Lines are cut at TAIL_MAX_LINE and memory never grows
 * with input; NUL bytes and invalid UTF-8 are just bytes here.
 */
#include "tail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"

#define GRACE_S 2.0
#define MAX_OLD 8
#define READ_BUDGET (4u << 20) /* bytes per file per wake-up */
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)

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
        char *tdir; /* folder of the symlink target, if path is a symlink */
        int ifd;
        ev_io iow;
        ev_idle more;
        int dir_wd, tdir_wd;
        TFile *cur;
        TFile *old[MAX_OLD];
        size_t n_old;
        bool started;
        bool warned_missing;
        TailStats stats;
        const TailOps *ops;
        void *ctx;
        char buf[65536];
};

static void inotify_cb(struct ev_loop *loop, ev_io *w, int revents);
static void more_cb(struct ev_loop *loop, ev_idle *w, int revents);
static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void wake(Tail *t);

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
        t->ops = ops;
        t->ctx = ctx;
        t->dir_wd = t->tdir_wd = -1;
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
        free(t);
        return NULL;
}

const TailStats *tail_stats(const Tail *t) { return &t->stats; }
bool tail_is_open(const Tail *t) { return t->cur != NULL; }

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
                        log_warn("%s: read: %m", t->path);
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
                log_event(LOG_EVENT_SKIPPED, LOG_WARNING, NULL, "%s: skipped %llu line%s longer than %d bytes",
                          t->path, (unsigned long long)f->lb.cut, f->lb.cut == 1 ? "" : "s", TAIL_MAX_LINE);
                t->stats.cut += f->lb.cut;
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

static TFile *file_open(Tail *t, const char *path, bool quiet)
{
        struct stat st;
        TFile *f;
        int fd;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                if (!quiet && errno != ENOENT)
                        log_warn("%s: open: %m", path);
                return NULL;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                if (!quiet)
                        log_warn("%s: not a regular file; not following it", path);
                close(fd);
                return NULL;
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
        return f;
}

static void remove_old(Tail *t, size_t i)
{
        TFile *f = t->old[i];

        memmove(&t->old[i], &t->old[i + 1], (t->n_old - i - 1) * sizeof(TFile *));
        t->n_old--;
        file_close(t, f);
}

static void push_old(Tail *t, TFile *f)
{
        f->old = true;
        if (t->n_old == MAX_OLD) {
                (void)file_read(t, t->old[0]);
                log_warn("%s: more than %d rotated files still open; closing the oldest", t->path, MAX_OLD);
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

/* Rotated files beside the log: same folder, name starting with the log's. */
static size_t siblings(Tail *t, Sibling **out)
{
        _cleanup_free_ char *b = xstrdup(t->path);
        const char *base = basename(b);
        size_t blen = strlen(base), n = 0, cap = 0;
        Sibling *v = NULL;
        struct dirent *de;
        DIR *d = opendir(t->dir);

        *out = NULL;
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
                        uint64_t before = t->stats.bytes;
                        f->fd = fd;
                        while (file_read(t, f))
                                ;
                        t->stats.recovered += t->stats.bytes - before;
                        f->fd = saved;
                        close(fd);
                        log_info("%s: read the rest of the log from %s", t->path, best->path);
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
        log_event(LOG_EVENT_ROTATE, LOG_INFO, NULL, "%s: truncated (copytruncate?); reading it again from the start",
                  t->path);
        reread_from_start(t, f, f->head_len, fnv1a(f->head, f->head_len));
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
        if (t->tdir && streq(t->tdir, d))
                return;
        if (streq(d, t->dir)) {
                free(t->tdir);
                t->tdir = TAKE_PTR(d);
                return;
        }
        if (t->tdir_wd >= 0)
                (void)inotify_rm_watch(t->ifd, t->tdir_wd);
        t->tdir_wd = inotify_add_watch(t->ifd, d, DIR_MASK | IN_ONLYDIR);
        free(t->tdir);
        t->tdir = TAKE_PTR(d);
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

/* Has another file taken the log's name? */
static void check_path(Tail *t)
{
        struct stat st;
        TFile *f;

        watch_target_dir(t);
        if (stat(t->path, &st) < 0) {
                if (!t->cur && !t->warned_missing) {
                        log_warn("%s: does not exist (yet); waiting for it", t->path);
                        t->warned_missing = true;
                }
                return;
        }
        if (t->cur && st.st_dev == t->cur->dev && st.st_ino == t->cur->ino)
                return;
        f = file_open(t, t->path, false);
        if (!f)
                return;
        if (t->cur) {
                t->stats.rotations++;
                log_event(LOG_EVENT_ROTATE, LOG_INFO, NULL, "%s: rotated; following the new file", t->path);
                push_old(t, t->cur);
        } else if (t->warned_missing) {
                log_info("%s: appeared; following it", t->path);
                t->warned_missing = false;
        }
        t->cur = f;
}

/* Read everything new, then look for rotation; again while there is more. */
static void wake(Tail *t)
{
        bool more = false;

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
}

void tail_poll_now(Tail *t) { wake(t); }

static void more_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
        (void)loop;
        (void)revents;
        wake(w->data);
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
                        if (ev->mask & IN_IGNORED) {
                                /* the inode is gone or the watch was removed */
                                if (t->cur && t->cur->wd == ev->wd)
                                        t->cur->wd = -1;
                                for (size_t i = 0; i < t->n_old; i++)
                                        if (t->old[i]->wd == ev->wd)
                                                t->old[i]->wd = -1;
                                if (ev->wd == t->tdir_wd)
                                        t->tdir_wd = -1;
                        }
                        p += sizeof(struct inotify_event) + ev->len;
                }
        }
        wake(t);
}

/*
 * Open a file we were reading when we stopped, and go to where we stopped.
 * It is found by inode (the device number may differ after a reboot) and
 * must still start with the bytes we saw, or the inode was reused.
 */
static TFile *resume_file(Tail *t, const TailPos *p, bool *is_current)
{
        struct stat st;
        TFile *f = NULL;

        *is_current = false;
        if (stat(t->path, &st) == 0 && (uint64_t)st.st_ino == p->ino) {
                f = file_open(t, t->path, false);
                *is_current = f != NULL;
        }
        if (!f) {
                Sibling *s;
                size_t n = siblings(t, &s);
                for (size_t i = 0; i < n && !f; i++)
                        if ((uint64_t)s[i].st.st_ino == p->ino)
                                f = file_open(t, s[i].path, false);
                siblings_free(s, n);
        }
        if (!f)
                return NULL;
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
                        return f;
                }
                file_close(t, f);
                return NULL;
        }
        if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size < p->offset)
                f->off = (uint64_t)st.st_size; /* cut short: do not read again what we read */
        else
                f->off = p->offset;
        update_head(f);
        return f;
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
                        f = file_open(t, s[i].path, true);
                        if (f) {
                                log_info("%s: reading %s, rotated while we were stopped", t->path, s[i].path);
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

        t->dir_wd = inotify_add_watch(t->ifd, t->dir, DIR_MASK | IN_ONLYDIR);
        if (t->dir_wd < 0) {
                int r = -errno;
                log_err("%s: cannot watch the folder %s: %s", t->path, t->dir, strerror(-r));
                return r;
        }
        watch_target_dir(t);
        ev_io_start(t->loop, &t->iow);

        /* Saved positions: the files we were reading when we stopped. */
        for (size_t i = 0; i < n_saved; i++) {
                bool is_current;
                TFile *f = resume_file(t, &saved[i], &is_current);
                if (!f) {
                        log_warn("%s: the file we stopped in (inode %llu) is gone (compressed or "
                                 "deleted?); lines written to it after we stopped are not read",
                                 t->path, (unsigned long long)saved[i].ino);
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
        if (!t->cur) {
                t->cur = file_open(t, t->path, true);
                if (t->cur && n_saved == 0 && !from_beginning) {
                        /* Start at the end; a partial last line is not ours to read. */
                        struct stat st;
                        char last;
                        if (fstat(t->cur->fd, &st) == 0 && st.st_size > 0) {
                                t->cur->off = (uint64_t)st.st_size;
                                if (pread(t->cur->fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
                                        t->cur->lb.cutting = true;
                                update_head(t->cur);
                        }
                }
                if (!t->cur) {
                        log_warn("%s: does not exist (yet); waiting for it", t->path);
                        t->warned_missing = true;
                }
        }
        t->started = true;
        wake(t);
        return 0;
}

size_t tail_positions(Tail *t, TailPos *out, size_t max)
{
        size_t n = 0;
        TFile *files[MAX_OLD + 1];
        size_t nf = 0;

        if (t->cur)
                files[nf++] = t->cur;
        for (size_t i = 0; i < t->n_old; i++)
                files[nf++] = t->old[i];
        for (size_t i = 0; i < nf && n < max; i++) {
                TFile *f = files[i];
                update_head(f);
                out[n++] = (TailPos){
                        .dev = (uint64_t)f->dev,
                        .ino = (uint64_t)f->ino,
                        /* a partial line is read again, whole, after a restart */
                        .offset = f->off - linebuf_pending(&f->lb),
                        .head_len = f->head_len,
                        .head_hash = fnv1a(f->head, f->head_len),
                };
        }
        return n;
}
