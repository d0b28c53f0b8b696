/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control_handle_line(): what reaches a command handler, and what is refused before. */
#include "check.h"
#include "service/control.h"
#include "util/util.h"

typedef struct Seen {
        Buf words; /* argv joined with '|' */
        uint64_t id;
        size_t calls;
} Seen;

static ControlResult record(void *ctx, uint64_t id, char **argv, size_t argc, Buf *out)
{
        Seen *s = ctx;

        s->calls++;
        s->id = id;
        for (size_t i = 0; i < argc; i++)
                buf_printf(&s->words, "%s%s", i ? "|" : "", argv[i]);
        buf_puts(out, "handled");
        return streq(argv[0], "later") ? CONTROL_PENDING : CONTROL_OK;
}

static const ControlOps ops = {record};

static const struct {
        const char *in;
        size_t len; /* 0: strlen(in) */
        ControlResult want;
        const char *want_words; /* NULL: the handler is not called */
        const char *want_out;
} cases[] = {
        {"status", 0, CONTROL_OK, "status", "handled"},
        {"  ban \t 192.0.2.1  1h ", 0, CONTROL_OK, "ban|192.0.2.1|1h", "handled"},
        {"later", 0, CONTROL_PENDING, "later", "handled"},
        /* a NUL would cut the words short: "ban A" must not be what runs */
        {"ban 192.0.2.1\0 192.0.2.2", 25, CONTROL_ERROR, NULL, "the command holds a NUL byte"},
        {"\0", 1, CONTROL_ERROR, NULL, "the command holds a NUL byte"},
        {"st\001atus", 0, CONTROL_ERROR, NULL, "the command holds control characters"},
        {"status\033[2J", 0, CONTROL_ERROR, NULL, "the command holds control characters"},
        {"status\177", 0, CONTROL_ERROR, NULL, "the command holds control characters"},
        {"", 0, CONTROL_ERROR, NULL, "empty command; try 'help'"},
        {" \t ", 0, CONTROL_ERROR, NULL, "empty command; try 'help'"},
        {"a b c d e f g h i j k l m n o p", 0, CONTROL_OK, "a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p", "handled"},
        {"a b c d e f g h i j k l m n o p q", 0, CONTROL_ERROR, NULL, "too many words; try 'help'"},
};

int main(void)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
                char *line = xmalloc(len + 1);
                Seen seen = {0};
                Buf out = {0};
                ControlResult r;

                memcpy(line, cases[i].in, len);
                line[len] = '\0';
                r = control_handle_line(&ops, &seen, 40 + i, line, len, &out);
                buf_append(&out, "", 0);
                buf_append(&seen.words, "", 0);
                CHECK_INT(r, cases[i].want, cases[i].in);
                CHECK_STR(out.data, cases[i].want_out, cases[i].in);
                CHECK_INT(seen.calls, cases[i].want_words ? 1 : 0, cases[i].in);
                if (cases[i].want_words) {
                        CHECK_STR(seen.words.data, cases[i].want_words, cases[i].in);
                        CHECK_INT(seen.id, 40 + i, "the id reaches the handler");
                }
                buf_free(&out);
                buf_free(&seen.words);
                free(line);
        }

        /* over CONTROL_LINE_MAX: refused whatever it holds */
        {
                size_t len = CONTROL_LINE_MAX + 1;
                char *line = xmalloc(len + 1);
                Seen seen = {0};
                Buf out = {0};

                memset(line, 'x', len);
                line[len] = '\0';
                CHECK_INT(control_handle_line(&ops, &seen, 1, line, len, &out), CONTROL_ERROR, "too long");
                CHECK_INT(seen.calls, 0, "too long: the handler is not called");
                buf_free(&out);
                free(line);
        }
        return check_done();
}
