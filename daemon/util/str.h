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

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Trim ASCII white space at both ends, in place; returns s. */
char *strip(char *s);
/* Does s start with prefix? */
static inline bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}
static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
bool endswith(const char *s, const char *suffix);

/*
 * The length of the run of ASCII letters and digits at the start of
 * s[0..n): a log message's leading word, such as a queue id.  16 bytes at
 * a time where SSE2 is there, for it runs on most lines; it reads no byte
 * past s + n.
 */
static inline size_t alnum_span(const char *s, size_t n)
{
        size_t i = 0;

#ifdef __SSE2__
        for (; n - i >= 16; i += 16) {
                __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
                /* x - '0' <= 9, and (x | 0x20) - 'a' <= 25, unsigned: max(v, lim) == lim */
                __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
                __m128i l = _mm_sub_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
                __m128i is_d = _mm_cmpeq_epi8(_mm_max_epu8(d, _mm_set1_epi8(9)), _mm_set1_epi8(9));
                __m128i is_l = _mm_cmpeq_epi8(_mm_max_epu8(l, _mm_set1_epi8(25)), _mm_set1_epi8(25));
                unsigned stop = ~(unsigned)_mm_movemask_epi8(_mm_or_si128(is_d, is_l)) & 0xffffu;
                if (stop)
                        return i + (size_t)__builtin_ctz(stop);
        }
#endif
        for (; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
                        break;
        }
        return i;
}

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
