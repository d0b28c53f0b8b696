/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * diag: a list of diagnostics, each "file:line: message".  Parsers collect
 * every problem instead of stopping at the first, so that --check shows
 * them all and a rejected reload logs them all.  This is how a library
 * module reports a reason without logging: it fills a Diags, and the
 * service layer decides where the text goes.
 */

#include <stdio.h>

#include "util/macro.h"

typedef struct Diags {
        char **items;
        size_t n;
        size_t cap;
} Diags;

/* Add "file:line: " (or "file: " if line is 0, or nothing if file is NULL) and the message. */
void diags_add(Diags *d, const char *file, unsigned line, const char *fmt, ...) _printf_(4, 5);
void diags_free(Diags *d);
/* Print each item on a line of its own, after prefix. */
void diags_print(FILE *f, const Diags *d, const char *prefix);
