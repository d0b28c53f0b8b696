/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * duration: durations and times as text.  Pure, but for now_ms(), which
 * reads the wall clock.
 */
#include "util/duration.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "util/macro.h"
#include "util/str.h"

static const struct {
        const char *suffix;
        uint64_t ms;
} duration_units[] = {
        {"ms", 1},          {"s", 1000},           {"m", 60 * 1000},
        {"h", 3600 * 1000}, {"d", 86400 * 1000ULL}, {"w", 7 * 86400 * 1000ULL},
};

int parse_duration(const char *s, uint64_t *out_ms)
{
        const char *p = s;
        uint64_t v = 0, mult = 1000;
        bool unit_found = false;

        if (!s || !isdigit((unsigned char)*p))
                return -EINVAL;
        for (; isdigit((unsigned char)*p); p++) {
                unsigned d = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (*p) {
                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                        if (streq(p, duration_units[i].suffix)) {
                                mult = duration_units[i].ms;
                                unit_found = true;
                                break;
                        }
                if (!unit_found)
                        return -EINVAL;
        }
        /* Cap at about 290 million years; anything bigger is a typo. */
        if (v > (UINT64_MAX / 1000) / mult)
                return -ERANGE;
        *out_ms = v * mult;
        return 0;
}

char *format_duration(uint64_t ms, char *buf, size_t size)
{
        static const struct {
                const char *unit;
                uint64_t ms;
        } parts[] = {{"d", 86400000ULL}, {"h", 3600000ULL}, {"m", 60000ULL}, {"s", 1000ULL}};
        size_t used = 0;

        buf[0] = '\0';
        if (ms % 1000) {
                snprintf(buf, size, "%llums", (unsigned long long)ms);
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                uint64_t n = ms / parts[i].ms;
                if (n == 0)
                        continue;
                ms -= n * parts[i].ms;
                used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%llu%s",
                                         (unsigned long long)n, parts[i].unit);
        }
        if (used == 0)
                snprintf(buf, size, "0s");
        return buf;
}

int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *format_time(int64_t ms, char *buf, size_t size)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "@%lld", (long long)(ms / 1000));
        return buf;
}
