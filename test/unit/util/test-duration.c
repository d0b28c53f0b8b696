/* SPDX-License-Identifier: GPL-3.0-or-later */
/* util/duration: the duration syntax, both ways, and RFC 3339 times. */
#include <errno.h>

#include "check.h"
#include "util/duration.h"

static const struct {
        const char *in;
        int r;
        uint64_t ms;
} dur_cases[] = {
        {"0", 0, 0},          {"90", 0, 90000},
        {"250ms", 0, 250},    {"10s", 0, 10000},
        {"10m", 0, 600000},   {"2h", 0, 7200000},
        {"1d", 0, 86400000},  {"1w", 0, 604800000},
        {"", -EINVAL, 0},     {"m", -EINVAL, 0},
        {"10x", -EINVAL, 0},  {"-1", -EINVAL, 0},
        {"1.5h", -EINVAL, 0}, {" 10m", -EINVAL, 0},
        {"10 m", -EINVAL, 0}, {"99999999999999999999", -ERANGE, 0},
};

static const struct {
        uint64_t ms;
        const char *out;
} fmt_cases[] = {
        {0, "0s"},        {250, "250ms"},  {1000, "1s"},
        {90000, "1m30s"}, {3600000, "1h"}, {86400000 + 3600000, "1d1h"},
};

int main(void)
{
        for (size_t i = 0; i < sizeof(dur_cases) / sizeof(dur_cases[0]); i++) {
                uint64_t ms = 12345;
                int r = parse_duration(dur_cases[i].in, &ms);
                CHECK_INT(r, dur_cases[i].r, dur_cases[i].in);
                if (r == 0)
                        CHECK_INT(ms, dur_cases[i].ms, dur_cases[i].in);
        }
        for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
                char buf[32];
                CHECK_STR(format_duration(fmt_cases[i].ms, buf, sizeof(buf)), fmt_cases[i].out,
                          "format_duration");
        }
        /* RFC 3339 in UTC */
        {
                char buf[64];
                CHECK_STR(format_time(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z", "the epoch");
                CHECK_STR(format_time(1796032801000LL, buf, sizeof(buf)), "2026-11-30T10:00:01Z",
                          "format_time");
        }
        {
                int64_t a = now_ms(), b = now_ms();
                CHECK(a > 1700000000000LL && b >= a, "now_ms is the wall clock in ms: %lld %lld",
                      (long long)a, (long long)b);
        }
        return check_done();
}
