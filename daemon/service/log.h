/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Logging.  Every message has a syslog priority; messages about a
 * blocker event also carry the event kind (which selects a journal
 * MESSAGE_ID) and, where they apply, the address, the rule and the expiry.
 *
 * Severities: log_err() for a failure the daemon survives but that needs
 * the admin (a map that cannot be written), log_warn() for a problem that
 * was handled (a bad rule skipped, a line skipped), log_info() for events,
 * log_debug() for the details of a decision (off unless log_level = debug
 * or -d).  Fatal errors are reported by the caller, which then exits.  A
 * broken invariant panics (util/panic.h): log_setup() installs the hook
 * that logs it here, at LOG_CRIT, before the abort.
 *
 * Only the service layer and the programs log; library modules return an
 * error and a reason.  The macros test the priority before they evaluate
 * their arguments, so a debug message that is not emitted costs a
 * comparison, not a formatting (nor an addr_format()).
 */

#include <stdint.h>
#include <syslog.h>

#include "util/util.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* journal if stderr is connected to it, else stderr */
        LOG_TARGET_JOURNAL, /* sd_journal_send() with structured fields */
        LOG_TARGET_STDERR,  /* plain lines on stderr */
} LogTarget;

typedef enum LogEvent {
        LOG_EVENT_NONE,
        LOG_EVENT_HIT,
        LOG_EVENT_BAN,
        LOG_EVENT_UNBAN,
        LOG_EVENT_EXPIRE,
        LOG_EVENT_RELOAD,
        LOG_EVENT_RELOAD_REJECTED,
        LOG_EVENT_ROTATE,
        LOG_EVENT_MAP_WRITTEN,
        LOG_EVENT_POSTMAP_FAILED,
        LOG_EVENT_START,
        LOG_EVENT_STOP,
        LOG_EVENT_SKIPPED, /* a line or input that was skipped */
        LOG_EVENT_SPOOFED, /* a journal entry that claims to be Postfix's and is not */
        _LOG_EVENT_MAX,
} LogEvent;

typedef struct LogFields {
        const char *address;
        const char *rule;
        int64_t expires_ms; /* 0: no expiry field; -1: permanent */
} LogFields;

/* Parse "auto", "journal" or "stderr". */
int log_target_from_string(const char *s, LogTarget *out);
const char *log_target_to_string(LogTarget t);
/* Parse a log_level: "error", "warning", "notice", "info" or "debug" (a syslog priority). */
int log_level_from_string(const char *s, int *out);
const char *log_level_to_string(int prio);
/* Choose where messages go (AUTO is resolved here) and the lowest priority emitted. */
void log_setup(LogTarget target, int max_prio);
LogTarget log_get_target(void);
/* Messages with a priority above this (e.g. LOG_DEBUG) are not emitted. */
void log_set_max_priority(int prio);
/* -d: debug messages from now on, whatever log_setup() is told later. */
void log_force_debug(void);

/* The priority cut-off, read by the macros below; set it with the functions above. */
extern int log_max_prio;
#define log_enabled(prio) ((prio) <= log_max_prio)

void log_event_emit(LogEvent ev, int prio, const LogFields *f, const char *fmt, ...) _printf_(4, 5);
/* log_event_emit() if prio is emitted; the arguments are not evaluated otherwise. */
#define log_event(ev, prio, ...)                                                                   \
        do {                                                                                       \
                if (log_enabled(prio))                                                             \
                        log_event_emit((ev), (prio), __VA_ARGS__);                                 \
        } while (0)

#define log_err(...) log_event(LOG_EVENT_NONE, LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...) log_event(LOG_EVENT_NONE, LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) log_event(LOG_EVENT_NONE, LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_event(LOG_EVENT_NONE, LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_event(LOG_EVENT_NONE, LOG_DEBUG, NULL, __VA_ARGS__)

const char *log_event_name(LogEvent ev);
const char *log_event_message_id(LogEvent ev);
/* Messages dropped by the flood limiter since start. */
uint64_t log_dropped(void);
/* For tests: forget the limiter state and use this clock (ms). */
void log_ratelimit_reset(int64_t (*clock)(void));
