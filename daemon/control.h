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
 * once, or later (control_reply()), e.g. after a map write.
 */

#include <ev.h>
#include <stdbool.h>

#include "util.h"

#define CONTROL_LINE_MAX 4096

typedef struct Control Control;
typedef struct ControlClient ControlClient;

typedef enum ControlResult {
        CONTROL_OK,
        CONTROL_ERROR,   /* the payload holds the message */
        CONTROL_PENDING, /* the handler will call control_reply() */
} ControlResult;

typedef struct ControlOps {
        /* Handle argv[0..argc); write the payload (or the error) to out. */
        ControlResult (*command)(void *ctx, ControlClient *client, char **argv, size_t argc, Buf *out);
        /* A client with a pending answer went away: forget it. */
        void (*gone)(void *ctx, ControlClient *client);
} ControlOps;

int control_new(Control **out, struct ev_loop *loop, const char *path, const ControlOps *ops, void *ctx);
Control *control_free(Control *c);
/* Answer a pending command. */
void control_reply(ControlClient *client, bool ok, const char *text);
