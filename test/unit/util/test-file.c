/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/file: whole-file reads and atomic replacement. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"
#include "util/file.h"

int main(void)
{
        {
                const char *dir = check_mktemp();
                char path[512];
                char *text = NULL;
                size_t len = 0;
                snprintf(path, sizeof(path), "%s/f", dir);
                CHECK_INT(write_file_atomic(path, "hello\n", 6, 0600), 0, "write_file_atomic");
                CHECK_INT(read_file(path, 100, &text, &len), 0, "read_file");
                CHECK_STR(text, "hello\n", "read back");
                free(text);
                CHECK_INT(read_file(path, 3, &text, &len), -EFBIG, "read_file over max");
                check_write(path, "");
                CHECK_INT(read_file(path, 100, &text, &len), 0, "read an empty file");
                CHECK(text && text[0] == '\0' && len == 0, "an empty file is an empty string");
                free(text);
                CHECK_INT(write_file_atomic(path, "bye\n", 4, 0600), 0, "replace");
                CHECK_INT(read_file(path, 100, &text, &len), 0, "read_file again");
                CHECK_STR(text, "bye\n", "replaced");
                free(text);
        }
        {
                /* a leftover temporary file from a crash does not stop the write, and none stays */
                const char *dir = check_mktemp();
                char path[512], tmp[600];
                struct stat st;
                snprintf(path, sizeof(path), "%s/g", dir);
                snprintf(tmp, sizeof(tmp), "%s.tmp-autoblacklist", path);
                check_write(tmp, "junk");
                umask(022);
                CHECK_INT(write_file_atomic(path, "x", 1, 0640), 0, "over a leftover");
                CHECK(stat(tmp, &st) < 0 && errno == ENOENT, "no temporary file left");
                CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode %o",
                      (unsigned)st.st_mode & 0777);
                snprintf(path, sizeof(path), "%s/no/such/folder/f", dir);
                CHECK_INT(write_file_atomic(path, "x", 1, 0600), -ENOENT, "a missing folder");
                {
                        char *text = NULL;
                        CHECK_INT(read_file(path, 10, &text, NULL), -ENOENT, "read a missing file");
                        CHECK(text == NULL, "nothing read");
                }
        }
        return check_done();
}
