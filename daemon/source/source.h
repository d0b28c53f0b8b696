/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * LogSource: where the log records come from, behind one interface, so
 * that the daemon, --test and the control commands never know whether
 * they read a file or the journal.  A source is a vtable (LogSourceClass)
 * found by its kind in a registry (source.c); adding a source is one file
 * with its class and one line in that registry.
 *
 * A source delivers records {time, tag, pid, message} (core/record.h):
 * the file source parses the syslog header, the journal source takes the
 * entry's fields, so the rules match a record and never parse a header.
 * Its position is an opaque, one-line string that the state file keeps
 * and hands back at the next start.  A source never logs: what the admin
 * should hear comes through ops->report, with a syslog priority, and the
 * service layer logs it.
 *
 * Two ways to run: with a libev loop, the source follows its input as it
 * is written (the daemon); with none, source_read_all() reads what is
 * there once (--test).
 *
 * Security: the records carry text chosen by remote clients; a source
 * only locates fields, never interprets the message, and bounds what it
 * keeps (a file's lines are cut at 64 KiB; a journal entry is trusted only
 * on journald's own fields).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "util/util.h"

struct ev_loop;
struct JournalTrust;

/* What kind of event a report is, for the service's log (a journal MESSAGE_ID). */
typedef enum SourceEvent {
        SOURCE_EVENT_NONE,
        SOURCE_EVENT_ROTATE,  /* a new file took the log's name */
        SOURCE_EVENT_SKIPPED, /* input skipped (over-long lines) */
        SOURCE_EVENT_SPOOFED, /* an entry that claims to be a mail program's and is not */
} SourceEvent;

typedef struct LogSourceOps {
        void (*record)(void *ctx, const LogRecord *rec);
        /* A line the source could not make a record of: no syslog header (optional). */
        void (*unparsed)(void *ctx, const char *line, size_t len);
        /* Something the admin should hear; prio is a syslog priority (optional). */
        void (*report)(void *ctx, int prio, SourceEvent ev, const char *text);
        /* source_problem() changed (optional). */
        void (*changed)(void *ctx);
} LogSourceOps;

/* What a source needs to know, as plain values (the service layer reads the config). */
typedef struct SourceSettings {
        const char *log_file;             /* file: the log's path ("-": stdin, without a loop) */
        const struct JournalTrust *trust; /* journal: who may speak for Postfix and Dovecot */
        uint64_t since_us;                /* journal, from the beginning: since this realtime; 0: the boot */
} SourceSettings;

/* Counters every source keeps. */
typedef struct SourceCounts {
        uint64_t records;  /* handed on */
        uint64_t unparsed; /* lines without a syslog header */
        uint64_t cut;      /* lines longer than the source keeps, skipped */
} SourceCounts;

typedef struct LogSource LogSource;

typedef struct LogSourceClass {
        const char *kind; /* "file": the log_source value that selects it */
        int (*create)(LogSource **out, struct ev_loop *loop, const SourceSettings *set, const LogSourceOps *ops,
                   void *ctx);
        /* position: NULL, or one this class made; *why: it cannot be used (to free). */
        int (*start)(LogSource *s, const char *position, bool from_beginning, char **why);
        void (*poll)(LogSource *s);
        int (*read_all)(LogSource *s);
        char *(*position)(LogSource *s);
        const char *(*problem)(const LogSource *s);
        void (*status)(const LogSource *s, Buf *out);
        void (*summary)(const LogSource *s, Buf *out);
        void (*configure)(LogSource *s, const SourceSettings *set); /* optional */
        void (*free)(LogSource *s);
} LogSourceClass;

/* The part every source starts with (its own struct embeds it first). */
struct LogSource {
        const LogSourceClass *cls;
        const LogSourceOps *ops;
        void *ctx;
        const char *label; /* a message's prefix: "/var/log/mail.log", "journal" */
        const char *what;  /* in a sentence: "/var/log/mail.log", "the journal" */
        SourceCounts counts;
};

/* The registry: the class of a kind, or NULL. */
const LogSourceClass *source_class(const char *kind);
/* The kinds, NULL-terminated, in the registry's order ("file", "journal"). */
const char *const *source_kinds(void);

/* -EINVAL for a kind that is not registered. loop NULL: a one-shot read (source_read_all). */
int source_new(LogSource **out, const char *kind, struct ev_loop *loop, const SourceSettings *set,
               const LogSourceOps *ops, void *ctx);
LogSource *source_free(LogSource *s);
/*
 * Start reading: from position (from source_position(), saved by an
 * earlier run), else from the beginning (what the input holds now) or at
 * the end (only what comes).  A position this source cannot use (another
 * log, damaged) is not an error: *why says why (to free), and it starts
 * as if it had none.
 */
int source_start(LogSource *s, const char *position, bool from_beginning, char **why);
/* Read whatever is new, now (at a reload, at stop). */
void source_poll(LogSource *s);
/* Without a loop: read everything there is, once. */
int source_read_all(LogSource *s);
/* Where reading stopped, for the state file (one line, to free), or NULL if nowhere yet. */
char *source_position(LogSource *s);
/* What is wrong with following the input, for people, or NULL if nothing is. */
const char *source_problem(const LogSource *s);
/* Lines for `autoblacklistctl status` (each ending in "\n"). */
void source_status(const LogSource *s, Buf *out);
/* What was read, for the stop line: "N lines (B bytes, ...)". */
void source_summary(const LogSource *s, Buf *out);
/* New settings at a reload (what a source can take without a restart). */
void source_configure(LogSource *s, const SourceSettings *set);
const char *source_kind(const LogSource *s);
const char *source_label(const LogSource *s);
const char *source_what(const LogSource *s);
const SourceCounts *source_counts(const LogSource *s);

/* For the classes: a report formatted into a bounded buffer, then ops->report. */
void source_report(LogSource *s, int prio, SourceEvent ev, const char *fmt, ...) _printf_(4, 5);
