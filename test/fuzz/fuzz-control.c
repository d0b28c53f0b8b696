/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz the control protocol's line handling without a socket: the pure
 * entry point control_handle_line() with a handler that records what
 * reaches it, and the functions the command handlers (commands.c) are
 * made of, on the same terms: the line split with split_words(line,
 * " \t", argv, 16), and a ban/unban target and duration checked with
 * cidr_parse(), mapfile_key() and parse_duration().
 *
 * control_handle_line() must hand the handler exactly the words of a line
 * that holds no control character (tab aside), and never call it for any
 * other line: a NUL or a newline inside a request must not run a command.
 *
 * split_words() must give the words of the line (runs of bytes that are
 * not a delimiter) in order, each a NUL-terminated piece of the line
 * itself, or 17 when there are more than 16.
 */
#include <errno.h>

#include "util/addr.h"
#include "fuzz.h"
#include "backend/mapfile.h"
#include "service/control.h"
#include "util/util.h"

#define MAX_WORDS 16 /* as handle_line() */

static bool is_delim(char c) { return c == ' ' || c == '\t'; }

typedef struct Seen {
        size_t calls, argc;
        Buf words; /* argv joined with ' ' */
} Seen;

static ControlResult record(void *ctx, uint64_t id, char **argv, size_t argc, Buf *out)
{
        Seen *s = ctx;

        (void)id;
        s->calls++;
        s->argc = argc;
        for (size_t i = 0; i < argc; i++)
                buf_printf(&s->words, "%s%s", i ? " " : "", argv[i]);
        buf_puts(out, "ok");
        return CONTROL_OK;
}

static void check_handle_line(const uint8_t *data, size_t size)
{
        static const ControlOps ops = {record};
        _cleanup_free_ char *line = xmalloc(size + 1), *want = xmalloc(size + 1);
        bool clean = size <= CONTROL_LINE_MAX;
        size_t wl = 0, words = 0;
        Seen seen = {0};
        Buf out = {0};
        ControlResult r;

        memcpy(line, data, size);
        line[size] = '\0';
        /* what the handler must see: the words, joined by one space */
        for (size_t i = 0; i < size; i++) {
                unsigned char c = data[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        clean = false;
                if (is_delim((char)c))
                        continue;
                if (i == 0 || is_delim((char)data[i - 1])) {
                        words++;
                        if (wl)
                                want[wl++] = ' ';
                }
                want[wl++] = (char)c;
        }
        want[wl] = '\0';
        clean = clean && words > 0 && words <= MAX_WORDS;

        r = control_handle_line(&ops, &seen, 1, line, size, &out);
        if (clean) {
                FUZZ_CHECK(r == CONTROL_OK && seen.calls == 1, "a clean line of %zu words was refused", words);
                FUZZ_CHECK(seen.argc == words, "%zu words, the handler got %zu", words, seen.argc);
                FUZZ_CHECK(seen.words.len == wl && !memcmp(seen.words.data, want, wl), "the handler got other words");
        } else {
                FUZZ_CHECK(r == CONTROL_ERROR && seen.calls == 0, "a refused line reached the handler");
                FUZZ_CHECK(out.len > 0, "a refusal without a reason");
        }
        buf_free(&seen.words);
        buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *orig = NULL, *line = NULL;
        char *argv[MAX_WORDS];
        size_t argc, want = 0, len;

        if (size > CONTROL_LINE_MAX + 1)
                return 0;
        check_handle_line(data, size);
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
