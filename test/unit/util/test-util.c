/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "util/names.h"
#include "util/util.h"

static const struct {
        const char *in;
        int r;
        uint64_t ms;
} dur_cases[] = {
        {"0", 0, 0},          {"90", 0, 90000},        {"250ms", 0, 250},   {"10s", 0, 10000},
        {"10m", 0, 600000},   {"2h", 0, 7200000},      {"1d", 0, 86400000}, {"1w", 0, 604800000},
        {"", -EINVAL, 0},     {"m", -EINVAL, 0},       {"10x", -EINVAL, 0}, {"-1", -EINVAL, 0},
        {"1.5h", -EINVAL, 0}, {" 10m", -EINVAL, 0},    {"10 m", -EINVAL, 0},
        {"99999999999999999999", -ERANGE, 0},
};

static const struct {
        uint64_t ms;
        const char *out;
} fmt_cases[] = {
        {0, "0s"}, {250, "250ms"}, {1000, "1s"}, {90000, "1m30s"}, {3600000, "1h"}, {86400000 + 3600000, "1d1h"},
};

static void collect_line(void *ctx, char *line, size_t len, unsigned lineno)
{
        buf_printf(ctx, "%u:%.*s|", lineno, (int)len, line);
}

static void collect_orphan(void *ctx, char *line, size_t len, unsigned lineno)
{
        buf_printf(ctx, "orphan %u:%.*s|", lineno, (int)len, line);
}

int main(void)
{
        for (size_t i = 0; i < sizeof(dur_cases) / sizeof(dur_cases[0]); i++) {
                uint64_t ms = 12345;
                int r = parse_duration(dur_cases[i].in, &ms);
                CHECK_INT(r, dur_cases[i].r, dur_cases[i].in);
                if (r == 0)
                        CHECK_INT(ms, dur_cases[i].ms, dur_cases[i].in);
        }
        for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
                char buf[32];
                CHECK_STR(format_duration(fmt_cases[i].ms, buf, sizeof(buf)), fmt_cases[i].out, "format_duration");
        }
        {
                char **v = split_list(" a, b ,c\td,,  e ");
                const char *want[] = {"a", "b", "c", "d", "e"};
                CHECK_INT(strv_length(v), 5, "split_list count");
                for (size_t i = 0; i < 5 && v[i]; i++)
                        CHECK_STR(v[i], want[i], "split_list item");
                strv_free(v);
                v = split_list("   ");
                CHECK_INT(strv_length(v), 0, "split_list of blanks");
                strv_free(v);
        }
        {
                uint64_t v;
                CHECK_INT(parse_uint("42", 100, &v), 0, "parse_uint 42");
                CHECK_INT(v, 42, "parse_uint value");
                CHECK_INT(parse_uint("101", 100, &v), -ERANGE, "parse_uint over max");
                CHECK_INT(parse_uint("4x", 100, &v), -EINVAL, "parse_uint junk");
                bool b;
                CHECK(parse_bool("yes", &b) == 0 && b, "yes");
                CHECK(parse_bool("Off", &b) == 0 && !b, "Off");
                CHECK_INT(parse_bool("maybe", &b), -EINVAL, "maybe");
        }
        {
                Buf b = {0};
                buf_printf(&b, "%s-%d", "x", 7);
                buf_append(&b, "yz", 2);
                CHECK_STR(b.data, "x-7yz", "buf");
                buf_free(&b);
        }
        {
                const char *dir = check_mktemp();
                char path[512];
                char *text = NULL;
                size_t len = 0;
                snprintf(path, sizeof(path), "%s/f", dir);
                CHECK_INT(write_file_atomic(path, "hello\n", 6, 0600), 0, "write_file_atomic");
                CHECK_INT(read_file(path, 100, &text, &len), 0, "read_file");
                CHECK_STR(text, "hello\n", "read back");
                free(text);
                CHECK_INT(read_file(path, 3, &text, &len), -EFBIG, "read_file over max");
                check_write(path, "");
                CHECK_INT(read_file(path, 100, &text, &len), 0, "read an empty file");
                CHECK(text && text[0] == '\0' && len == 0, "an empty file is an empty string");
                free(text);
                CHECK_INT(write_file_atomic(path, "bye\n", 4, 0600), 0, "replace");
                CHECK_INT(read_file(path, 100, &text, &len), 0, "read_file again");
                CHECK_STR(text, "bye\n", "replaced");
                free(text);
        }
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
                        char script[1024], stat_path[64], *text = NULL, state = '?';
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
        /* Postfix's logical lines: continuation, comments, blank lines, no final newline */
        {
                static const char text[] = " orphan\nk1 v1\n  cont\n# comment\n\n\tmore\n  # indented comment\nk2 v2";
                Buf b = {0};
                postfix_lines(text, sizeof(text) - 1, collect_line, collect_orphan, &b);
                CHECK_STR(b.data, "orphan 1: orphan|2:k1 v1 cont more|8:k2 v2|", "postfix_lines");
                buf_clear(&b);
                postfix_lines(text, sizeof(text) - 1, collect_line, NULL, &b);
                CHECK_STR(b.data, "2:k1 v1 cont more|8:k2 v2|", "without an orphan callback");
                buf_free(&b);
                /* an empty part of a map: (NULL, 0), which clang's UBSan caught as NULL + 0 */
                postfix_lines(NULL, 0, collect_line, collect_orphan, &b);
                CHECK(b.data == NULL, "nothing from (NULL, 0): got '%s'", check_show(b.data));
        }
        {
                char line[] = "ban  192.0.2.1\t1h", over[] = "a b c d";
                char *w[3];
                CHECK_INT(split_words(line, " \t", w, 3), 3, "split_words");
                CHECK(streq(w[0], "ban") && streq(w[1], "192.0.2.1") && streq(w[2], "1h"), "the words");
                CHECK_INT(split_words(over, " ", w, 3), 4, "more words than room: max + 1");
        }
        /* names: one id per distinct name */
        {
                Names *n = names_new();
                uint16_t a = 0, b = 0, c = 0;
                CHECK(names_intern(n, "sasl", &a) == 0 && names_intern(n, "rbl", &b) == 0, "intern");
                CHECK(names_intern(n, "sasl", &c) == 0 && c == a && a != b, "the same name, the same id");
                CHECK_STR(names_get(n, b), "rbl", "names_get");
                CHECK_STR(names_get(n, 999), "?", "an unknown id");
                names_free(n);
        }
        /* FNV-1a 64: the published test vectors, so that saved hashes stay valid */
        CHECK(fnv1a("", 0) == 0xcbf29ce484222325ULL, "fnv1a of nothing");
        CHECK(fnv1a("a", 1) == 0xaf63dc4c8601ec8cULL, "fnv1a of 'a'");
        CHECK(fnv1a("foobar", 6) == 0x85944171f73967e8ULL, "fnv1a of 'foobar'");
        return check_done();
}
