/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * str: string helpers.  Pure; the list splitter allocates through the x*
 * allocators.
 */
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "util/alloc.h"

char *strip(char *s)
{
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

bool endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

size_t split_words(char *line, const char *delims, char **w, size_t max)
{
        size_t n = 0;
        char *save = NULL;

        for (char *t = strtok_r(line, delims, &save); t; t = strtok_r(NULL, delims, &save)) {
                if (n == max)
                        return max + 1;
                w[n++] = t;
        }
        return n;
}

char **split_list(const char *s)
{
        char **v = NULL;
        size_t n = 0, cap = 0;

        for (;;) {
                const char *start;

                while (*s && (*s == ',' || isspace((unsigned char)*s)))
                        s++;
                if (!*s)
                        break;
                start = s;
                while (*s && *s != ',' && !isspace((unsigned char)*s))
                        s++;
                GROW(v, cap, n + 2);
                v[n++] = xstrndup(start, (size_t)(s - start));
        }
        GROW(v, cap, n + 1);
        v[n] = NULL;
        return v;
}

char **strv_copy(char **v)
{
        size_t n = strv_length(v);
        char **c = xcalloc(n + 1, sizeof(char *));

        for (size_t i = 0; i < n; i++)
                c[i] = xstrdup(v[i]);
        return c;
}

size_t strv_length(char **v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
        uint64_t v = 0;

        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        for (; isdigit((unsigned char)*s); s++) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*s)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *out = v;
        return 0;
}

int parse_bool(const char *s, bool *out)
{
        static const char *yes[] = {"yes", "true", "on", "1"};
        static const char *no[] = {"no", "false", "off", "0"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *out = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}
