/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * pattern: walking a pattern's syntax for the lint and the prefilter
 * (see pattern.h).  The patterns are the admin's, but the walk still
 * never reads past the terminating NUL, whatever the text: an
 * unterminated class or group ends at the end of the string.
 */
#include "match/pattern.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

size_t pattern_skip_class(const char *p, size_t i)
{
        i++;
        if (p[i] == '^')
                i++;
        if (p[i] == ']')
                i++;
        while (p[i] && p[i] != ']') {
                if (p[i] == '\\' && p[i + 1])
                        i += 2;
                else if (p[i] == '[' && p[i + 1] == ':') {
                        const char *e = strstr(p + i + 2, ":]");
                        i = e ? (size_t)(e - p) + 2 : i + 1;
                } else
                        i++;
        }
        return p[i] ? i + 1 : i;
}

size_t pattern_skip_group(const char *p, size_t i)
{
        int depth = 0;

        while (p[i]) {
                if (p[i] == '\\' && p[i + 1])
                        i += 2;
                else if (p[i] == '[')
                        i = pattern_skip_class(p, i);
                else if (p[i] == '(') {
                        depth++;
                        i++;
                } else if (p[i] == ')') {
                        i++;
                        if (--depth == 0)
                                return i;
                } else
                        i++;
        }
        return i;
}

size_t pattern_quantifier(const char *p, size_t i, unsigned long *min, unsigned long *max, bool *unbounded)
{
        size_t j = i + 1;
        char *end;

        if (!isdigit((unsigned char)p[j]))
                return 0;
        *min = *max = strtoul(p + j, &end, 10);
        j = (size_t)(end - p);
        *unbounded = false;
        if (p[j] == ',') {
                j++;
                if (p[j] == '}')
                        *unbounded = true;
                else {
                        if (!isdigit((unsigned char)p[j]))
                                return 0;
                        *max = strtoul(p + j, &end, 10);
                        j = (size_t)(end - p);
                }
        }
        if (p[j] != '}')
                return 0;
        return j + 1 - i;
}
