/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * util/panic: a panic reaches the hook once (or stderr), then aborts; ASSERT
 * panics with the expression and its place.  Each case runs in a child, whose
 * stderr and exit are checked.
 */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "check.h"
#include "util/buf.h"
#include "util/panic.h"

static void hook_to_stderr(const char *msg) { fprintf(stderr, "hook: %s\n", msg); }

/* A hook that panics itself: the second panic must not loop through it. */
static void hook_that_panics(const char *msg) { panic("again, after '%s'", msg); }

static int counted;
static int count(void) { return ++counted; }

static void do_plain(void) { panic("map %s: entry %d", "x", 42); }
static void do_errno(void)
{
        errno = ENOENT;
        panic("open: %m");
}
static void do_hook(void)
{
        panic_set_hook(hook_to_stderr);
        panic("with a hook");
}
static void do_recursive(void)
{
        panic_set_hook(hook_that_panics);
        panic("first");
}
static void do_assert(void)
{
        int n = 3;
        ASSERT(n < 2);
}

/* Run fn in a child; its stderr in *out; its wait status returned. */
static int run(void (*fn)(void), char **out)
{
        int p[2], status = 0;
        Buf b = {0};
        pid_t pid;

        if (pipe(p) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                struct rlimit none = {0, 0};
                (void)setrlimit(RLIMIT_CORE, &none); /* no core files from the tests */
                dup2(p[1], STDERR_FILENO);
                close(p[0]);
                close(p[1]);
                fn();
                _exit(0); /* not reached if fn panicked */
        }
        close(p[1]);
        for (;;) {
                char chunk[512];
                ssize_t n = read(p[0], chunk, sizeof(chunk));
                if (n <= 0)
                        break;
                buf_append(&b, chunk, (size_t)n);
        }
        close(p[0]);
        waitpid(pid, &status, 0);
        *out = b.data ? b.data : strdup("");
        return status;
}

int main(void)
{
        static const struct {
                const char *name;
                void (*fn)(void);
                const char *want;
        } cases[] = {
                {"no hook: stderr", do_plain, "test-panic: panic: map x: entry 42\n"},
                {"%m is the errno of the caller", do_errno, "test-panic: panic: open: No such file or directory\n"},
                {"the hook gets the message", do_hook, "hook: with a hook\n"},
                {"a panic in the hook goes to stderr", do_recursive, "test-panic: panic: again, after 'first'\n"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *out = NULL;
                int status = run(cases[i].fn, &out);
                CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s: aborted (status %#x)", cases[i].name,
                      status);
                CHECK_STR(out, cases[i].want, cases[i].name);
                free(out);
        }
        {
                char *out = NULL;
                int status = run(do_assert, &out);
                CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "ASSERT: aborted (status %#x)", status);
                CHECK(strstr(out, "test-panic.c:") && strstr(out, ": do_assert: assertion 'n < 2' failed\n"),
                      "ASSERT names the place and the expression: %s", out);
                free(out);
        }
        /* a true assertion costs one evaluation and nothing else */
        ASSERT(count() == 1);
        CHECK_INT(counted, 1, "ASSERT evaluates its condition once");
        return check_done();
}
