/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * logline: split a syslog line into tag and message.
 *
 * This runs on every line of the log, so it is a single forward scan with
 * no allocation.  It trusts nothing: the line may be binary, truncated, or
 * carry NUL bytes; every step checks the remaining length.  The host and
 * the tag are written by the local syslog daemon, not by remote clients,
 * but a remote client controls much of the message, so the message is
 * only located here, never interpreted.
 */
#include "logline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* The bytes that end a tag: '[' or ':' end it, a space means no tag. */
static const bool tag_stop[256] = {['['] = true, [':'] = true, [' '] = true};

/* Non-zero where a byte of w equals c; the lowest set bit is the first match. */
static inline uint64_t byte_eq(uint64_t w, unsigned char c)
{
        uint64_t x = w ^ (0x0101010101010101ULL * c);
        return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

/*
 * The first tag-ending byte in [p, end), 8 bytes at a time: this runs on
 * every line, and a byte-by-byte loop was its largest cost.
 */
static const char *tag_end(const char *p, const char *end)
{
        for (; end - p >= 8; p += 8) {
                uint64_t w, m;
                memcpy(&w, p, 8);
                m = byte_eq(w, '[') | byte_eq(w, ':') | byte_eq(w, ' ');
                if (m)
                        return p + (__builtin_ctzll(m) >> 3);
        }
        while (p < end && !tag_stop[(unsigned char)*p])
                p++;
        return p;
}
static inline bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

/* "Nov 30 10:00:01 " (day may be " 3", "03" or "3"); returns bytes used or 0. */
static size_t skip_rfc3164_stamp(const char *p, size_t len)
{
        size_t i = 0;

        if (len < 15 || !is_upper(p[0]) || !is_lower(p[1]) || !is_lower(p[2]) || p[3] != ' ')
                return 0;
        i = 4;
        if (p[i] == ' ')
                i++;
        if (i >= len || !is_digit(p[i]))
                return 0;
        i++;
        if (i < len && is_digit(p[i]))
                i++;
        if (i + 9 > len || p[i] != ' ')
                return 0;
        i++;
        /* hh:mm:ss */
        if (!is_digit(p[i]) || !is_digit(p[i + 1]) || p[i + 2] != ':' || !is_digit(p[i + 3]) ||
            !is_digit(p[i + 4]) || p[i + 5] != ':' || !is_digit(p[i + 6]) || !is_digit(p[i + 7]))
                return 0;
        i += 8;
        /* optional fraction, as some syslog templates write */
        if (i < len && p[i] == '.') {
                i++;
                while (i < len && is_digit(p[i]))
                        i++;
        }
        if (i >= len || p[i] != ' ')
                return 0;
        return i + 1;
}

/* "2026-11-30T10:00:01.123456+00:00 "; returns bytes used or 0. */
static size_t skip_rfc3339_stamp(const char *p, size_t len)
{
        const char *sp;

        if (len < 20 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]) || !is_digit(p[3]) ||
            p[4] != '-' || !is_digit(p[5]) || !is_digit(p[6]) || p[7] != '-' || !is_digit(p[8]) ||
            !is_digit(p[9]) || (p[10] != 'T' && p[10] != ' ') || !is_digit(p[11]) || p[13] != ':')
                return 0;
        sp = memchr(p + 11, ' ', len - 11);
        if (!sp || sp - p > 40)
                return 0;
        return (size_t)(sp - p) + 1;
}

int logline_parse(const char *line, size_t len, LogLine *out)
{
        const char *p = line, *end = line + len, *host_end, *tag, *q;
        size_t n;

        n = skip_rfc3164_stamp(p, len);
        if (n == 0)
                n = skip_rfc3339_stamp(p, len);
        if (n == 0)
                return -EINVAL;
        p += n;

        /* host */
        host_end = memchr(p, ' ', (size_t)(end - p));
        if (!host_end || host_end == p)
                return -EINVAL;
        p = host_end + 1;

        /* tag, up to '[' or ':' (a space means there is no tag) */
        tag = p;
        p = tag_end(p, end);
        if (p == tag || p >= end)
                return -EINVAL;
        out->tag = tag;
        out->tag_len = (size_t)(p - tag);
        if (*p == '[') {
                q = p + 1;
                while (q < end && is_digit(*q))
                        q++;
                if (q == p + 1 || q >= end || *q != ']')
                        return -EINVAL;
                p = q + 1;
        }
        if (p + 1 > end || *p != ':')
                return -EINVAL;
        p++;
        if (p < end && *p == ' ')
                p++;
        out->msg = p;
        out->msg_len = (size_t)(end - p);
        return 0;
}
