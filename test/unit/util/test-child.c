/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "check.h"
#include "util/child.h"
#include "util/util.h"

/* The runner on a loop of its own: the result of one child. */
typedef struct Got {
        int calls;
        ChildResult res;
        char *out;
} Got;

static void got_cb(void *ctx, const ChildResult *res)
{
        Got *g = ctx;

        g->calls++;
        g->res = *res;
        free(g->out);
        g->out = xstrdup(res->out);
        ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static int write_fn(void *ctx, int fd)
{
        const char *s = ctx;

        (void)!write(fd, s, strlen(s));
        return 7;
}

static int hang_fn(void *ctx, int fd)
{
        (void)ctx;
        (void)fd;
        pause();
        return 0;
}

static int big_fn(void *ctx, int fd)
{
        static char chunk[100000];

        (void)ctx;
        memset(chunk, 'x', sizeof(chunk));
        for (int i = 0; i < 20; i++) /* 2 MB: far more than a pipe holds */
                (void)!write(fd, chunk, sizeof(chunk));
        return 0;
}

/* Is the process group gone: no member alive (a zombie is not, whoever reaps it)? */
static bool group_alive(pid_t pgid)
{
        DIR *d = opendir("/proc");
        struct dirent *e;
        bool alive = false;

        while (d && (e = readdir(d)) && !alive) {
                char path[300], state = 0;
                int pgrp = 0;
                FILE *f;

                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                f = fopen(path, "r");
                if (!f)
                        continue;
                if (fscanf(f, "%*d (%*[^)]) %c %*d %d", &state, &pgrp) == 2 && pgrp == pgid && state != 'Z')
                        alive = true;
                fclose(f);
        }
        if (d)
                closedir(d);
        return alive;
}

static bool group_gone(pid_t pgid)
{
        for (int i = 0; i < 200; i++) {
                if (!group_alive(pgid))
                        return true;
                usleep(5000);
        }
        return false;
}

static void test_runner(void)
{
        struct ev_loop *loop = EV_DEFAULT;
        Got g = {0};
        ChildRun *c = child_run_new(loop, got_cb, &g);
        char *echo[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
        char *slow[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
        char *none[] = {"/nonexistent/program", NULL};
        const struct {
                const char *what;
                char **argv;
                ChildFn fn;
                uint64_t timeout_ms;
                size_t max;
                int r;
                bool exited;
                int code;
                bool timed_out;
                size_t out_len;
                const char *out;
        } cases[] = {
                {"a program: output, exit status", echo, NULL, 5000, 100, 0, true, 3, false, 8, "out\nerr\n"},
                {"output cut at max", echo, NULL, 5000, 3, 0, true, 3, false, 3, "out"},
                {"a program that hangs, with a child", slow, NULL, 200, 100, 0, false, 0, true, 0, ""},
                {"a missing program", none, NULL, 5000, 100, -ENOENT, false, 0, false, 0, NULL},
                {"a forked function", NULL, write_fn, 5000, 100, 0, true, 7, false, 5, "hello"},
                {"a forked function that hangs", NULL, hang_fn, 200, 100, 0, false, 0, true, 0, ""},
                {"2 MB from a forked function", NULL, big_fn, 5000, 1 << 22, 0, true, 0, false, 2000000,
                 NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r;

                g.calls = 0;
                r = cases[i].fn ? child_run_fork(c, cases[i].fn, (void *)"hello", cases[i].timeout_ms,
                                                 cases[i].max)
                                : child_run_exec(c, cases[i].argv, cases[i].timeout_ms, cases[i].max);
                CHECK_INT(r, cases[i].r, cases[i].what);
                if (r < 0) {
                        CHECK(!child_run_busy(c), "%s: not busy after a failed start", cases[i].what);
                        continue;
                }
                CHECK(child_run_busy(c) && child_run_pid(c) > 0, "%s: busy", cases[i].what);
                CHECK_INT(getpgid(child_run_pid(c)), child_run_pid(c), cases[i].what);
                CHECK_INT(child_run_exec(c, echo, 1000, 10), -EBUSY, "one child at a time");
                ev_run(loop, 0);
                CHECK_INT(g.calls, 1, cases[i].what);
                CHECK(!child_run_busy(c), "%s: not busy in the end", cases[i].what);
                CHECK_INT(g.res.timed_out, cases[i].timed_out, cases[i].what);
                CHECK_INT(WIFEXITED(g.res.status), cases[i].exited, cases[i].what);
                if (cases[i].exited)
                        CHECK_INT(WEXITSTATUS(g.res.status), cases[i].code, cases[i].what);
                else
                        CHECK_INT(WTERMSIG(g.res.status), SIGKILL, cases[i].what);
                CHECK_INT(g.res.out_len, cases[i].out_len, cases[i].what);
                if (cases[i].out)
                        CHECK_STR(g.out, cases[i].out, cases[i].what);
                /* the group is gone: its members too (the `sleep 30 &`) */
                CHECK(group_gone(g.res.pid), "%s: its group is gone", cases[i].what);
        }
        /* stop: no done call, nothing left */
        g.calls = 0;
        CHECK_INT(child_run_exec(c, slow, 60000, 100), 0, "start to stop");
        {
                pid_t pid = child_run_pid(c);
                child_run_stop(c);
                CHECK(!child_run_busy(c), "stopped");
                CHECK(group_gone(pid), "a stopped child's group is gone");
        }
        CHECK_INT(child_run_fork(c, hang_fn, NULL, 60000, 100), 0, "start, then free");
        c = child_run_free(c);
        CHECK_INT(g.calls, 0, "no done after stop or free");
        free(g.out);
}

int main(void)
{
        test_runner();
        {
                char *out = NULL;
                char *echo[] = {"sh", "-c", "echo out; echo err >&2", NULL};
                char *fail[] = {"sh", "-c", "echo why; exit 3", NULL};
                char *slow[] = {"sleep", "10", NULL};
                char *none[] = {"/nonexistent/program", NULL};
                char *big[] = {"sh", "-c", "yes | head -c 100000", NULL};
                /* the child gets every signal unblocked and at its default,
                 * even those the daemon blocks (libev) or ignores (SIGPIPE).
                 * Only signals 1-31 count: glibc's posix_spawn itself
                 * ignores its internal real-time signals 32 and 33. */
                char *sigs[] = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL};
                sigset_t hup, old;

                CHECK_INT(run_capture(echo, 100, 5000, &out), 0, "run_capture");
                CHECK_STR(out, "out\nerr\n", "stdout and stderr");
                free(out);
                CHECK_INT(run_capture(fail, 100, 5000, &out), -EIO, "exit status 3");
                CHECK_STR(out, "why\n", "what a failing program said");
                free(out);
                CHECK_INT(run_capture(big, 10, 5000, &out), 0, "long output");
                CHECK_INT(strlen(out), 10, "output cut at max");
                free(out);
                CHECK_INT(run_capture(slow, 100, 200, &out), -ETIMEDOUT, "timeout");
                CHECK(out == NULL, "no output on timeout");
                CHECK_INT(run_capture(none, 100, 5000, &out), -ENOENT, "missing program");

                /* a child leads a process group of its own, and a timeout kills its children too */
                {
                        const char *dir = check_mktemp();
                        char script[1024], stat_path[300], *text = NULL, state = '?';
                        char *tree[] = {"sh", "-c", script, NULL};
                        pid_t pid = 0;
                        int fd = -1, grandchild = 0;
                        size_t len = 0;

                        CHECK_INT(spawn_piped(slow, &pid, &fd), 0, "spawn_piped");
                        CHECK_INT(getpgid(pid), pid, "the child leads its own process group");
                        kill(-pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                        close(fd);

                        snprintf(script, sizeof(script), "sleep 30 & echo $! > %s/gc; wait", dir);
                        CHECK_INT(run_capture(tree, 100, 300, &out), -ETIMEDOUT, "timeout of a tree");
                        snprintf(stat_path, sizeof(stat_path), "%s/gc", dir);
                        CHECK(read_file(stat_path, 100, &text, &len) == 0 &&
                                      sscanf(text, "%d", &grandchild) == 1,
                              "the grandchild's pid");
                        free(text);
                        text = NULL;
                        for (int i = 0; i < 100 && grandchild > 0; i++) {
                                FILE *f;
                                snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", grandchild);
                                f = fopen(stat_path, "r");
                                state = 'X'; /* gone */
                                if (f) {
                                        if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
                                                state = '?';
                                        fclose(f);
                                }
                                if (state == 'X' || state == 'Z')
                                        break;
                                usleep(10000);
                        }
                        CHECK(state == 'X' || state == 'Z',
                              "the grandchild is killed with the child: state %c", state);
                }

                sigemptyset(&hup);
                sigaddset(&hup, SIGHUP);
                sigprocmask(SIG_BLOCK, &hup, &old);
                signal(SIGPIPE, SIG_IGN);
                CHECK_INT(run_capture(sigs, 1000, 5000, &out), 0, "signal state");
                {
                        unsigned long long blk = ~0ULL, ign = ~0ULL;
                        CHECK(out && sscanf(out, "SigBlk: %llx SigIgn: %llx", &blk, &ign) == 2, "read: %s",
                              check_show(out));
                        CHECK_INT(blk & 0x7fffffffULL, 0, "no signal blocked in the child");
                        CHECK_INT(ign & 0x7fffffffULL, 0, "no signal ignored in the child");
                }
                free(out);
                signal(SIGPIPE, SIG_DFL);
                sigprocmask(SIG_SETMASK, &old, NULL);
        }
        return check_done();
}
