/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Interned rule names.  A rule keeps the same small id for as long as the
 * daemon runs, across reloads, so that hits counted under a rule survive a
 * reload that keeps its name, and bans can name their rule with 2 bytes.
 */

#include <stdint.h>

#define NAMES_MAX 65535

typedef struct Names Names;

Names *names_new(void);
Names *names_free(Names *n);
/* The id of name, added if new; -E2BIG when the table is full. */
int names_intern(Names *n, const char *name, uint16_t *out);
/* The id of name if it is in the table; -ENOENT if not. */
int names_find(const Names *n, const char *name, uint16_t *out);
/* The name of an id, or "?" for an id never handed out. */
const char *names_get(const Names *n, uint16_t id);
