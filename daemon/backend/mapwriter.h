/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The map writer turns "the bans changed" into a new access map that
 * smtpd can use, without ever showing smtpd a half-built one:
 *
 *   request -> debounce -> (a fork of the daemon, on a copy-on-write
 *   snapshot of it:) read the map, render it (our block + the admin's
 *   lines), in a private folder (mkdtemp beside the map, 0700) write the
 *   text -> postmap on it there (a child process in its own process
 *   group, killed with its group after a timeout) -> check the admin did
 *   not edit the map meanwhile -> (a fork:) give both files the map's
 *   owner and mode, fsync them, rename the text, then the database, into
 *   place -> remove the private folder.
 *
 * Every step runs in a child watched by the loop: the loop never waits
 * for a render, a write or an fsync, at any map size.
 *
 * When few entries changed since our last write, postmap updates a copy
 * of the database in place (postmap -d -, -i) instead of the full build.
 *
 * A failure is logged once per episode and retried with backoff; the
 * bans stay in memory.  The first write after start always runs postmap,
 * which repairs a text and database that a crash left out of step.
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/mapfile.h"
#include "util/util.h"

typedef struct MapWriter MapWriter;

#define MAPWRITER_UNCHANGED 1

typedef struct MapWriterOps {
        /*
         * On the loop, as a write starts, right before the fork that
         * renders: the map shows the bans as they are now, so the state
         * must hold them (save it here).  May be NULL.
         */
        void (*prepare)(void *ctx);
        /*
         * In the forked child, on a copy-on-write snapshot of the process:
         * render the block's entry lines into out, given the admin's keys
         * (to leave out what they decide); returns the entry count.  It
         * must not change anything outside the process (no state save, no
         * reply); what the daemon must do because of it (bans to lift)
         * goes into notes, in a form of the caller's own.
         */
        size_t (*render)(void *ctx, const AdminKeys *admin, Buf *out, Buf *notes);
        /* On the loop: the notes of a render (before done); may be NULL. */
        void (*notes)(void *ctx, const char *data, size_t len);
        /*
         * A write finished: result 0 (map in place), MAPWRITER_UNCHANGED
         * (the map already said this; postmap did not run) or -errno.
         */
        void (*done)(void *ctx, int result, size_t entries);
        /*
         * A message for the log, with its syslog priority; failed: a
         * failure episode began or changed its cause (the rest of an
         * episode comes at LOG_DEBUG).  May be NULL.
         */
        void (*log)(void *ctx, int priority, bool failed, const char *text);
} MapWriterOps;

typedef struct MapWriterStats {
        uint64_t writes;   /* maps put in place */
        uint64_t failures; /* postmap or I/O failures */
        uint64_t skipped;  /* writes skipped because nothing changed */
        int64_t last_write_ms;
        char last_error[256];
} MapWriterStats;

/*
 * postmap_timeout_ms: how long postmap may run for a map of up to 100,000
 * entries (proportionally longer for a larger one) before its process
 * group is killed and the write retried.
 */
int mapwriter_new(MapWriter **out, struct ev_loop *loop, const char *type, const char *path,
                  char **postmap_argv, uint64_t postmap_timeout_ms, uint64_t debounce_ms,
                  const MapWriterOps *ops, void *ctx);
MapWriter *mapwriter_free(MapWriter *mw);
/*
 * Change the settings (on reload).  A write under way finishes first,
 * unless the postmap command changed: then it is stopped and started
 * again with the new command at once.
 */
void mapwriter_configure(MapWriter *mw, const char *type, const char *path, char **postmap_argv,
                         uint64_t postmap_timeout_ms, uint64_t debounce_ms);
/* The bans changed: write within the debounce delay. */
void mapwriter_request(MapWriter *mw);
/* Write as soon as possible (skip the debounce, and any retry delay). */
void mapwriter_request_now(MapWriter *mw);
/*
 * With present false, the next writes leave our block out of the map
 * entirely (markers included), as for an uninstall; true brings it back.
 */
void mapwriter_set_block(MapWriter *mw, bool present);
/* Is a write pending or under way? */
bool mapwriter_busy(const MapWriter *mw);
/*
 * The admin's keys as the map file has them now (read again if the file
 * changed since the last look).  NULL if the file cannot be read.
 */
const AdminKeys *mapwriter_admin_keys(MapWriter *mw);
/*
 * Counts the changes of the admin's part of the map, as
 * mapwriter_admin_keys saw them: a map changed by our own write alone
 * (the admin's lines as they were) leaves it as it was.
 */
uint64_t mapwriter_admin_generation(const MapWriter *mw);
const MapWriterStats *mapwriter_stats(const MapWriter *mw);
const char *mapwriter_path(const MapWriter *mw);
