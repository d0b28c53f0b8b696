/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/util.c: the child processes (spawn_piped, run_capture). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "util/util.h"

int main(void)
{
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
                        char script[1024], stat_path[512], *text = NULL, state = '?';
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
                        CHECK(read_file(stat_path, 100, &text, &len) == 0 && sscanf(text, "%d", &grandchild) == 1,
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
                        CHECK(state == 'X' || state == 'Z', "the grandchild is killed with the child: state %c",
                              state);
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
