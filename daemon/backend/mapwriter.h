/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The map writer turns "the bans changed" into a new access map that
 * smtpd can use, without ever showing smtpd a half-built one:
 *
 *   request -> debounce -> read the map, render it (our block + the
 *   admin's lines) -> in a private folder (mkdtemp beside the map, 0700)
 *   write the text, fsync -> postmap on it there (a child process in its
 *   own process group, watched by the loop, killed with its group after
 *   a timeout) -> check the admin did not edit the map meanwhile -> give
 *   both files the map's owner and mode -> rename the text, then the
 *   database, into place -> remove the private folder.
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
         * Render the block's entry lines into out, given the admin's keys
         * (to leave out what they decide); returns the entry count.
         */
        size_t (*render)(void *ctx, const AdminKeys *admin, Buf *out);
        /*
         * A write finished: result 0 (map in place), MAPWRITER_UNCHANGED
         * (the map already said this; postmap did not run) or -errno.
         */
        void (*done)(void *ctx, int result, size_t entries);
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
const MapWriterStats *mapwriter_stats(const MapWriter *mw);
const char *mapwriter_path(const MapWriter *mw);
