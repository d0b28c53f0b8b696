/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * file: whole-file reads and atomic replacement, the OpenBSD way: an
 * O_EXCL temporary file beside the target, written, fsynced, closed with
 * a check, renamed, and the folder fsynced.  Errors are -errno; the caller
 * names the file in its message.  The temporary file is opened with
 * O_NOFOLLOW, so a symlink planted at its name is not written through.
 */

#include <stddef.h>
#include <sys/types.h>

/* Read a whole file (at most max bytes, else -EFBIG) into a NUL-terminated buffer. */
int read_file(const char *path, size_t max, char **out, size_t *out_len);
/* write() all of buf, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t len);
/*
 * Replace path atomically with data: an O_EXCL temporary file beside it,
 * written, fsynced and closed with checks, renamed over path, and the
 * folder fsynced.  mode is used for a new file.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* fsync() the folder that holds path, so that a rename in it is durable. */
int fsync_parent(const char *path);
