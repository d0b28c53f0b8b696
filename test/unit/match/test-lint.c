/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The lint: which patterns let a client's text choose the address
 * (issue 9's holes among them), and which are fixed fields.
 */
#include "check.h"
#include "match/lint.h"
#include "util/util.h"

static const struct {
        const char *pattern;
        int ok;
} lint_cases[] = {
        {"^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL", 0},
        {"^warning: (?:[-._A-Za-z0-9]+|unknown)\\[<ADDR>\\]: SASL", 0},
        /* holes 1 and 2 of issue 9: the SASL mechanism or a raw HELO name
         * ("x[192.0.2.1]: SASL ...") in a warning before the client field */
        {"^warning: [^[]*\\[<ADDR>\\]: SASL", -1},  /* free text, even if it stops at '[' */
        {"^warning: [^\\s[]+\\[<ADDR>\\]", -1},     /* likewise */
        {"^warning: [A-Za-z0-9 .:\"]+\\[<ADDR>\\]", -1}, /* a name with a space */
        {"^warning: [A-Za-z]+ [a-z]+\\[<ADDR>\\]", 0},   /* a literal space is a fixed field */
        /* hole 3: a Dovecot user field that takes the password's forgery */
        {"^auth: [a-z-]+\\([^[]*,<ADDR>,", -1},
        {"^auth: [a-z-]+\\([^,]{0,64},<ADDR>,", -1},       /* negated: free text */
        {"^auth: [a-z-]+\\([-.@_A-Za-z0-9]{0,64},<ADDR>,", 0}, /* a bounded class */
        {"^x [ -~]+ rip=<ADDR>", -1},                       /* a range over most of ASCII */
        {"^x (?:a|[^,])+ rip=<ADDR>", -1},                  /* free text in a group */
        {"^x (?:(?!rip=)[a-z =])* rip=<ADDR>", 0},          /* a lookahead is no run */
        {"^warning: .*\\[<ADDR>\\]", -1},            /* .* crosses '[' */
        {"^warning: \\S+\\[<ADDR>\\]", -1},          /* \S+ crosses '[' */
        {"^warning: [^\\]]*\\[<ADDR>\\]", -1},       /* a negated class that allows '[' */
        {"^warning: [A-z]+\\[<ADDR>\\]", -1},        /* A-z covers '[' */
        {"^warning: (?:x|.)+\\[<ADDR>\\]", -1},      /* a repeated group with a '.' */
        {"^x .{1,5} \\[<ADDR>\\]", 0},                /* bounded: cannot reach an attacker field */
        {"^x .{1,64} \\[<ADDR>\\]", -1},              /* ... but this can */
        {"^x .*? \\[<ADDR>\\]", -1},                  /* lazy runs count too */
        {"warning: [-.A-Za-z0-9]+\\[<ADDR>\\]", -1}, /* not anchored */
        {"^warning: no address", -1},
        {"^<ADDR> <ADDR>", -1},
        {"^x [a-z]*<ADDR>", -1},                      /* no literal before <ADDR> */
        {"^warning: [-.A-Za-z0-9]+\\[<ADDR>\\] then .*", 0}, /* runs after <ADDR> are fine */
        {"^rip=<ADDR>", 0},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(lint_cases) / sizeof(lint_cases[0]); i++) {
                char *why = NULL;
                int r = lint_pattern(lint_cases[i].pattern, &why);
                CHECK(r == lint_cases[i].ok, "lint '%s': got %d (%s) want %d", lint_cases[i].pattern, r,
                      why ? why : "ok", lint_cases[i].ok);
                CHECK(r == 0 ? why == NULL : why && *why, "lint '%s': a reason exactly when it fails",
                      lint_cases[i].pattern);
                free(why);
        }
        return check_done();
}
