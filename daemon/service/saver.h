/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * saver: the state file written off the loop.  A save runs in a forked
 * copy of the daemon (util/child.h's child_run_fork), whose copy-on-write
 * memory is the snapshot of the bans at the fork: the loop pays for the
 * fork and for the list of what changed, never for rendering or fsyncing
 * a snapshot (89 MB at 1,000,000 bans) or a batch.  One save at a time;
 * one asked for meanwhile follows it.  Bans are saved first and written
 * to the map after (daemon_bans_changed starts the save, and its end asks
 * for the map: daemon_map_after_save), so a write seldom finds the state
 * behind; only the last save at a stop is written in the process.
 *
 * Invariant kept from the synchronous save: a ban reaches a map only
 * once a save that holds it has ended well.  While a save is under way
 * the state counts as behind (daemon_state_behind()): a render then holds
 * back the bans it does not hold yet, and the end of the save asks for
 * the map write that shows them.  A failed save (the child's report says
 * why, or it died or timed out) keeps every ban in memory, is said once,
 * and is retried with backoff by a full snapshot, as before.
 */

#include <stdbool.h>

typedef struct Daemon Daemon;
typedef struct Saver Saver;

Saver *saver_new(Daemon *d);
Saver *saver_free(Saver *s);
/* Save now in a child, unless there is nothing new; if one runs, another follows it. */
void saver_start(Saver *s);
/* Save now in this process (at the stop): a child under way is stopped first.  0, or -errno. */
int saver_save_sync(Saver *s);
bool saver_busy(const Saver *s);
