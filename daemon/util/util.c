/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * util: allocation, buffers, diagnostics lists, durations, small string and
 * file helpers.  Nothing here knows about mail; everything here is pure
 * except the file helpers, which name the file in every error they return
 * through errno.
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

void oom(void)
{
        static const char msg[] = "autoblacklistd: out of memory\n";
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
        if (size && n > SIZE_MAX / size)
                oom();
        return xrealloc(p, n * size);
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

void *xmemdup(const void *p, size_t n)
{
        void *q = xmalloc(n);
        if (n)
                memcpy(q, p, n);
        return q;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                oom();
        va_end(ap);
        return s;
}

void grow_array(void **array, size_t *cap, size_t need, size_t size)
{
        size_t n;

        if (need <= *cap)
                return;
        n = *cap ? *cap : 8;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        oom();
                n *= 2;
        }
        *array = xreallocarray(*array, n, size);
        *cap = n;
}

/* --- Buf --------------------------------------------------------------- */

static void buf_reserve(Buf *b, size_t extra)
{
        size_t need;

        if (extra > SIZE_MAX - b->len - 1)
                oom();
        need = b->len + extra + 1;
        if (need > b->cap) {
                size_t n = b->cap ? b->cap : 64;
                while (n < need)
                        n = n > SIZE_MAX / 2 ? need : n * 2;
                b->data = xrealloc(b->data, n);
                b->cap = n;
        }
}

void buf_append(Buf *b, const void *data, size_t len)
{
        buf_reserve(b, len);
        if (len)
                memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
}

void buf_puts(Buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_vprintf(Buf *b, const char *fmt, va_list ap)
{
        va_list aq;
        char probe[1];
        int n;

        va_copy(aq, ap);
        n = vsnprintf(probe, sizeof(probe), fmt, aq);
        va_end(aq);
        if (n < 0)
                oom();
        buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
}

void buf_printf(Buf *b, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        buf_vprintf(b, fmt, ap);
        va_end(ap);
}

void buf_clear(Buf *b)
{
        b->len = 0;
        if (b->data)
                b->data[0] = '\0';
}

void buf_free(Buf *b)
{
        free(b->data);
        *b = (Buf){0};
}

/* --- Diags ------------------------------------------------------------- */

void diags_add(Diags *d, const char *file, unsigned line, const char *fmt, ...)
{
        Buf b = {0};
        va_list ap;

        if (file && line)
                buf_printf(&b, "%s:%u: ", file, line);
        else if (file)
                buf_printf(&b, "%s: ", file);
        va_start(ap, fmt);
        buf_vprintf(&b, fmt, ap);
        va_end(ap);
        GROW(d->items, d->cap, d->n + 1);
        d->items[d->n++] = b.data;
}

void diags_free(Diags *d)
{
        for (size_t i = 0; i < d->n; i++)
                free(d->items[i]);
        free(d->items);
        *d = (Diags){0};
}

void diags_print(FILE *f, const Diags *d, const char *prefix)
{
        for (size_t i = 0; i < d->n; i++)
                fprintf(f, "%s%s\n", prefix, d->items[i]);
}

/* --- Postfix's logical lines ------------------------------------------- */

void postfix_lines(const char *text, size_t len, LogicalLineFn fn, LogicalLineFn orphan, void *ctx)
{
        const char *p, *end;
        Buf logical = {0};
        unsigned lineno = 0, first = 0;

        /* An empty part of a map may be (NULL, 0); NULL + 0 is undefined. */
        if (len == 0)
                return;
        p = text;
        end = text + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *eol = nl ? nl : end, *s = p;

                lineno++;
                while (s < eol && (*s == ' ' || *s == '\t'))
                        s++;
                if (s == eol || *s == '#') {
                        /* blank or comment: skipped */
                } else if (s == p) {
                        if (logical.len)
                                fn(ctx, logical.data, logical.len, first);
                        buf_clear(&logical);
                        buf_append(&logical, p, (size_t)(eol - p));
                        first = lineno;
                } else if (logical.len) {
                        buf_append(&logical, " ", 1);
                        buf_append(&logical, s, (size_t)(eol - s));
                } else if (orphan) {
                        _cleanup_free_ char *line = xstrndup(p, (size_t)(eol - p));
                        orphan(ctx, line, (size_t)(eol - p), lineno);
                }
                p = nl ? nl + 1 : end;
        }
        if (logical.len)
                fn(ctx, logical.data, logical.len, first);
        buf_free(&logical);
}

/* --- numbers and durations --------------------------------------------- */

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
        uint64_t v = 0;

        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        for (; isdigit((unsigned char)*s); s++) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*s)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *out = v;
        return 0;
}

