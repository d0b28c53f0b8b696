/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The LogSource interface: the registry, the file source's position
 * string (round trip, and what is refused), and the file source itself
 * on a real file: followed with a loop, stopped, started again from the
 * saved position string (it reads exactly the rest), a position of
 * another log, a one-shot read, and what it reports.
 */
#include <errno.h>
#include <ev.h>
#include <syslog.h>

#include "check.h"
#include "source/file.h"
#include "source/source.h"

typedef struct Seen {
        char msgs[64][128];
        size_t n;
        uint64_t unparsed;
        size_t reports;
        char last_report[512];
        SourceEvent last_ev;
        int last_prio;
} Seen;

static void on_record(void *ctx, const LogRecord *rec)
{
        Seen *s = ctx;

        if (s->n < 64)
                snprintf(s->msgs[s->n], sizeof(s->msgs[0]), "%.*s[%d]: %.*s", (int)rec->tag_len, rec->tag,
                         (int)rec->pid, (int)rec->msg_len, rec->msg);
        s->n++;
}

static void on_unparsed(void *ctx, const char *line, size_t len)
{
        (void)line;
        (void)len;
        ((Seen *)ctx)->unparsed++;
}

static void on_report(void *ctx, int prio, SourceEvent ev, const char *text)
{
        Seen *s = ctx;

        s->reports++;
        s->last_prio = prio;
        s->last_ev = ev;
        snprintf(s->last_report, sizeof(s->last_report), "%s", text);
}

static const LogSourceOps ops = {on_record, on_unparsed, on_report, NULL};

static void append(const char *path, const char *text)
{
        FILE *f = fopen(path, "a");

        if (!f) {
                perror(path);
                exit(2);
        }
        fputs(text, f);
        fclose(f);
}

/* "Nov 30 10:00:0N mx postfix/smtpd[100+N]: line N\n" for N in [from, to). */
static void append_lines(const char *path, int from, int to)
{
        char line[128];

        for (int i = from; i < to; i++) {
                snprintf(line, sizeof(line), "Nov 30 10:00:%02d mx postfix/smtpd[%d]: line %d\n", i % 60,
                         100 + i, i);
                append(path, line);
        }
}

static void check_lines(const Seen *s, int from, int to, const char *what)
{
        char want[128];

        CHECK(s->n == (size_t)(to - from), "%s: %zu records, want %d", what, s->n, to - from);
        for (int i = from; i < to && (size_t)(i - from) < s->n; i++) {
                snprintf(want, sizeof(want), "postfix/smtpd[%d]: line %d", 100 + i, i);
                CHECK_STR(s->msgs[i - from], want, what);
        }
}

static void test_registry(void)
{
        const char *const *k = source_kinds();

        CHECK(source_class("file") && streq(source_class("file")->kind, "file"), "file is registered");
        CHECK(source_class("journal") && streq(source_class("journal")->kind, "journal"),
              "journal is registered");
        CHECK(source_class("auto") == NULL && source_class("") == NULL && source_class("File") == NULL,
              "only registered kinds");
        CHECK(k[0] && streq(k[0], "file") && k[1] && streq(k[1], "journal") && !k[2], "the kinds in order");
        {
                LogSource *s = (LogSource *)1;
                CHECK_INT(source_new(&s, "nope", NULL, &(SourceSettings){.log_file = "/x"}, &ops, NULL),
                          -EINVAL, "an unknown kind");
                CHECK(s == NULL, "no source made");
        }
}

