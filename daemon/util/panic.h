/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * panic: a broken invariant ends the process on purpose, as Postfix's
 * msg_panic does, instead of returning quietly from a branch that "cannot
 * happen" and carrying on with inconsistent state.  The message goes to
 * the hook the service layer installed (the journal, with the daemon's
 * other messages), else to stderr, and then abort() leaves a core for the
 * developer.  Use it only for what no input can cause: a condition that a
 * client's log line, a config or a state file can bring about is an error
 * to return, never a panic (that would be a remote kill switch).
 */

#include "util/macro.h"

/* Where a panic's message goes; it must not return into the code that panicked. */
typedef void (*PanicHook)(const char *msg);
void panic_set_hook(PanicHook hook);

_noreturn_ void panic(const char *fmt, ...) _printf_(1, 2);

/* panic() unless cond holds; cond is evaluated once, in every build. */
#define ASSERT(cond)                                                                               \
        do {                                                                                       \
                if (_unlikely_(!(cond)))                                                           \
                        panic("%s:%d: %s: assertion '%s' failed", __FILE__, __LINE__, __func__,    \
                              #cond);                                                              \
        } while (0)
