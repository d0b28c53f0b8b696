/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * str: small string helpers: trimming, prefixes and suffixes, splitting
 * lists and words, NULL-terminated string vectors, and the number and
 * boolean syntax of the config file.  Pure; the parsers refuse overflow
 * and trailing junk instead of guessing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/macro.h"

/* Trim ASCII white space at both ends, in place; returns s. */
char *strip(char *s);
/* Does s start with prefix? */
static inline bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}
static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
bool endswith(const char *s, const char *suffix);

/* A decimal number up to max: -EINVAL for anything but digits, -ERANGE above max. */
int parse_uint(const char *s, uint64_t max, uint64_t *out);
/* yes/true/on/1 or no/false/off/0, in any case. */
int parse_bool(const char *s, bool *out);

/*
 * Split s into words separated by commas and/or white space (the list
 * syntax of the config file).  Returns a NULL-terminated array, to be freed
 * with strv_free().
 */
char **split_list(const char *s);
/*
 * Split line in place at any of delims into at most max words (pointers
 * into line).  Returns the count, or max + 1 if there are more words.
 */
size_t split_words(char *line, const char *delims, char **w, size_t max);
size_t strv_length(char **v);
/* A deep copy of the NULL-terminated v. */
char **strv_copy(char **v);
void strv_free(char **v);
static inline void strv_freep(char ***v) { strv_free(*v); }
#define _cleanup_strv_free_ _cleanup_(strv_freep)