static void test_position_strings(void)
{
        static const struct {
                const char *log;
                TailPos pos[2];
                size_t n;
                const char *text;
        } good[] = {
                {"/var/log/mail.log", {{0}}, 0, "log=/var/log/mail.log"},
                {"/var/log/mail.log",
                 {{.dev = 2049,
                   .ino = 131,
                   .offset = 123456789,
                   .head_len = 256,
                   .head_hash = 0xdeadbeefcafef00dULL},
                  {.dev = 2049, .ino = 99, .offset = 5, .head_len = 5, .head_hash = 1, .skip_line = true}},
                 2,
                 "pos=2049,131,123456789,256,deadbeefcafef00d pos=2049,99,5,5,0000000000000001,skip "
                 "log=/var/log/mail.log"},
                /* the path is last: it may hold spaces, commas and "pos=" */
                {"/var/log/a b,c pos=1",
                 {{.dev = UINT64_MAX, .ino = 0, .offset = UINT64_MAX}},
                 1,
                 "pos=18446744073709551615,0,18446744073709551615,0,0000000000000000 log=/var/log/a b,c "
                 "pos=1"},
        };
        static const char *const bad[] = {
                "",
                "log=",
                "log=relative/path",
                "pos=1,2,3,4,0000000000000005",
                "pos=1,2,3,4 log=/x",
                "pos=1,2,3,4,0000000000000005,what log=/x",
                "pos=1,2,3,257,0000000000000005 log=/x",
                "pos=1,2,3,4,000000000000000g log=/x",
                "pos=1,2,3,4,5 log=/x",
                "pos=-1,2,3,4,0000000000000005 log=/x",
                "pos=1,2,3,4,0000000000000005  log=/x",
                "pos=1,2,3,4,0000000000000005 pos=1,2,3,4,0000000000000005 pos=1,2,3,4,0000000000000005 "
                "pos=1,2,3,4,0000000000000005 pos=1,2,3,4,0000000000000005 pos=1,2,3,4,0000000000000005 "
                "pos=1,2,3,4,0000000000000005 pos=1,2,3,4,0000000000000005 pos=1,2,3,4,0000000000000005 "
                "log=/x",
                "source file log=/x",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *text = file_position_format(good[i].log, good[i].pos, good[i].n);
                _cleanup_free_ char *log = NULL;
                TailPos back[TAIL_MAX_POS];
                size_t n = 99;

                CHECK_STR(text, good[i].text, "formatted");
                CHECK_INT(file_position_parse(text, &log, back, TAIL_MAX_POS, &n), 0, good[i].text);
                CHECK_STR(log, good[i].log, "the log back");
                CHECK_INT(n, good[i].n, "positions back");
                for (size_t k = 0; k < n && k < good[i].n; k++) {
                        const TailPos *a = &back[k], *b = &good[i].pos[k];
                        CHECK(a->dev == b->dev && a->ino == b->ino && a->offset == b->offset &&
                                      a->head_len == b->head_len && a->head_hash == b->head_hash &&
                                      a->skip_line == b->skip_line,
                              "%s: position %zu back", good[i].text, k);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *log = NULL;
                TailPos back[TAIL_MAX_POS];
                size_t n;
                CHECK(file_position_parse(bad[i], &log, back, TAIL_MAX_POS, &n) == -EINVAL, "refused: '%s'",
                      bad[i]);
        }
}

/* A followed file: start at the end, read what comes, restart from the saved position. */
static void test_file_follow(const char *dir, struct ev_loop *loop)
{
        char path[512], other[512];
        _cleanup_free_ char *pos = NULL, *pos2 = NULL;
        LogSource *s;
        Seen seen = {0};
        char *why = NULL;
        _cleanup_buf_ Buf status = {0}, summary = {0};

        snprintf(path, sizeof(path), "%s/mail.log", dir);
        snprintf(other, sizeof(other), "%s/other.log", dir);
        append_lines(path, 0, 3); /* before the start: not ours (start at the end) */

        CHECK_INT(source_new(&s, "file", loop, &(SourceSettings){.log_file = path}, &ops, &seen), 0, "new");
        CHECK_STR(source_kind(s), "file", "kind");
        CHECK_STR(source_label(s), path, "label");
        CHECK_INT(source_start(s, NULL, false, &why), 0, "start at the end");
        CHECK(why == NULL, "no position, no reason");
        CHECK(source_problem(s) == NULL, "followed: %s", check_show(source_problem(s)));
        CHECK_INT(seen.n, 0, "nothing read at the end");
        append_lines(path, 3, 5);
        append(path, "no header at all\n");
        source_poll(s);
        check_lines(&seen, 3, 5, "what came after the start");
        CHECK_INT(seen.unparsed, 1, "the line without a header");
        CHECK_INT(source_counts(s)->records, 2, "records counted");
        CHECK_INT(source_counts(s)->unparsed, 1, "unparsed counted");
        source_status(s, &status);
        CHECK(strstr(status.data, "(open)\nlines read: 3 (") &&
                      strstr(status.data, "1 without a syslog header"),
              "status: %s", status.data);
        source_summary(s, &summary);
        CHECK(startswith(summary.data, "3 lines ("), "summary: %s", summary.data);
        append(path, "Nov 30 10:00:59 mx postfix/smtpd[1]: half a line"); /* no newline yet */
        source_poll(s);
        CHECK_INT(seen.n, 2, "a half line is not a record yet");
        pos = source_position(s);
        CHECK(pos && startswith(pos, "pos=") && strstr(pos, " log=") && streq(strstr(pos, " log=") + 5, path),
              "position: %s", check_show(pos));
        s = source_free(s);

        /* while stopped: the half line ends, more lines come */
        append(path, " and its end\n");
        append_lines(path, 5, 9);
        seen = (Seen){0};
        CHECK_INT(source_new(&s, "file", loop, &(SourceSettings){.log_file = path}, &ops, &seen), 0,
                  "new again");
        CHECK_INT(source_start(s, pos, false, &why), 0, "start from the saved position");
        CHECK(why == NULL, "the position is used: %s", check_show(why));
        CHECK(seen.n == 5 && streq(seen.msgs[0], "postfix/smtpd[1]: half a line and its end"),
              "the half line, whole: %s", seen.msgs[0]);
        if (seen.n == 5) {
                memmove(seen.msgs[0], seen.msgs[1], 4 * sizeof(seen.msgs[0]));
                seen.n = 4;
        }
        check_lines(&seen, 5, 9, "exactly the rest");
        pos2 = source_position(s);
        s = source_free(s);
        /* round trip: a start from where it stopped reads nothing */
        seen = (Seen){0};
        CHECK_INT(source_new(&s, "file", loop, &(SourceSettings){.log_file = path}, &ops, &seen), 0, "new");
        CHECK_INT(source_start(s, pos2, true, &why), 0, "start from the end position");
        CHECK_INT(seen.n, 0, "nothing read twice");
        {
                _cleanup_free_ char *pos3 = source_position(s);
                CHECK_STR(pos3, pos2, "the position round trip");
        }
        s = source_free(s);

        /* a position of another log: not used, said, and the start is as configured */
        append_lines(other, 0, 2);
        seen = (Seen){0};
        CHECK_INT(source_new(&s, "file", loop, &(SourceSettings){.log_file = other}, &ops, &seen), 0,
                  "new other");
        CHECK_INT(source_start(s, pos, true, &why), 0, "start with another log's position");
        CHECK(why && strstr(why, "the saved position is for ") && strstr(why, path), "why: %s",
              check_show(why));
        free(why);
        why = NULL;
        check_lines(&seen, 0, 2, "from the beginning, as configured");
        s = source_free(s);

        /* a damaged position: not used, said */
        seen = (Seen){0};
        CHECK_INT(source_new(&s, "file", loop, &(SourceSettings){.log_file = other}, &ops, &seen), 0,
                  "new other");
        CHECK_INT(source_start(s, "pos=1,2 log=/x", false, &why), 0, "start with a damaged position");
        CHECK(why && strstr(why, "cannot be read"), "why: %s", check_show(why));
        free(why);
        why = NULL;
        CHECK_INT(seen.n, 0, "at the end, as configured");
        s = source_free(s);
}

/* Without a loop: the whole file once, a last line without its newline too; what it reports. */
static void test_file_once(const char *dir, struct ev_loop *loop)
{
        char path[512], *longline;
        LogSource *s;
        Seen seen = {0};
        char *why = NULL;
        _cleanup_buf_ Buf summary = {0};

        snprintf(path, sizeof(path), "%s/once.log", dir);
        append_lines(path, 0, 4);
        append(path, "garbage\n");
        append(path, "Nov 30 10:00:05 mx postfix/smtpd[105]: line 5"); /* no newline */
        CHECK_INT(source_new(&s, "file", NULL, &(SourceSettings){.log_file = path}, &ops, &seen), 0,
                  "new once");
        CHECK_INT(source_start(s, NULL, true, &why), 0, "start once");
        CHECK_INT(source_read_all(s), 0, "read all");
        CHECK_INT(seen.n, 5, "every record, the last one too");
        CHECK_STR(seen.msgs[4], "postfix/smtpd[105]: line 5", "the last line");
        CHECK_INT(seen.unparsed, 1, "garbage");
        CHECK(source_position(s) == NULL, "a one-shot read has no position");
        source_summary(s, &summary);
        CHECK(startswith(summary.data, "6 lines ("), "summary: %s", summary.data);
        s = source_free(s);

        {
                LogSource *m;
                CHECK_INT(source_new(&m, "file", NULL, &(SourceSettings){.log_file = "/nonexistent/x.log"},
                                     &ops, &seen),
                          0, "new missing");
                CHECK_INT(source_start(m, NULL, true, &why), -ENOENT, "a missing file, once");
                source_free(m);
        }

        /* an over-long line, followed: skipped, counted, reported for the service to log */
        snprintf(path, sizeof(path), "%s/long.log", dir);
        check_write(path, "");
        seen = (Seen){0};
        CHECK_INT(source_new(&s, "file", loop, &(SourceSettings){.log_file = path}, &ops, &seen), 0,
                  "new long");
        CHECK_INT(source_start(s, NULL, false, &why), 0, "start long");
        longline = xmalloc(TAIL_MAX_LINE + 10);
        memset(longline, 'x', TAIL_MAX_LINE + 8);
        longline[TAIL_MAX_LINE + 8] = '\n';
        longline[TAIL_MAX_LINE + 9] = '\0';
        append(path, longline);
        free(longline);
        append_lines(path, 0, 1);
        source_poll(s);
        check_lines(&seen, 0, 1, "the line after the long one");
        CHECK_INT(source_counts(s)->cut, 1, "cut counted");
        CHECK(seen.reports == 1 && seen.last_ev == SOURCE_EVENT_SKIPPED && seen.last_prio == LOG_WARNING &&
                      strstr(seen.last_report, "skipped 1 line longer than 65536 bytes"),
              "reported: %zu %d %s", seen.reports, seen.last_ev, seen.last_report);
        s = source_free(s);

        /* a log that is not there: the problem is the status, and said */
        snprintf(path, sizeof(path), "%s/not-yet.log", dir);
        seen = (Seen){0};
        CHECK_INT(source_new(&s, "file", loop, &(SourceSettings){.log_file = path}, &ops, &seen), 0,
                  "new missing");
        CHECK_INT(source_start(s, NULL, false, &why), 0, "start missing");
        CHECK_STR(source_problem(s), "not there yet", "the problem");
        CHECK(seen.reports == 1 && strstr(seen.last_report, "does not exist (yet)"), "said: %s",
              seen.last_report);
        s = source_free(s);
}

int main(void)
{
        const char *dir = check_mktemp();
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

        test_registry();
        test_position_strings();
        test_file_follow(dir, loop);
        test_file_once(dir, loop);
        ev_loop_destroy(loop);
        return check_done();
}
