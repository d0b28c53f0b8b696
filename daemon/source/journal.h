/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The journal source: Postfix's and Dovecot's log records read from the
 * systemd journal through sd_journal, its fd watched by the libev loop
 * (no thread, no polling timer, no journalctl child).
 *
 * Security: a syslog file cannot tell who wrote a line; the journal can.
 * Every entry whose SYSLOG_IDENTIFIER names Postfix or Dovecot is checked
 * against the fields that journald itself sets (those starting with '_'):
 * it counts only if _UID is root's or one of the mail users', and _COMM or
 * _EXE is one of their programs.  Anything else is "spoofed": counted,
 * reported, never used.  The check itself (journal_trust) is pure, so it
 * is unit-tested on plain fields.
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/record.h"

typedef struct JournalTrust {
        uid_t *uids; /* besides root */
        size_t n_uids;
        char **exe_dirs;    /* a program under one of these folders is theirs */
        char **identifiers; /* SYSLOG_IDENTIFIER prefixes: "postfix", "dovecot" */
} JournalTrust;

/* The journal's fields of one entry, as the trust check needs them (NULL: absent). */
typedef struct JournalFields {
        const char *identifier;             /* SYSLOG_IDENTIFIER */
        const char *uid, *comm, *exe, *pid; /* _UID, _COMM, _EXE, _PID */
} JournalFields;

typedef enum JournalVerdict {
        JOURNAL_NOT_OURS, /* another program's entry */
        JOURNAL_TRUSTED,
        JOURNAL_SPOOFED, /* claims to be Postfix or Dovecot, and is not */
} JournalVerdict;

/* Is identifier one that trust->identifiers names ("postfix", "postfix/smtpd", "postfix-out/smtpd")? */
bool journal_identifier_wanted(const JournalTrust *trust, const char *identifier, size_t len);
/* The verdict on one entry; for a spoofed one, *why says which field failed (static text). */
JournalVerdict journal_trust(const JournalTrust *trust, const JournalFields *f, const char **why);
/*
 * Is journald's "Suppressed N messages from UNIT" (MESSAGE, len bytes) about
 * a unit of Postfix or Dovecot: UNIT's name before '@' and its suffix, or
 * its instance, is one of trust->identifiers ("postfix.service",
 * "postfix@-.service", "postfix@postfix-out.service", "dovecot.service";
 * not "postfix-autoblacklist.service", this daemon's own)?
 */
bool journal_suppressed_mail_unit(const JournalTrust *trust, const char *msg, size_t len);
/* Is this one of Postfix's or Dovecot's program names (as _COMM holds it, at most 15 bytes)? */
bool journal_mail_program(const char *comm);
void journal_trust_clear(JournalTrust *t);

typedef struct JournalStats {
        uint64_t entries;    /* read from the journal, of any program */
        uint64_t records;    /* trusted entries handed on */
        uint64_t spoofed;    /* refused by the trust check */
        uint64_t suppressed; /* mail messages journald said it dropped (rate limit) */
        char last_spoofed[160]; /* _UID/_COMM/_PID of the last refused entry */
} JournalStats;

typedef struct JournalOps {
        void (*record)(void *ctx, const LogRecord *rec);
        /* A refused entry (already counted); for the caller to report. */
        void (*spoofed)(void *ctx, const JournalFields *f, const char *why);
        /* journald dropped n messages of a mail program's unit (text: its message). */
        void (*suppressed)(void *ctx, uint64_t n, const char *text);
} JournalOps;

typedef struct Journal Journal;

/*
 * Open the local system journal.  loop may be NULL for a one-shot read
 * (journal_read_all).  The trust settings are copied.
 */
int journal_new(Journal **out, struct ev_loop *loop, const JournalTrust *trust, const JournalOps *ops,
                void *ctx);
Journal *journal_free(Journal *j);
/* New trust settings (at a reload: the users may have changed). */
void journal_set_trust(Journal *j, const JournalTrust *trust);
/*
 * Start reading: after cursor if given (the entry at the cursor was read
 * before); else at since_us (realtime, microseconds) if not 0; else at
 * the end.  With a loop, new entries are read as they are written.
 */
int journal_start(Journal *j, const char *cursor, uint64_t since_us);
/* Read what is there now (the loop calls it on each wake-up; also at stop). */
void journal_poll_now(Journal *j);
/* Read every entry up to the end, once (for --test). */
int journal_read_all(Journal *j);
/* The cursor of the last entry read (to free), or NULL if none was. */
char *journal_cursor(Journal *j);
const JournalStats *journal_stats(const Journal *j);
/* The realtime (us) at which the current boot started. */
uint64_t journal_boot_start_us(void);
