/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * libsystemd, loaded at run time by the two parts that need it: the
 * journal source (sd_journal_open() and friends) and the journal log
 * target (sd_journal_sendv()).
 *
 * libsystemd.so.0 brings libgcrypt, libgpg-error, liblzma, libzstd, liblz4
 * and libcap with it: about 0.9 MB of resident pages (their relocations and
 * constructors) in a daemon whose own memory is about 3 MB.  A daemon that
 * follows a file and logs to stderr never maps any of it; the notify
 * protocol (service/notify.c) is spoken without the library.  The first use
 * dlopen()s libsystemd.so.0 and resolves the functions below; callers write
 * SD(sd_journal_next)(j), so the compiler checks every call against
 * sd-journal.h's own prototypes.
 */

#include <stdbool.h>
#include <systemd/sd-journal.h>

#define SD_FUNCTIONS(X)                                                                                      \
        X(sd_journal_close)                                                                                  \
        X(sd_journal_enumerate_available_data)                                                               \
        X(sd_journal_get_cursor)                                                                             \
        X(sd_journal_get_fd)                                                                                 \
        X(sd_journal_get_realtime_usec)                                                                      \
        X(sd_journal_next)                                                                                   \
        X(sd_journal_open)                                                                                   \
        X(sd_journal_previous)                                                                               \
        X(sd_journal_process)                                                                                \
        X(sd_journal_restart_data)                                                                           \
        X(sd_journal_seek_cursor)                                                                            \
        X(sd_journal_seek_realtime_usec)                                                                     \
        X(sd_journal_seek_tail)                                                                              \
        X(sd_journal_sendv)                                                                                  \
        X(sd_journal_set_data_threshold)                                                                     \
        X(sd_journal_test_cursor)

typedef struct SdLib {
#define SD_FIELD(f) __typeof__(f) *f;
        SD_FUNCTIONS(SD_FIELD)
#undef SD_FIELD
} SdLib;

/* Once sdlib_load() succeeded. */
extern const SdLib *sd_lib;
#define SD(f) (sd_lib->f)

/*
 * Load libsystemd (once; later calls answer at once).  0, or -ENOENT and
 * *why (static text: the loader's message) when it is not installed or
 * lacks a function.
 */
int sdlib_load(const char **why);
/* Is libsystemd mapped into this process by sdlib_load()? */
bool sdlib_loaded(void);
