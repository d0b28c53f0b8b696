/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * file: the file source (see file.h), tail + logline behind the
 * LogSource interface.
 *
 * The per-line path is what the daemon and --test spend their time in:
 * a line from tail (or from the one-shot read) is parsed in place by
 * logline_parse_at() and handed on as a record on the stack; nothing is
 * allocated and the clock is not read per line (the loop's time, or a
 * clock read every LINES_PER_CLOCK lines without a loop: it only places a
 * yearless stamp in its year).
 *
 * Security: a line's text comes in part from remote clients; it is only
 * split here (logline.c checks every length), never interpreted.  Lines
 * are cut at TAIL_MAX_LINE.  A saved position is parsed strictly and used
 * only for the log it names.
 */
#include "source/file.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#include "source/logline.h"
#include "source/source.h"
#include "util/linebuf.h"

#define LINES_PER_CLOCK 4096
/*
 * One-shot reads: 64 KiB, as tail's.  A bigger buffer saves system calls
 * but not time: past the L2 cache the kernel's copy into it and the
 * parse after it both go to memory (1 MiB cost --test twice the system
 * time on a million lines).
 */
#define READ_SIZE (1u << 16)

typedef struct FileSource {
        LogSource base;
        struct ev_loop *loop;
        char *path;
        Tail *tail; /* with a loop */
        /* without a loop: the one-shot read */
        int fd;
        LineBuf lb;
        uint64_t lines, bytes;
        int64_t now_ms;
} FileSource;

static void on_line(void *ctx, const char *line, size_t len)
{
        FileSource *f = ctx;
        LogRecord rec;
        int64_t now;

        if (f->loop)
                now = (int64_t)(ev_now(f->loop) * 1000.0);
        else {
                if (f->lines++ % LINES_PER_CLOCK == 0)
                        f->now_ms = now_ms();
                now = f->now_ms;
        }
        if (logline_parse_at(line, len, now, &rec) < 0) {
                f->base.counts.unparsed++;
                if (f->base.ops->unparsed)
                        f->base.ops->unparsed(f->base.ctx, line, len);
                return;
        }
        f->base.counts.records++;
        rec.line = line;
        rec.line_len = len;
        f->base.ops->record(f->base.ctx, &rec);
}

static void on_tail_problem(void *ctx)
{
        FileSource *f = ctx;

        if (f->base.ops->changed)
                f->base.ops->changed(f->base.ctx);
}

static void on_tail_report(void *ctx, int prio, SourceEvent ev, const char *text)
{
        FileSource *f = ctx;

        if (ev == SOURCE_EVENT_SKIPPED)
                f->base.counts.cut = tail_stats(f->tail)->cut;
        if (f->base.ops->report)
                f->base.ops->report(f->base.ctx, prio, ev, text);
}

static const TailOps tail_ops = {on_line, on_tail_problem, on_tail_report};

static int file_new(LogSource **out, struct ev_loop *loop, const SourceSettings *set, const LogSourceOps *ops,
                    void *ctx)
{
        FileSource *f;
        int r;

        (void)ops;
        (void)ctx;
        if (!set->log_file)
                return -EINVAL;
        f = xcalloc(1, sizeof(FileSource));
        f->loop = loop;
        f->path = xstrdup(set->log_file);
        f->fd = -1;
        f->base.label = f->base.what = f->path;
        if (loop) {
                r = tail_new(&f->tail, loop, f->path, &tail_ops, f);
                if (r < 0) {
                        free(f->path);
                        free(f);
                        return r;
                }
        }
        *out = &f->base;
        return 0;
}

static void file_free(LogSource *s)
{
        FileSource *f = (FileSource *)s;

        tail_free(f->tail);
        if (f->fd >= 0)
                close(f->fd);
        linebuf_free(&f->lb);
        free(f->path);
        free(f);
}

char *file_position_format(const char *log, const TailPos *pos, size_t n)
{
        Buf b = {0};

        for (size_t i = 0; i < n; i++)
                buf_printf(&b, "pos=%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu32 ",%016" PRIx64 "%s ",
                           pos[i].dev, pos[i].ino, pos[i].offset, pos[i].head_len, pos[i].head_hash,
                           pos[i].skip_line ? ",skip" : "");
        buf_printf(&b, "log=%s", log);
        return b.data;
}

static bool num_u64(const char *s, uint64_t *out)
{
        return parse_uint(s, UINT64_MAX, out) == 0;
}

