/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The systemd notify protocol (sd_notify(3)), spoken without libsystemd: READY,
 * RELOADING (with MONOTONIC_USEC), STOPPING, a STATUS line that is sent at
 * most every STATUS interval, and WATCHDOG=1 from the event loop at half
 * of WATCHDOG_USEC, when systemd sets it.  Without NOTIFY_SOCKET every
 * call is a no-op.
 */

#include <ev.h>
#include <stdint.h>

typedef struct Notify Notify;

Notify *notify_new(struct ev_loop *loop);
Notify *notify_free(Notify *n);
void notify_ready(Notify *n, const char *status);
void notify_reloading(Notify *n);
void notify_stopping(Notify *n);
/* Send this status line now, or when the rate limit allows (the latest wins). */
void notify_status(Notify *n, const char *status);
/* The status changed: text(ctx) makes its line (malloc'ed) now if the rate
   limit allows, else when it does, so that a burst of changes (a ban per
   line while catching up) makes one line per interval, not one per change.
   Nothing is made without a NOTIFY_SOCKET. */
typedef char *(*NotifyText)(void *ctx);
void notify_status_later(Notify *n, NotifyText text, void *ctx);