static const struct {
        const char *suffix;
        uint64_t ms;
} duration_units[] = {
        {"ms", 1},          {"s", 1000},           {"m", 60 * 1000},
        {"h", 3600 * 1000}, {"d", 86400 * 1000ULL}, {"w", 7 * 86400 * 1000ULL},
};

int parse_duration(const char *s, uint64_t *out_ms)
{
        const char *p = s;
        uint64_t v = 0, mult = 1000;
        bool unit_found = false;

        if (!s || !isdigit((unsigned char)*p))
                return -EINVAL;
        for (; isdigit((unsigned char)*p); p++) {
                unsigned d = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*p) {
                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                        if (streq(p, duration_units[i].suffix)) {
                                mult = duration_units[i].ms;
                                unit_found = true;
                                break;
                        }
                if (!unit_found)
                        return -EINVAL;
        }
        /* Cap at about 290 million years; anything bigger is a typo. */
        if (v > (UINT64_MAX / 1000) / mult)
                return -ERANGE;
        *out_ms = v * mult;
        return 0;
}

char *format_duration(uint64_t ms, char *buf, size_t size)
{
        static const struct {
                const char *unit;
                uint64_t ms;
        } parts[] = {{"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL}};
        size_t used = 0;

        buf[0] = '\0';
        if (ms % 1000) {
                snprintf(buf, size, "%llums", (unsigned long long)ms);
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                uint64_t n = ms / parts[i].ms;
                if (n == 0)
                        continue;
                ms -= n * parts[i].ms;
                used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%llu%s",
                                         (unsigned long long)n, parts[i].unit);
        }
        if (used == 0)
                snprintf(buf, size, "0s");
        return buf;
}

int parse_bool(const char *s, bool *out)
{
        static const char *yes[] = {"yes", "true", "on", "1"};
        static const char *no[] = {"no", "false", "off", "0"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* --- strings ----------------------------------------------------------- */

char *strip(char *s)
{
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

bool endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

size_t split_words(char *line, const char *delims, char **w, size_t max)
{
        size_t n = 0;
        char *save = NULL;

        for (char *t = strtok_r(line, delims, &save); t; t = strtok_r(NULL, delims, &save)) {
                if (n == max)
                        return max + 1;
                w[n++] = t;
        }
        return n;
}

char **split_list(const char *s)
{
        char **v = NULL;
        size_t n = 0, cap = 0;

        for (;;) {
                const char *start;

                while (*s && (*s == ',' || isspace((unsigned char)*s)))
                        s++;
                if (!*s)
                        break;
                start = s;
                while (*s && *s != ',' && !isspace((unsigned char)*s))
                        s++;
                GROW(v, cap, n + 2);
                v[n++] = xstrndup(start, (size_t)(s - start));
        }
        GROW(v, cap, n + 1);
        v[n] = NULL;
        return v;
}

char **strv_copy(char **v)
{
        size_t n = strv_length(v);
        char **c = xcalloc(n + 1, sizeof(char *));

        for (size_t i = 0; i < n; i++)
                c[i] = xstrdup(v[i]);
        return c;
}

size_t strv_length(char **v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* --- files ------------------------------------------------------------- */

int read_file(const char *path, size_t max, char **out, size_t *out_len)
{
        _cleanup_close_ int fd = -1;
        Buf b = {0};
        char chunk[65536];

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf_append(&b, "", 0); /* an empty file is an empty string */
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        int r = -errno;
                        if (r == -EINTR)
                                continue;
                        buf_free(&b);
                        return r;
                }
                if (n == 0)
                        break;
                if (b.len + (size_t)n > max) {
                        buf_free(&b);
                        return -EFBIG;
                }
                buf_append(&b, chunk, (size_t)n);
        }
        *out = b.data;
        if (out_len)
                *out_len = b.len;
        return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int fsync_parent(const char *path)
{
        _cleanup_free_ char *copy = xstrdup(path);
        _cleanup_close_ int dfd = -1;

        dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-autoblacklist", path);
        int fd, r;

        (void)unlink(tmp); /* a leftover from a crash */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        (void)fsync_parent(path);
        return 0;
}

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

uint64_t fnv1a(const void *data, size_t len)
{
        const uint8_t *p = data;
        uint64_t h = 14695981039346656037ULL;

        for (size_t i = 0; i < len; i++)
                h = (h ^ p[i]) * 1099511628211ULL;
        return h;
}

/* --- time -------------------------------------------------------------- */

int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *format_time(int64_t ms, char *buf, size_t size)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "@%lld", (long long)(ms / 1000));
        return buf;
}
