/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The syslog header of one maillog line, parsed by hand (no regex):
 *
 *   RFC 3164  "Nov 30 10:00:01 host tag[pid]: message"   (also "Nov  3", "Nov 03",
 *             which is Postfix's own maillog_file format)
 *   RFC 3339  "2026-11-30T10:00:01.123456+00:00 host tag[pid]: message"
 *   RFC 5424  "<22>1 2026-11-30T10:00:01.123+00:00 host tag pid msgid [sd] message"
 *             (rsyslog's RSYSLOG_SyslogProtocol23Format)
 * and a leading "<PRI>" before an RFC 3164 or RFC 3339 header.
 *
 * The tag is returned without "[pid]"; the message starts after ": ".
 * Pointers point into the line; nothing is copied.
 *
 * Time: an RFC 3339 stamp carries its zone (none: local time).  An RFC
 * 3164 stamp has neither zone nor year: it is local time in the year of
 * now, or the year before when that date would be more than a day ahead
 * of now (a log read in January that still holds December).
 */

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"

/* A parsed line is a record: the file source hands it on as it is, no copy.
   (line, line_len are the caller's to set.) */
typedef LogRecord LogLine;

/* 0, or -EINVAL if the line has no recognisable header.  Times are read
   relative to now_ms (the year of an RFC 3164 stamp). */
int logline_parse_at(const char *line, size_t len, int64_t now_ms, LogLine *out);
/* The same, relative to the clock. */
int logline_parse(const char *line, size_t len, LogLine *out);

/* Local time to Unix ms (mktime, cached by the hour); -1 if invalid.  Exposed for tests. */
int64_t logline_local_ms(int year, int mon, int mday, int hour, int min, int sec);
