/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Shared by the libFuzzer harnesses: a failed property aborts with what
 * was seen (libFuzzer then saves the input), and a parser that reads a
 * path gets the input through a memfd, so no harness touches the disk.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                                              \
                        fputc('\n', stderr);                                                       \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

/* Replace the content of the memfd behind path (created on first use). */
static inline const char *fuzz_file(const void *data, size_t size)
{
        static int fd = -1;
        static char path[64];

        if (fd < 0) {
                fd = memfd_create("fuzz-input", MFD_CLOEXEC);
                if (fd < 0) {
                        perror("memfd_create");
                        abort();
                }
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        }
        if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
                perror("memfd write");
                abort();
        }
        return path;
}
