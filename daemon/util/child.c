/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * child: start a program (postmap, postconf) with a clean signal state in
 * a process group of its own, its output through a pipe; and the runner
 * that watches one such child on the loop (ev_child, the pipe read as it
 * fills, a timeout that kills the group), for programs and for forked
 * copies of the daemon that do long work off the loop.  Security: argv
 * comes from the config (trusted) and runs without a shell; the child
 * gets stdin from /dev/null (or a file the caller names) and no descriptor of ours but the pipe (every
 * other one is close-on-exec).
 */
#include "util/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <ev.h>

#include "util/util.h"

extern char **environ;

int spawn_piped(char *const *argv, pid_t *pid, int *out_fd)
{
        return spawn_piped_in(argv, "/dev/null", pid, out_fd);
}

int spawn_piped_in(char *const *argv, const char *stdin_path, pid_t *pid, int *out_fd)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int pipefd[2], r;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, stdin_path, O_RDONLY | O_NOFOLLOW, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        posix_spawnattr_init(&attr);
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        /* A group of its own, so that a timeout kills what it started too. */
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr,
                                 POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        r = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return -r;
        }
        *out_fd = pipefd[0];
        return 0;
}

int run_capture(char *const *argv, size_t max, int timeout_ms, char **out)
{
        int fd, status = 0, r;
        int64_t deadline = now_ms() + timeout_ms;
        Buf b = {0};
        pid_t pid;

        *out = NULL;
        r = spawn_piped(argv, &pid, &fd);
        if (r < 0)
                return r;
        buf_append(&b, "", 0);
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int64_t left = deadline - now_ms();
                char chunk[4096];
                ssize_t n;

                if (left <= 0 || poll(&p, 1, (int)left) == 0) {
                        kill(-pid, SIGKILL); /* the child and whatever it started */
                        (void)waitpid(pid, NULL, 0);
                        close(fd);
                        buf_free(&b);
                        return -ETIMEDOUT;
                }
                n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (b.len < max)
                        buf_append(&b, chunk, MIN((size_t)n, max - b.len));
        }
        close(fd);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        *out = b.data;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* --- the runner on the loop --------------------------------------------- */

struct ChildRun {
        struct ev_loop *loop;
        ChildDoneFn done;
        void *ctx;
        pid_t pid;
        bool timed_out;
        int fd;
        size_t max;
        Buf out;
        ev_child child;
        ev_io io;
        ev_timer timer;
};

/* Take what the child wrote so far; true at the end of the pipe. */
static bool run_read(ChildRun *c)
{
        char chunk[65536];
        ssize_t n;

        while ((n = read(c->fd, chunk, sizeof(chunk))) > 0)
                if (c->out.len < c->max)
                        buf_append(&c->out, chunk, MIN((size_t)n, c->max - c->out.len));
        return !(n < 0 && (errno == EINTR || errno == EAGAIN));
}

static void run_close(ChildRun *c)
{
        if (c->fd < 0)
                return;
        ev_io_stop(c->loop, &c->io);
        close(c->fd);
        c->fd = -1;
}

static void run_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        ChildRun *c = w->data;

        (void)loop;
        (void)revents;
        if (run_read(c))
                run_close(c);
}

static void run_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
        ChildRun *c = w->data;

        (void)loop;
        (void)revents;
        if (c->pid <= 0)
                return;
        c->timed_out = true;
        kill(-c->pid, SIGKILL); /* run_child_cb sees it */
}

static void run_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
        ChildRun *c = w->data;
        ChildResult res = {.pid = c->pid, .status = w->rstatus, .timed_out = c->timed_out};

        (void)revents;
        ev_child_stop(loop, w);
        ev_timer_stop(loop, &c->timer);
        /* Whatever it started and left behind goes with it. */
        kill(-c->pid, SIGKILL);
        c->pid = 0;
        if (c->fd >= 0) {
                (void)run_read(c); /* what is there; a grandchild may have held the pipe open */
                run_close(c);
        }
        if (!c->out.data)
                buf_puts(&c->out, "");
        res.out = c->out.data;
        res.out_len = c->out.len;
        c->done(c->ctx, &res);
}

ChildRun *child_run_new(struct ev_loop *loop, ChildDoneFn done, void *ctx)
{
        ChildRun *c = xcalloc(1, sizeof(ChildRun));

        c->loop = loop;
        c->done = done;
        c->ctx = ctx;
        c->fd = -1;
        ev_init(&c->timer, run_timer_cb);
        c->timer.data = c;
        return c;
}

void child_run_stop(ChildRun *c)
{
        if (!c || c->pid <= 0)
                return;
        ev_child_stop(c->loop, &c->child);
        ev_timer_stop(c->loop, &c->timer);
        kill(-c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        c->pid = 0;
        run_close(c);
}

ChildRun *child_run_free(ChildRun *c)
{
        if (!c)
                return NULL;
        child_run_stop(c);
        buf_free(&c->out);
        free(c);
        return NULL;
}

bool child_run_busy(const ChildRun *c)
{
        return c->pid > 0;
}
pid_t child_run_pid(const ChildRun *c)
{
        return c->pid;
}

static void run_watch(ChildRun *c, pid_t pid, int fd, uint64_t timeout_ms, size_t max_out)
{
        c->pid = pid;
        c->fd = fd;
        c->max = max_out;
        c->timed_out = false;
        buf_clear(&c->out);
        (void)fcntl(fd, F_SETFL, O_NONBLOCK);
        ev_io_init(&c->io, run_io_cb, fd, EV_READ);
        c->io.data = c;
        ev_io_start(c->loop, &c->io);
        ev_child_init(&c->child, run_child_cb, pid, 0);
        c->child.data = c;
        ev_child_start(c->loop, &c->child);
        ev_timer_set(&c->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(c->loop, &c->timer);
}

int child_run_exec(ChildRun *c, char *const *argv, uint64_t timeout_ms, size_t max_out)
{
        return child_run_exec_in(c, argv, "/dev/null", timeout_ms, max_out);
}

int child_run_exec_in(ChildRun *c, char *const *argv, const char *stdin_path, uint64_t timeout_ms,
                      size_t max_out)
{
        pid_t pid;
        int fd, r;

        if (c->pid > 0)
                return -EBUSY;
        r = spawn_piped_in(argv, stdin_path, &pid, &fd);
        if (r < 0)
                return r;
        run_watch(c, pid, fd, timeout_ms, max_out);
        return 0;
}

int child_run_fork(ChildRun *c, ChildFn fn, void *fn_ctx, uint64_t timeout_ms, size_t max_out)
{
        pid_t parent = getpid(), pid;
        int pipefd[2];

        if (c->pid > 0)
                return -EBUSY;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                close(pipefd[0]);
                (void)setpgid(0, 0);
                /* A copy of the daemon outlives it by no more than a moment. */
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                _exit(fn(fn_ctx, pipefd[1]) & 0xff);
        }
        /* Both sides set the group: whichever runs first, kill(-pid) works. */
        (void)setpgid(pid, pid);
        close(pipefd[1]);
        run_watch(c, pid, pipefd[0], timeout_ms, max_out);
        return 0;
}
