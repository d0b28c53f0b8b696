/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Small helpers shared by every module.
 *
 * Error convention (used everywhere in daemon/): functions return int, 0 on
 * success and -errno on failure.  Running out of memory is not an error a
 * mail filter can handle sensibly, so the x*() allocators abort instead of
 * returning NULL, and no caller has a half-handled NULL path.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _unused_ __attribute__((unused))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand an owned pointer over: `*out = TAKE_PTR(x);` leaves x NULL. */
#define TAKE_PTR(p)                                                            \
        ({                                                                     \
                __typeof__(p) _p = (p);                                        \
                (p) = NULL;                                                    \
                _p;                                                            \
        })
#define TAKE_FD(fd)                                                            \
        ({                                                                     \
                int _fd = (fd);                                                \
                (fd) = -1;                                                     \
                _fd;                                                           \
        })

static inline void freep(void *p) { free(*(void **)p); }
/* free(p) and return NULL: `p = mfree(p);` */
static inline void *mfree(void *p)
{
        free(p);
        return NULL;
}
static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

_noreturn_ void oom(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray(p, n, size) with an overflow check on n * size. */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

/* Grow *array (of *cap elements of size bytes) so that it holds need. */
void grow_array(void **array, size_t *cap, size_t need, size_t size);
#define GROW(array, cap, need) grow_array((void **)&(array), &(cap), (need), sizeof(*(array)))

/*
 * A growable byte buffer.  data is always NUL-terminated, so a Buf holding
 * text can be used as a C string.
 */
typedef struct Buf {
        char *data;
        size_t len;
        size_t cap;
} Buf;

void buf_append(Buf *b, const void *data, size_t len);
void buf_puts(Buf *b, const char *s);
void buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
void buf_vprintf(Buf *b, const char *fmt, va_list ap) _printf_(2, 0) __attribute__((nonnull(2)));
void buf_clear(Buf *b);
void buf_free(Buf *b);
static inline void buf_freep(Buf *b) { buf_free(b); }
#define _cleanup_buf_ _cleanup_(buf_freep)

/*
 * A list of diagnostics, each "file:line: message".  Parsers collect every
 * problem instead of stopping at the first, so that --check shows them all
 * and a rejected reload logs them all.
 */
typedef struct Diags {
        char **items;
        size_t n;
        size_t cap;
} Diags;

void diags_add(Diags *d, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);
void diags_free(Diags *d);
/* Print each item on a line of its own, after prefix. */
void diags_print(FILE *f, const Diags *d, const char *prefix);

/*
 * Postfix's logical lines, as main.cf and postmap(1) input have them: a
 * line that starts with white space continues the one before it (joined
 * by one space, its leading white space dropped); blank lines and lines
 * whose first non-white byte is '#' are skipped.  fn gets each logical
 * line, NUL-terminated and writable, with the number of its first line.
 * A continuation with no line before it goes to orphan (if not NULL) on
 * its own, with its white space.
 */
typedef void (*LogicalLineFn)(void *ctx, char *line, size_t len, unsigned lineno);
void postfix_lines(const char *text, size_t len, LogicalLineFn fn, LogicalLineFn orphan, void *ctx);

/*
 * Durations are kept in milliseconds.  The text form is a non-negative
 * integer with an optional unit: ms, s, m, h, d, w (a bare number is
 * seconds), e.g. "250ms", "10m", "1d".
 */
int parse_duration(const char *s, uint64_t *out_ms);
/* Render a duration compactly ("1h30m", "250ms", "0s"). */
char *format_duration(uint64_t ms, char *buf, size_t size);
int parse_uint(const char *s, uint64_t max, uint64_t *out);
int parse_bool(const char *s, bool *out);

/* Trim ASCII white space at both ends, in place; returns s. */
char *strip(char *s);
/* Does s start with prefix? */
static inline bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}
static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
bool endswith(const char *s, const char *suffix);

/*
 * Split s into words separated by commas and/or white space (the list
 * syntax of the config file).  Returns a NULL-terminated array, to be freed
 * with strv_free().
 */
char **split_list(const char *s);
/*
 * Split line in place at any of delims into at most max words (pointers
 * into line).  Returns the count, or max + 1 if there are more words.
 */
size_t split_words(char *line, const char *delims, char **w, size_t max);
size_t strv_length(char **v);
/* A deep copy of the NULL-terminated v. */
char **strv_copy(char **v);
void strv_free(char **v);
static inline void strv_freep(char ***v) { strv_free(*v); }
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Read a whole file (at most max bytes) into a NUL-terminated buffer. */
int read_file(const char *path, size_t max, char **out, size_t *out_len);
/* write() all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/*
 * Replace path atomically with data: an O_EXCL temporary file beside it,
 * written, fsynced and closed with checks, renamed over path, and the
 * folder fsynced.  mode is used for a new file.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* fsync() the folder that holds path, so that a rename in it is durable. */
int fsync_parent(const char *path);

/*
 * Start argv (no shell, looked up in PATH) with stdin from /dev/null, and
 * stdout and stderr into a pipe whose reading end (close-on-exec) goes to
 * *out_fd.  The child starts with no signal blocked and every signal at its
 * default, whatever the daemon has blocked or ignored, as the leader of a
 * process group of its own (kill(-pid, ...) reaches its children too).
 * 0, or -errno.
 */
int spawn_piped(char *const *argv, pid_t *pid, int *out_fd);

/*
 * Run argv (no shell), wait for it at most timeout_ms, and return its
 * standard output (up to max bytes) in *out.  0 if it exited with status 0;
 * -EIO (with what it printed in *out) if not; -ETIMEDOUT; -errno.
 */
int run_capture(char *const *argv, size_t max, int timeout_ms, char **out);

/*
 * FNV-1a, 64 bits: a checksum against accidents (a damaged state file, a
 * file that no longer starts as it did), not against an adversary.
 */
uint64_t fnv1a(const void *data, size_t len);

/* Wall-clock time in milliseconds since the epoch. */
int64_t now_ms(void);
/* Format a wall-clock time (ms) as RFC 3339 in UTC: 2026-11-30T10:00:01Z */
char *format_time(int64_t ms, char *buf, size_t size);
