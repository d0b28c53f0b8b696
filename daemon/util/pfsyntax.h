/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * pfsyntax: Postfix's logical lines, as main.cf and postmap(1) input have
 * them: a line that starts with white space continues the one before it
 * (joined by one space, its leading white space dropped); blank lines and
 * lines whose first non-white byte is '#' are skipped.  Pure: it reads the
 * text it is given (any bytes, no size limit of its own) and calls back.
 */

#include <stddef.h>

/*
 * fn gets each logical line, NUL-terminated and writable, with the number
 * of its first line.  A continuation with no line before it goes to
 * orphan (if not NULL) on its own, with its white space.
 */
typedef void (*LogicalLineFn)(void *ctx, char *line, size_t len, unsigned lineno);
void postfix_lines(const char *text, size_t len, LogicalLineFn fn, LogicalLineFn orphan, void *ctx);
