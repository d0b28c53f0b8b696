/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * file: whole-file reads and atomic writes.  Every function returns
 * -errno and leaves naming the file to its caller; write_file_atomic()
 * removes its temporary file on every failure.
 */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/buf.h"

int read_file(const char *path, size_t max, char **out, size_t *out_len)
{
        _cleanup_close_ int fd = -1;
        Buf b = {0};
        char chunk[65536];

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        buf_append(&b, "", 0); /* an empty file is an empty string */
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        int r = -errno;
                        if (r == -EINTR)
                                continue;
                        buf_free(&b);
                        return r;
                }
                if (n == 0)
                        break;
                if (b.len + (size_t)n > max) {
                        buf_free(&b);
                        return -EFBIG;
                }
                buf_append(&b, chunk, (size_t)n);
        }
        *out = b.data;
        if (out_len)
                *out_len = b.len;
        return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int fsync_parent(const char *path)
{
        _cleanup_free_ char *copy = xstrdup(path);
        _cleanup_close_ int dfd = -1;

        dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-autoblacklist", path);
        int fd, r;

        (void)unlink(tmp); /* a leftover from a crash */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        (void)fsync_parent(path);
        return 0;
}
