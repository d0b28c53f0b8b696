/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The syslog header of one maillog line, parsed by hand (no regex):
 *
 *   RFC 3164  "Nov 30 10:00:01 host tag[pid]: message"   (also "Nov  3", "Nov 03")
 *   RFC 3339  "2026-11-30T10:00:01.123456+00:00 host tag[pid]: message"
 *
 * The tag is returned without "[pid]"; the message starts after ": ".
 * Pointers point into the line; nothing is copied.
 */

#include <stddef.h>

typedef struct LogLine {
        const char *tag;
        size_t tag_len;
        const char *msg;
        size_t msg_len;
} LogLine;

/* 0, or -EINVAL if the line has no recognisable header. */
int logline_parse(const char *line, size_t len, LogLine *out);
