/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The map writer turns "the bans changed" into a new access map that
 * smtpd can use, without ever showing smtpd a half-built one:
 *
 *   request -> debounce -> read the map, render it (our block + the
 *   admin's lines) -> write a temporary copy, fsync -> postmap on the
 *   copy (a child process watched by the loop) -> check the admin did not
 *   edit the map meanwhile -> rename the database, then the text, into
 *   place.
 *
 * A failure is logged and retried with backoff; the bans stay in memory.
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "mapfile.h"
#include "util.h"

typedef struct MapWriter MapWriter;

typedef struct MapWriterOps {
        /*
         * Render the block's entry lines into out, given the admin's keys
         * (to leave out what they decide); returns the entry count.
         */
        size_t (*render)(void *ctx, const AdminKeys *admin, Buf *out);
        /* A write finished: result 0 (map in place) or -errno. */
        void (*done)(void *ctx, int result, size_t entries);
} MapWriterOps;

typedef struct MapWriterStats {
        uint64_t writes;   /* maps put in place */
        uint64_t failures; /* postmap or I/O failures */
        uint64_t redone;   /* writes started again because the admin edited the map */
        uint64_t skipped;  /* writes skipped because nothing changed */
        int64_t last_write_ms;
        char last_error[256];
} MapWriterStats;

int mapwriter_new(MapWriter **out, struct ev_loop *loop, const char *type, const char *path,
                  char **postmap_argv, uint64_t debounce_ms, const MapWriterOps *ops, void *ctx);
MapWriter *mapwriter_free(MapWriter *mw);
/* Change the settings (on reload); a write under way finishes first. */
void mapwriter_configure(MapWriter *mw, const char *type, const char *path, char **postmap_argv,
                         uint64_t debounce_ms);
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