static bool num_hex(const char *s, uint64_t *out)
{
        char *end;

        if (strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
                return false;
        *out = strtoull(s, &end, 16);
        return *end == '\0';
}

/* One "DEV,INO,OFFSET,HEAD_LEN,HASH[,skip]". */
static int parse_one(char *text, TailPos *p)
{
        char *w[7];
        size_t n = split_words(text, ",", w, 7);
        uint64_t hl;

        if ((n != 5 && (n != 6 || !streq(w[5], "skip"))) || !num_u64(w[0], &p->dev) ||
            !num_u64(w[1], &p->ino) || !num_u64(w[2], &p->offset) || !num_u64(w[3], &hl) ||
            hl > TAIL_HEAD_LEN || !num_hex(w[4], &p->head_hash))
                return -EINVAL;
        p->head_len = (uint32_t)hl;
        p->skip_line = n == 6;
        return 0;
}

int file_position_parse(const char *s, char **log, TailPos *pos, size_t max, size_t *n)
{
        *log = NULL;
        *n = 0;
        while (startswith(s, "pos=")) {
                const char *sp = strchr(s, ' ');
                _cleanup_free_ char *one = NULL;

                if (!sp || *n == max)
                        return -EINVAL;
                one = xstrndup(s + 4, (size_t)(sp - s - 4));
                if (parse_one(one, &pos[*n]) < 0)
                        return -EINVAL;
                (*n)++;
                s = sp + 1;
        }
        if (!startswith(s, "log=") || s[4] != '/' || strchr(s, '\n'))
                return -EINVAL;
        *log = xstrdup(s + 4);
        return 0;
}

static int file_start(LogSource *s, const char *position, bool from_beginning, char **why)
{
        FileSource *f = (FileSource *)s;
        TailPos pos[TAIL_MAX_POS];
        _cleanup_free_ char *log = NULL;
        size_t n = 0;

        if (!f->loop) {
                /* one-shot: the whole file from its start */
                f->fd = streq(f->path, "-") ? dup(STDIN_FILENO) : open(f->path, O_RDONLY | O_CLOEXEC);
                if (f->fd < 0)
                        return -errno;
                linebuf_init(&f->lb, TAIL_MAX_LINE);
                return 0;
        }
        if (position && file_position_parse(position, &log, pos, TAIL_MAX_POS, &n) < 0) {
                *why = xstrdup("the saved position of the log file cannot be read");
                n = 0;
        } else if (position && !streq(log, f->path)) {
                *why = xasprintf("the saved position is for %s", log);
                n = 0;
        }
        return tail_start(f->tail, n ? pos : NULL, n, from_beginning);
}

static void file_poll(LogSource *s)
{
        FileSource *f = (FileSource *)s;

        if (f->tail)
                tail_poll_now(f->tail);
}

static int file_read_all(LogSource *s)
{
        FileSource *f = (FileSource *)s;
        _cleanup_free_ char *buf = NULL;

        if (f->tail) {
                tail_poll_now(f->tail);
                return 0;
        }
        if (f->fd < 0)
                return -EBADF;
        buf = xmalloc(READ_SIZE);
        for (;;) {
                ssize_t n = read(f->fd, buf, READ_SIZE);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                f->bytes += (uint64_t)n;
                linebuf_feed(&f->lb, buf, (size_t)n, on_line, f);
        }
        if (f->lb.len > 0) { /* a last line without its newline */
                on_line(f, f->lb.buf, f->lb.len);
                f->lb.len = 0;
        }
        f->base.counts.cut = f->lb.cut;
        return 0;
}

static char *file_position(LogSource *s)
{
        FileSource *f = (FileSource *)s;
        TailPos pos[TAIL_MAX_POS];

        if (!f->tail)
                return NULL;
        return file_position_format(f->path, pos, tail_positions(f->tail, pos, TAIL_MAX_POS));
}

static const char *file_problem(const LogSource *s)
{
        const FileSource *f = (const FileSource *)s;

        return f->tail ? tail_problem(f->tail) : NULL;
}

/* Lines, bytes, cut, rotations, truncations: tail's, or the one-shot read's. */
static TailStats file_stats(const FileSource *f)
{
        if (f->tail)
                return *tail_stats(f->tail);
        return (TailStats){.lines = f->lines, .bytes = f->bytes, .cut = f->lb.cut};
}

static void file_status(const LogSource *s, Buf *out)
{
        const FileSource *f = (const FileSource *)s;
        TailStats ts = file_stats(f);

        buf_printf(out, "log: %s (%s)\n", f->path, file_problem(s) ? file_problem(s) : "open");
        buf_printf(out,
                   "lines read: %llu (%llu bytes, %llu cut, %llu rotations, %llu truncations, %llu "
                   "without a syslog header)\n",
                   (unsigned long long)ts.lines, (unsigned long long)ts.bytes, (unsigned long long)ts.cut,
                   (unsigned long long)ts.rotations, (unsigned long long)ts.truncations,
                   (unsigned long long)s->counts.unparsed);
}

static void file_summary(const LogSource *s, Buf *out)
{
        TailStats ts = file_stats((const FileSource *)s);

        buf_printf(out, "%llu lines (%llu bytes, %llu cut, %llu rotations, %llu truncations)",
                   (unsigned long long)ts.lines, (unsigned long long)ts.bytes, (unsigned long long)ts.cut,
                   (unsigned long long)ts.rotations, (unsigned long long)ts.truncations);
}

const LogSourceClass file_source_class = {
        .kind = "file",
        .create = file_new,
        .start = file_start,
        .poll = file_poll,
        .read_all = file_read_all,
        .position = file_position,
        .problem = file_problem,
        .status = file_status,
        .summary = file_summary,
        .free = file_free,
};
