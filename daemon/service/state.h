/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The state file: what the daemon keeps across restarts.  A text file
 * with a version header, one record a line, and a last line that counts
 * the records and carries a hash of everything before it, so that a
 * truncated or damaged file is recognised instead of half-read:
 *
 *   postfix-autoblacklist-state 1
 *   source KIND POSITION          (the log source's own position string)
 *   map hash:/etc/postfix/access
 *   ban ADDR/PLEN RULE ACTIVE MANUAL COUNT HITS FIRST_MS LAST_MS BANNED_MS EXPIRES_MS [from=HOST]
 *   end RECORDS HASH
 *
 * The position is opaque here: the source made it (source_position())
 * and reads it back.  Older files kept the file source's position as
 * "log PATH" and "position DEV INO OFFSET HEAD_LEN HEAD_HASH [skip]"
 * lines, and the journal's as "journal CURSOR": they are still read, as
 * the position of a "file" or "journal" source.
 *
 * A ban imported from another host of the fleet ends with from=HOST (an
 * older state file has no such bans, and reads as before).
 *
 * It is written atomically (temporary file, fsync, rename, fsync of the
 * folder).  Pure parsing and rendering are separate from the file I/O so
 * that they are unit-tested on strings.
 *
 * Beside it, PATH.log holds the changes since that snapshot, so that a
 * change costs what it changed, not the whole file: a header naming the
 * snapshot by its hash, then batches, each the records that changed
 * (the snapshot's own lines, and "forget ADDR/PLEN" for a record
 * dropped) closed by a line that counts and hashes them:
 *
 *   postfix-autoblacklist-log 1 SNAPSHOT_HASH
 *   source ...                    (the position now, if it changed)
 *   ban ...
 *   forget ADDR/PLEN
 *   commit RECORDS HASH
 *
 * A batch is appended and fdatasync'ed in one go; a kill can tear only
 * the last one, which the loader ignores (no commit line, or one whose
 * count or hash is wrong: nothing after it is read).  A log that names
 * another snapshot (a kill between a new snapshot and the removal of
 * the old log) is ignored: the snapshot holds it all.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "util/util.h"

#define STATE_VERSION 1
#define STATE_LOG_VERSION 1
#define STATE_RULE_MAX 64

typedef struct StateBan {
        Addr addr;
        uint8_t plen;
        char rule[STATE_RULE_MAX + 1];
        bool active, manual;
        uint32_t count, hits;
        int64_t first_hit_ms, last_hit_ms, banned_ms, expires_ms;
        char origin[STATE_RULE_MAX + 1]; /* a ban of another fleet host: its name; "": ours */
} StateBan;

typedef struct State {
        char *source;   /* the kind of source the position is of ("file"), or NULL */
        char *position; /* its position (one line), or NULL */
        char *map;      /* TYPE:PATH of the map that holds our block, or NULL */
        StateBan *bans;
        size_t n_bans, cap_bans;
        /* In a change log's batch only: records dropped. */
        struct StateKey {
                Addr addr;
                uint8_t plen;
        } *gone;
        size_t n_gone, cap_gone;
        uint64_t hash; /* set by state_parse: the snapshot's end hash */
} State;

typedef struct StateLogInfo {
        size_t batches;      /* applied */
        size_t ignored;      /* bytes at the end not applied (a torn batch) */
        const char *skipped; /* the whole log was not used, and why (static text) */
} StateLogInfo;

void state_clear(State *s);
StateBan *state_add_ban(State *s);
void state_add_gone(State *s, const Addr *a, uint8_t plen);

void state_render(const State *s, Buf *out);
/* -EBADMSG with a reason in *why (to free) if the text is not a whole, valid state. */
int state_parse(const char *text, size_t len, State *out, char **why);

/* One batch of the change log: batch's records, then the commit line. */
void state_render_batch(const State *batch, Buf *out);
/*
 * Apply the change log text to s (a parsed snapshot): every whole batch,
 * up to a torn or damaged one.  Never fails: what is not used is in info.
 */
void state_apply_log(State *s, const char *text, size_t len, StateLogInfo *info);

/*
 * The snapshot and its change log.  -ENOENT if there is no snapshot;
 * -EBADMSG (and *why) if it is damaged.  info (may be NULL) says what
 * the log gave.
 */
int state_load(const char *path, State *out, char **why);
int state_load_info(const char *path, State *out, char **why, StateLogInfo *info);
/* A full snapshot; the old change log is removed.  *hash, *bytes (may be NULL): its hash and size. */
int state_save_snapshot(const char *path, const State *s, uint64_t *hash, size_t *bytes);
/*
 * Append batch to PATH.log, the log of the snapshot whose hash is
 * snap_hash, and fdatasync it; *log_bytes is the log's size after.  On
 * failure the log is cut back to where it was (the caller should write a
 * snapshot next, as the log's tail may be unknown).
 */
int state_append(const char *path, uint64_t snap_hash, const State *batch, size_t *log_bytes);
/* Move a damaged state file aside (path.damaged-TIME); returns the new name. */
char *state_set_aside(const char *path);
