/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * macro: the attributes and small macros every file uses: cleanup
 * attributes for owned locals, TAKE_PTR/TAKE_FD to hand ownership over,
 * ELEMENTSOF, MIN/MAX.  Header only; nothing here allocates or fails.
 */

#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand an owned pointer over: `*out = TAKE_PTR(x);` leaves x NULL. */
#define TAKE_PTR(p)                                                            \
        ({                                                                     \
                __typeof__(p) _p = (p);                                        \
                (p) = NULL;                                                    \
                _p;                                                            \
        })
#define TAKE_FD(fd)                                                            \
        ({                                                                     \
                int _fd = (fd);                                                \
                (fd) = -1;                                                     \
                _fd;                                                           \
        })

static inline void freep(void *p) { free(*(void **)p); }
/* free(p) and return NULL: `p = mfree(p);` */
static inline void *mfree(void *p)
{
        free(p);
        return NULL;
}
static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
