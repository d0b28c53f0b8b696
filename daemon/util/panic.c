/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * panic: format the message into a buffer on the stack (the heap may be
 * what is broken), hand it to the hook once, and abort.  A panic inside
 * the hook, or with no hook, writes to stderr with write(2) only.
 */
#include "util/panic.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static PanicHook panic_hook;
static volatile sig_atomic_t panicking;

void panic_set_hook(PanicHook hook) { panic_hook = hook; }

void panic(const char *fmt, ...)
{
        char msg[1024];
        int saved_errno = errno;
        va_list ap;

        va_start(ap, fmt);
        errno = saved_errno; /* for %m */
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!panicking++ && panic_hook)
                panic_hook(msg);
        else {
                const char *name = program_invocation_short_name;
                (void)!write(STDERR_FILENO, name, strlen(name));
                (void)!write(STDERR_FILENO, ": panic: ", 9);
                (void)!write(STDERR_FILENO, msg, strlen(msg));
                (void)!write(STDERR_FILENO, "\n", 1);
        }
        abort();
}
