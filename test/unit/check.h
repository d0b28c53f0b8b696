/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * A minimal harness for table-driven unit tests: CHECK() reports
 * "file:line: got ... want ..." and counts failures; a test's main()
 * ends with `return check_done();`.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                                           \
        do {                                                                                       \
                check_count++;                                                                     \
                if (!(cond)) {                                                                     \
                        check_failures++;                                                          \
                        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                            \
                        fprintf(stderr, __VA_ARGS__);                                              \
                        fputc('\n', stderr);                                                       \
                }                                                                                  \
        } while (0)

static inline int check_streq(const char *got, const char *want)
{
        return (!got && !want) || (got && want && strcmp(got, want) == 0);
}
static inline const char *check_show(const char *s) { return s ? s : "(null)"; }

#define CHECK_STR(got, want, what)                                                                 \
        CHECK(check_streq((got), (want)), "%s: got '%s' want '%s'", (what), check_show(got),      \
              check_show(want))

#define CHECK_INT(got, want, what)                                                                 \
        CHECK((long long)(got) == (long long)(want), "%s: got %lld want %lld", (what),             \
              (long long)(got), (long long)(want))

static inline int check_done(void)
{
        if (check_failures)
                fprintf(stderr, "%d of %d checks failed\n", check_failures, check_count);
        else
                printf("%d checks passed\n", check_count);
        return check_failures ? 1 : 0;
}

/* A scratch folder for the test, removed at exit (best effort). */
static char check_tmpdir[256];
static void check_rmtmp(void)
{
        char cmd[300];
        if (check_tmpdir[0]) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", check_tmpdir);
                (void)!system(cmd);
        }
}
static inline const char *check_mktemp(void)
{
        const char *base = getenv("TMPDIR");
        snprintf(check_tmpdir, sizeof(check_tmpdir), "%s/abl-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(check_tmpdir)) {
                perror("mkdtemp");
                exit(2);
        }
        atexit(check_rmtmp);
        return check_tmpdir;
}

/* Write text to dir/name; returns the path (static buffer per call site is the caller's). */
static inline void check_write(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        if (!f) {
                perror(path);
                exit(2);
        }
        fputs(text, f);
        fclose(f);
}
