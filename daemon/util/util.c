/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * util: child processes (spawn_piped, run_capture).  The rest of what was
 * here has a file of its own in util/ (alloc, buf, diag, pfsyntax, duration,
 * str, file, hash); util/util.h includes them all.
 */
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* --- processes --------------------------------------------------------- */

int spawn_piped(char *const *argv, pid_t *pid, int *out_fd)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int pipefd[2], r;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
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
