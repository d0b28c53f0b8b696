/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The file source: a syslog file (the maillog) as a LogSource.  tail.c
 * follows the file across rotation, logline.c splits each line's syslog
 * header into a record; without a loop the file (or stdin, "-") is read
 * once from its start (--test).
 *
 * Its position string is the positions of the files it has open, then
 * the log's path (so that a position saved for another log is not used):
 *
 *   pos=DEV,INO,OFFSET,HEAD_LEN,HEAD_HASH[,skip] ... log=PATH
 *
 * (HEAD_HASH in hex, 16 digits; "skip": the offset is inside an over-long
 * line, whose rest is not a line.)  The functions below make and read it;
 * they are exposed for the state file's older records and for tests.
 */

#include <stddef.h>

#include "source/tail.h"

/* The position string of log at pos[0..n) (to free). */
char *file_position_format(const char *log, const TailPos *pos, size_t n);
/* -EINVAL if s is not one; *log is to free.  At most max positions. */
int file_position_parse(const char *s, char **log, TailPos *pos, size_t max, size_t *n);
