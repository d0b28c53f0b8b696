/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the control protocol's line handling, as far as it is reachable
 * without a socket: handle_line() in control.c is static and bound to a
 * connected client, so this harness drives the pure functions it and the
 * command handlers (commands.c) are made of, on the same terms: the line
 * split with split_words(line, " \t", argv, 16), and a ban/unban target
 * and duration checked with cidr_parse(), mapfile_key() and
 * parse_duration().
 *
 * split_words() must give the words of the line (runs of bytes that are
 * not a delimiter) in order, each a NUL-terminated piece of the line
 * itself, or 17 when there are more than 16.
 */
#include <errno.h>

#include "util/addr.h"
#include "fuzz.h"
#include "backend/mapfile.h"
#include "util/util.h"

#define MAX_WORDS 16 /* as handle_line() */

static bool is_delim(char c) { return c == ' ' || c == '\t'; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *orig = NULL, *line = NULL;
        char *argv[MAX_WORDS];
        size_t argc, want = 0, len;

        if (size > 4096 + 1) /* CONTROL_LINE_MAX */
                return 0;
        orig = xstrndup((const char *)data, size);
        len = strlen(orig);
        line = xstrdup(orig);
        for (size_t i = 0; i < len; i++)
                want += !is_delim(orig[i]) && (i == 0 || is_delim(orig[i - 1]));

        argc = split_words(line, " \t", argv, MAX_WORDS);
        if (want > MAX_WORDS) {
                FUZZ_CHECK(argc == MAX_WORDS + 1, "%zu words, split_words says %zu", want, argc);
                return 0;
        }
        FUZZ_CHECK(argc == want, "%zu words, split_words says %zu", want, argc);
        {
                size_t k = 0; /* in orig */
                for (size_t i = 0; i < argc; i++) {
                        size_t wl = strlen(argv[i]);
                        FUZZ_CHECK(argv[i] >= line && argv[i] + wl <= line + len, "word %zu outside the line", i);
                        FUZZ_CHECK(i == 0 || argv[i] > argv[i - 1], "word %zu before word %zu", i, i - 1);
                        while (k < len && is_delim(orig[k]))
                                k++;
                        FUZZ_CHECK((size_t)(argv[i] - line) == k, "word %zu at %td, want %zu", i, argv[i] - line, k);
                        FUZZ_CHECK(wl > 0 && !memcmp(argv[i], orig + k, wl), "word %zu", i);
                        k += wl;
                        FUZZ_CHECK(k == len || is_delim(orig[k]), "word %zu ends inside a word", i);
                }
        }

        /* ban ADDRESS[/LENGTH] [DURATION], unban ADDRESS[/LENGTH] */
        if (argc >= 2) {
                Cidr c;
                int r = cidr_parse(argv[1], &c);
                FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EDOM, "cidr_parse: %d", r);
                if (r == 0) {
                        char key[CIDR_STRLEN];
                        r = mapfile_key(&c.net, c.plen, key, sizeof(key));
                        FUZZ_CHECK(r == 0 || r == -EDOM, "mapfile_key: %d", r);
                        FUZZ_CHECK(r == 0 || !cidr_is_host(&c), "a host without a key");
                }
        }
        if (argc >= 3) {
                uint64_t ms;
                char text[32];
                int r = parse_duration(argv[2], &ms);
                FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE, "parse_duration: %d", r);
                if (r == 0)
                        format_duration(ms, text, sizeof(text));
        }
        return 0;
}
