/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * What a log source delivers: one record, {time, tag, pid, message}.  The file
 * source (tail + logline) parses a syslog header into it; the journal
 * source takes it from the entry's fields.  The rules match a record, so
 * neither needs to fake the other's format.
 */

#include <stddef.h>
#include <stdint.h>

typedef struct LogRecord {
        int64_t time_ms; /* the record's own time (Unix ms); 0: unknown */
        const char *tag; /* the program: "postfix/smtpd", without "[pid]" */
        size_t tag_len;
        const char *msg; /* after "tag[pid]: " */
        size_t msg_len;
        int32_t pid; /* the program's process id (session context); 0: unknown */
        const char *line; /* the whole line as read, for people (--verbose); NULL: the source has none */
        size_t line_len;
} LogRecord;
