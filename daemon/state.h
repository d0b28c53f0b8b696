/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The state file: what the daemon keeps across restarts.  A text file
 * with a version header, one record a line, and a last line that counts
 * the records and carries a hash of everything before it, so that a
 * truncated or damaged file is recognised instead of half-read:
 *
 *   postfix-autoblacklist-state 1
 *   log /var/log/mail.log
 *   map hash:/etc/postfix/access
 *   journal CURSOR                (the journal source's position, instead)
 *   position DEV INO OFFSET HEAD_LEN HEAD_HASH [skip]
 *   ban ADDR/PLEN RULE ACTIVE MANUAL COUNT HITS FIRST_MS LAST_MS BANNED_MS EXPIRES_MS [from=HOST]
 *   end RECORDS HASH
 *
 * A ban imported from another host of the fleet ends with from=HOST (an
 * older state file has no such bans, and reads as before).
 *
 * It is written atomically (temporary file, fsync, rename, fsync of the
 * folder).  Pure parsing and rendering are separate from the file I/O so
 * that they are unit-tested on strings.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "tail.h"
#include "util.h"

#define STATE_VERSION 1
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
        char *log_file; /* the log the positions belong to */
        char *journal_cursor; /* the journal source: after this entry */
        char *map;      /* TYPE:PATH of the map that holds our block, or NULL */
        TailPos pos[TAIL_MAX_POS];
        size_t n_pos;
        StateBan *bans;
        size_t n_bans, cap_bans;
} State;

void state_clear(State *s);
StateBan *state_add_ban(State *s);

void state_render(const State *s, Buf *out);
/* -EBADMSG with a reason in *why (to free) if the text is not a whole, valid state. */
int state_parse(const char *text, size_t len, State *out, char **why);

/* -ENOENT if there is no file; -EBADMSG (and *why) if it is damaged. */
int state_load(const char *path, State *out, char **why);
int state_save(const char *path, const State *s);
/* Move a damaged state file aside (path.damaged-TIME); returns the new name. */
char *state_set_aside(const char *path);
