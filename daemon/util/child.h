/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Child processes: postmap and postconf, run without a shell, each the
 * leader of a process group of its own, so that a timeout kills what it
 * started too.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Start argv (no shell, looked up in PATH) with stdin from /dev/null, and
 * stdout and stderr into a pipe whose reading end (close-on-exec) goes to
 * *out_fd.  The child starts with no signal blocked and every signal at its
 * default, whatever the daemon has blocked or ignored, as the leader of a
 * process group of its own (kill(-pid, ...) reaches its children too).
 * 0, or -errno.
 */
int spawn_piped(char *const *argv, pid_t *pid, int *out_fd);
/* The same with stdin from the file stdin_path (opened O_NOFOLLOW; a missing one fails the child). */
int spawn_piped_in(char *const *argv, const char *stdin_path, pid_t *pid, int *out_fd);

/*
 * Run argv (no shell), wait for it at most timeout_ms, and return its
 * standard output (up to max bytes) in *out.  0 if it exited with status 0;
 * -EIO (with what it printed in *out) if not; -ETIMEDOUT; -errno.
 */
int run_capture(char *const *argv, size_t max, int timeout_ms, char **out);

/*
 * The runner on the loop: one child at a time, started either as a
 * program (child_run_exec, as spawn_piped starts it) or as a function of
 * ours in a forked copy of the process (child_run_fork: a copy-on-write
 * snapshot of the daemon's memory, for work that must not block the
 * loop).  Either way the child leads a process group of its own, its
 * output (stdout and stderr of a program; what the function writes to
 * its descriptor) is collected up to a limit, and a timeout kills the
 * whole group.  done() runs on the loop once the child has exited and
 * its output is read; it may start the next child.
 */
struct ev_loop;
typedef struct ChildRun ChildRun;

typedef struct ChildResult {
        pid_t pid;
        bool timed_out;  /* killed with its group at the timeout */
        int status;      /* as waitpid() gives it */
        const char *out; /* what it wrote, NUL-terminated (never NULL) */
        size_t out_len;
} ChildResult;

typedef void (*ChildDoneFn)(void *ctx, const ChildResult *res);
/*
 * Runs in the forked child: write the result to fd; the return value is
 * the exit status.  It must not touch the loop, and it ends with _exit()
 * (no atexit handler, no stdio buffer of the parent flushed twice).  A
 * forked child dies with the daemon (PR_SET_PDEATHSIG).
 */
typedef int (*ChildFn)(void *ctx, int fd);

ChildRun *child_run_new(struct ev_loop *loop, ChildDoneFn done, void *ctx);
/* Kills a child under way (with its group) without calling done. */
ChildRun *child_run_free(ChildRun *c);
/* 0, -EBUSY (a child runs), or -errno (it could not start). */
int child_run_exec(ChildRun *c, char *const *argv, uint64_t timeout_ms, size_t max_out);
/* child_run_exec with stdin from the file stdin_path (postmap -i reads its entries there). */
int child_run_exec_in(ChildRun *c, char *const *argv, const char *stdin_path, uint64_t timeout_ms,
                      size_t max_out);
int child_run_fork(ChildRun *c, ChildFn fn, void *fn_ctx, uint64_t timeout_ms, size_t max_out);
/* Kill the child under way and its group now; done is not called. */
void child_run_stop(ChildRun *c);
bool child_run_busy(const ChildRun *c);
/* The pid of the child under way, or 0. */
pid_t child_run_pid(const ChildRun *c);
