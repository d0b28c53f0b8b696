/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Follow a log file as it is written, across rotation, driven by inotify
 * through the libev loop.  Lines are handed to a callback, each exactly
 * once.
 *
 * Followed changes: rename + create (the renamed file is kept open and
 * drained until it has been quiet for a grace period after the new file
 * got data), delete + create, copy-truncate (the file shrinks or its first
 * bytes change: start again at 0, after reading what was left from the
 * copy beside it), a file that appears later, a symlink that is
 * repointed, a file already read that comes back under the log's name
 * (read on from where we were), and a folder deleted or renamed and
 * made again.
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "source/source.h"
#include "util/linebuf.h"

#define TAIL_MAX_LINE 65536
#define TAIL_HEAD_LEN 256 /* bytes of a file's start that identify it */
#define TAIL_MAX_POS 8

/* Where reading a file stopped, as saved in the state file. */
typedef struct TailPos {
        uint64_t dev, ino;
        uint64_t offset;
        uint32_t head_len; /* bytes hashed at the file's start */
        uint64_t head_hash;
        bool skip_line; /* offset is inside an over-long line: skip to its end */
} TailPos;

typedef struct TailStats {
        uint64_t lines;
        uint64_t bytes;
        uint64_t cut;       /* over-long lines skipped */
        uint64_t rotations; /* a new file took the log's name */
        uint64_t truncations;
} TailStats;

typedef struct TailOps {
        void (*line)(void *ctx, const char *line, size_t len);
        /* tail_problem() changed (optional) */
        void (*problem)(void *ctx);
        /* what the admin should hear (optional): prio is a syslog priority */
        void (*report)(void *ctx, int prio, SourceEvent ev, const char *text);
} TailOps;

typedef struct Tail Tail;

int tail_new(Tail **out, struct ev_loop *loop, const char *path, const TailOps *ops, void *ctx);
Tail *tail_free(Tail *t);
/*
 * Start following.  With saved positions (from the state file), resume
 * there: the current file from its offset if it is the same file, and a
 * file that was rotated away meanwhile from its offset, found by inode
 * beside the log.  With none, start at the end or at the beginning.
 */
int tail_start(Tail *t, const TailPos *saved, size_t n_saved, bool from_beginning);
/* Read whatever is new in every open file, now. */
void tail_poll_now(Tail *t);
/* Positions of the open files (current first), for the state file. */
size_t tail_positions(Tail *t, TailPos *out, size_t max);
const TailStats *tail_stats(const Tail *t);
/* Is the log file open? */
bool tail_is_open(const Tail *t);
/*
 * What is wrong with following the log, for people ("not there yet",
 * "cannot read it: Permission denied; retrying", "deleted; ...", "its
 * folder ... does not exist; ..."), or NULL if it is followed.
 */
const char *tail_problem(const Tail *t);

