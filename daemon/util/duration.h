/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * duration: durations and wall-clock times as text.  Durations are kept in
 * milliseconds.  The text form is a non-negative integer with an optional
 * unit: ms, s, m, h, d, w (a bare number is seconds), e.g. "250ms", "10m",
 * "1d".  Parsing refuses what overflows rather than wrapping, since the
 * text comes from the admin's config and control commands.
 */

#include <stddef.h>
#include <stdint.h>

int parse_duration(const char *s, uint64_t *out_ms);
/* Render a duration compactly ("1h30m", "250ms", "0s"). */
char *format_duration(uint64_t ms, char *buf, size_t size);

/* Wall-clock time in milliseconds since the epoch. */
int64_t now_ms(void);
/* Format a wall-clock time (ms) as RFC 3339 in UTC: 2026-11-30T10:00:01Z */
char *format_time(int64_t ms, char *buf, size_t size);
