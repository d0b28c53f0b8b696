/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The control socket: a unix stream socket (mode 0600) that
 * autoblacklistctl(8) talks to.  One command a connection:
 *
 *   client: COMMAND [ARG...]\n
 *   server: OK\n<payload>            or   ERROR: <message>\n
 *   (then the server closes the connection)
 *
 * The command's words are separated by spaces.  A handler may answer at
 * once, or later: it returns CONTROL_PENDING and keeps the request's id,
 * then calls control_reply() with that id.  The control layer never hands
 * out a pointer to a client: a client that timed out or went away simply
 * has no id any more, and a late reply to it is dropped.
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define CONTROL_LINE_MAX 4096

typedef struct Control Control;

typedef enum ControlResult {
        CONTROL_OK,
        CONTROL_ERROR,   /* the payload holds the message */
        CONTROL_PENDING, /* the handler will call control_reply() with id */
} ControlResult;

typedef struct ControlOps {
        /* Handle argv[0..argc) of request id; write the payload (or the error) to out. */
        ControlResult (*command)(void *ctx, uint64_t id, char **argv, size_t argc, Buf *out);
} ControlOps;

/*
 * Judge one request line (len bytes, without its newline; it may hold
 * any byte) and hand it to ops->command.  Pure: no socket, no loop, so
 * it can be tested and fuzzed alone.  line is modified (split in words).
 * A line that holds a NUL or another control character, that is too
 * long, empty, or of too many words is refused here with CONTROL_ERROR.
 */
ControlResult control_handle_line(const ControlOps *ops, void *ctx, uint64_t id, char *line, size_t len,
                                  Buf *out);

/* pending_timeout_ms: how long a pending request may wait for its answer. */
int control_new(Control **out, struct ev_loop *loop, const char *path, uint64_t pending_timeout_ms,
                const ControlOps *ops, void *ctx);
Control *control_free(Control *c);
void control_set_pending_timeout(Control *c, uint64_t pending_timeout_ms);
/*
 * Answer pending request id.  Returns false if that client is gone (timed
 * out or hung up): the answer is dropped.
 */
bool control_reply(Control *c, uint64_t id, bool ok, const char *text);
