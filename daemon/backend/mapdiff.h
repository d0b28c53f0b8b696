/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * mapdiff: what turns the database of one block of map entries into the
 * database of another, for an incremental postmap (`postmap -d -` with
 * the keys to delete, then `postmap -i` with the lines to add) instead of
 * a full rebuild.  Pure: no I/O here.
 */

#include <stddef.h>

#include "util/buf.h"

typedef struct MapDiff {
        Buf dels; /* keys to delete, one a line (postmap -d - reads them) */
        Buf adds; /* entry lines to add, as the text has them (postmap -i) */
        size_t n_dels, n_adds;
        size_t n_old, n_new; /* entry lines of each side */
} MapDiff;

/*
 * The changes from the entry lines of old (a block of a map text as
 * postmap read it) to those of new.  A key whose line changed is deleted
 * and added again.  -EINVAL when the texts use what an incremental update
 * cannot be sure to do as postmap does (a continuation line, a line
 * without a value, a key with a byte outside ASCII, two lines of the same
 * key up to ASCII case): then only a full postmap gives the right
 * database.  0, with d filled (free it with mapdiff_free), or -EINVAL.
 */
int mapdiff(const char *old, size_t old_len, const char *new, size_t new_len, MapDiff *d);
void mapdiff_free(MapDiff *d);
