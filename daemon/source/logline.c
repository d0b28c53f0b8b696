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
 *
 * Time: an RFC 3164 stamp is local time, which costs a mktime(); that is
 * cached by the hour (thread-local), so most lines cost a few integer
 * operations.  A stamp that does not make a valid date gives time 0 (the
 * caller falls back to the clock), never a rejected line.
 */
#include "source/logline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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
#ifdef __SSE2__
        /* 16 at a time where SSE2 is there (every x86-64): most tags end within the first 16 */
        const __m128i lb = _mm_set1_epi8('['), co = _mm_set1_epi8(':'), sp = _mm_set1_epi8(' ');
        for (; end - p >= 16; p += 16) {
                __m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
                int m = _mm_movemask_epi8(
                        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, lb), _mm_cmpeq_epi8(w, co)), _mm_cmpeq_epi8(w, sp)));
                if (m)
                        return p + __builtin_ctz((unsigned)m);
        }
#endif
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
/* The first ' ' in [p, end), or NULL: the host is short, so its first 16 bytes are looked at in place. */
static inline const char *find_space(const char *p, const char *end)
{
#ifdef __SSE2__
        if (end - p >= 16) {
                int m = _mm_movemask_epi8(
                        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), _mm_set1_epi8(' ')));
                if (m)
                        return p + __builtin_ctz((unsigned)m);
                p += 16;
        }
#endif
        return memchr(p, ' ', (size_t)(end - p));
}
/*
 * How many digits start p, if fewer than 8 and p has 8 bytes to read (a
 * pid is a few digits and a ']'); 8 otherwise, for the plain loop.  In a
 * word less '0' from each byte, a digit is a byte of 0..9: the first
 * other byte has its high bit set in w or in w + 0x76 (borrows and carries
 * run only upward, from bytes past it).
 */
static inline size_t pid_digits(const char *p, const char *end)
{
        uint64_t w, nd;

        if (end - p < 8)
                return 8;
        memcpy(&w, p, 8);
        w -= 0x3030303030303030ULL;
        nd = (w | (w + 0x7676767676767676ULL)) & 0x8080808080808080ULL;
        return nd ? (size_t)__builtin_ctzll(nd) >> 3 : 8;
}

/* The value of the 1 to 7 digits at p (8 bytes readable): the digits to the top of a word, then pairwise sums. */
static inline uint32_t pid_value(const char *p, size_t n)
{
        uint64_t w;

        memcpy(&w, p, 8);
        w <<= 64 - 8 * n; /* zero bytes below: leading zeros */
        w = ((w & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8;
        w = ((w & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
        w = ((w & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
        return (uint32_t)w;
}

static inline bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

static inline int dig2(const char *p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);
        unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static bool valid_date(int year, int mon, int mday)
{
        static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

        if (mon < 1 || mon > 12 || mday < 1 || mday > mdays[mon - 1])
                return false;
        return mon != 2 || mday < 29 || leap;
}

int64_t logline_local_ms(int year, int mon, int mday, int hour, int min, int sec)
{
        static __thread struct {
                int year, mon, mday, hour;
                int64_t base;
        } cache = {.year = -1};
        struct tm tm = {0};
        time_t t;

        if (!valid_date(year, mon, mday) || hour > 23 || min > 59 || sec > 60)
                return -1;
        if (cache.year != year || cache.mon != mon || cache.mday != mday || cache.hour != hour) {
                tm.tm_year = year - 1900;
                tm.tm_mon = mon - 1;
                tm.tm_mday = mday;
                tm.tm_hour = hour;
                tm.tm_isdst = -1;
                t = mktime(&tm);
                if (t == (time_t)-1)
                        return -1;
                cache.year = year;
                cache.mon = mon;
                cache.mday = mday;
                cache.hour = hour;
                cache.base = (int64_t)t * 1000;
        }
        return cache.base + ((int64_t)min * 60 + sec) * 1000;
}

/* The local date at now_ms (cached by the hour of now). */
static void local_date(int64_t now_ms, int *year, int *mon, int *mday)
{
        static __thread int64_t hour = -1;
        static __thread int y, m, d;
        struct tm tm;
        time_t t = (time_t)(now_ms / 1000);

        if (now_ms / 3600000 != hour) {
                if (!localtime_r(&t, &tm))
                        tm = (struct tm){.tm_year = 70, .tm_mday = 1};
                hour = now_ms / 3600000;
                y = tm.tm_year + 1900;
                m = tm.tm_mon + 1;
                d = tm.tm_mday;
        }
        *year = y;
        *mon = m;
        *mday = d;
}

/*
 * The time of a stamp without a year: this year's date, or last year's
 * when this year's would be more than a day ahead of now, or next year's
 * when that is less than a day ahead (a January line read on 31 December
 * by a clock a little behind).
 */
static int64_t yearless_ms(int64_t now_ms, int mon, int mday, int hour, int min, int sec)
{
        int year, now_mon, now_mday;
        int64_t ms;

        local_date(now_ms, &year, &now_mon, &now_mday);
        /* clearly ahead (two days or more): last year's, without trying this year's */
        if (mon > now_mon || (mon == now_mon && mday > now_mday + 1))
                if (!(mon == 1 && now_mon == 12))
                        return logline_local_ms(year - 1, mon, mday, hour, min, sec);
        if (mon == 1 && now_mon == 12 && mday == 1 && now_mday == 31) {
                ms = logline_local_ms(year + 1, mon, mday, hour, min, sec);
                if (ms > 0 && ms <= now_ms + 86400000)
                        return ms;
        }
        ms = logline_local_ms(year, mon, mday, hour, min, sec);
        if (ms > now_ms + 86400000)
                ms = logline_local_ms(year - 1, mon, mday, hour, min, sec);
        return ms;
}

static int month_number(const char *p)
{
        static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        int i;

        /* a guess by the first letters, then the check of all three */
        switch (p[0]) {
        case 'J':
                i = p[1] == 'a' ? 0 : p[2] == 'n' ? 5 : 6;
                break;
        case 'F': i = 1; break;
        case 'M': i = p[2] == 'r' ? 2 : 4; break;
        case 'A': i = p[1] == 'p' ? 3 : 7; break;
        case 'S': i = 8; break;
        case 'O': i = 9; break;
        case 'N': i = 10; break;
        case 'D': i = 11; break;
        default: return 0;
        }
        return p[1] == names[i * 3 + 1] && p[2] == names[i * 3 + 2] ? i + 1 : 0;
}

/* Milliseconds of a fraction ".123456" at p[0..n) (p[0] is the first digit). */
static int frac_ms(const char *p, size_t n)
{
        int ms = 0;

        for (size_t i = 0; i < 3; i++)
                ms = ms * 10 + (i < n ? p[i] - '0' : 0);
        return ms;
}

/*
 * "Nov 30 10:00:01 " (day may be " 3", "03" or "3"); returns bytes used
 * or 0, and the time in *t (0 if the date is not valid).
 */
/* The last RFC 3164 stamp and its time: many lines share their second. */
static __thread char last[32];
static __thread size_t last_n;
static __thread int64_t last_t, last_hour = -1;

static size_t skip_rfc3164_stamp(const char *p, size_t len, int64_t now_ms, int64_t *t)
{
        size_t i = 0, f = 0, nf = 0;
        int mon, mday;
        int64_t ms;

        /* the common case first, with two loads: the last line's stamp "Nov 30 10:00:01" and a space */
        if (last_n == 15 && len >= 16 && p[15] == ' ' && now_ms / 3600000 == last_hour) {
                uint64_t a, b, x, y;
                memcpy(&a, p, 8);
                memcpy(&b, p + 7, 8);
                memcpy(&x, last, 8);
                memcpy(&y, last + 7, 8);
                if (a == x && b == y) {
                        *t = last_t;
                        return 16;
                }
        }
        if (len < 15 || !is_upper(p[0]) || !is_lower(p[1]) || !is_lower(p[2]) || p[3] != ' ')
                return 0;
        i = 4;
        if (p[i] == ' ')
                i++;
        if (i >= len || !is_digit(p[i]))
                return 0;
        mday = p[i] - '0';
        i++;
        if (i < len && is_digit(p[i]))
                mday = mday * 10 + (p[i++] - '0');
        if (i + 9 > len || p[i] != ' ')
                return 0;
        i++;
        /* hh:mm:ss */
        if (!is_digit(p[i]) || !is_digit(p[i + 1]) || p[i + 2] != ':' || !is_digit(p[i + 3]) ||
            !is_digit(p[i + 4]) || p[i + 5] != ':' || !is_digit(p[i + 6]) || !is_digit(p[i + 7]))
                return 0;
        f = i;
        i += 8;
        /* optional fraction, as some syslog templates write */
        if (i < len && p[i] == '.') {
                i++;
                nf = i;
                while (i < len && is_digit(p[i]))
                        i++;
        }
        if (i >= len || p[i] != ' ')
                return 0;
        /* many lines share their second: the last stamp's time, if the text and the hour of now match */
        {
                if (i == last_n && now_ms / 3600000 == last_hour && memcmp(p, last, i) == 0) {
                        *t = last_t;
                        return i + 1;
                }
                *t = 0;
                mon = month_number(p);
                if (mon) {
                        ms = yearless_ms(now_ms, mon, mday, dig2(p + f), dig2(p + f + 3), dig2(p + f + 6));
                        if (ms > 0)
                                *t = ms + (nf ? frac_ms(p + nf, i - nf) : 0);
                }
                if (i < sizeof(last)) {
                        memcpy(last, p, i);
                        last_n = i;
                        last_t = *t;
                        last_hour = now_ms / 3600000;
                }
                return i + 1;
        }
}

/*
 * An RFC 3339 stamp "2026-11-30T10:00:01.123456+00:00" (also ' ' for 'T',
 * "Z", "+0100", or no zone: local time) followed by a space; returns bytes
 * used or 0, and the time in *t (0 if it is not a valid date).
 */
static size_t skip_rfc3339_stamp(const char *p, size_t len, int64_t *t)
{
        const char *sp;
        size_t i, n, nf = 0, ef = 0;
        int year, mon, mday, hour, min, sec, off = 0;
        bool zone = false;
        int64_t ms;

        if (len < 20 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]) || !is_digit(p[3]) ||
            p[4] != '-' || !is_digit(p[5]) || !is_digit(p[6]) || p[7] != '-' || !is_digit(p[8]) ||
            !is_digit(p[9]) || (p[10] != 'T' && p[10] != ' ') || !is_digit(p[11]) || p[13] != ':')
                return 0;
        sp = memchr(p + 11, ' ', len - 11);
        if (!sp || sp - p > 40)
                return 0;
        n = (size_t)(sp - p);
        *t = 0;
        /* the time itself: hh:mm:ss[.frac][zone]; anything else keeps the line but not its time */
        if (n < 19 || !is_digit(p[12]) || !is_digit(p[14]) || !is_digit(p[15]) || p[16] != ':' ||
            !is_digit(p[17]) || !is_digit(p[18]))
                return n + 1;
        year = dig2(p) * 100 + dig2(p + 2);
        mon = dig2(p + 5);
        mday = dig2(p + 8);
        hour = dig2(p + 11);
        min = dig2(p + 14);
        sec = dig2(p + 17);
        i = 19;
        if (i < n && (p[i] == '.' || p[i] == ',')) {
                nf = ++i;
                while (i < n && is_digit(p[i]))
                        i++;
                ef = i;
        }
        if (i < n && p[i] == 'Z') {
                zone = true;
                i++;
        } else if (i < n && (p[i] == '+' || p[i] == '-')) {
                int sign = p[i] == '-' ? -1 : 1;
                if (i + 3 > n || !is_digit(p[i + 1]) || !is_digit(p[i + 2]))
                        return n + 1;
                off = dig2(p + i + 1) * 60;
                i += 3;
                if (i < n && p[i] == ':')
                        i++;
                if (i + 2 <= n && is_digit(p[i]) && is_digit(p[i + 1])) {
                        off += dig2(p + i);
                        i += 2;
                }
                off *= sign;
                zone = true;
        }
        if (i != n || !valid_date(year, mon, mday) || hour > 23 || min > 59 || sec > 60)
                return n + 1;
        if (zone)
                ms = (days_from_civil(year, (unsigned)mon, (unsigned)mday) * 86400 + hour * 3600 + min * 60 + sec -
                      off * 60) * 1000;
        else
                ms = logline_local_ms(year, mon, mday, hour, min, sec);
        if (ms > 0)
                *t = ms + (nf ? frac_ms(p + nf, ef - nf) : 0);
        return n + 1;
}

/* "<PRI>" (1 to 3 digits, at most 191); returns bytes used or 0. */
static size_t skip_pri(const char *p, size_t len)
{
        size_t i = 1;
        unsigned v = 0;

        if (len < 3 || p[0] != '<')
                return 0;
        while (i < len && i <= 3 && is_digit(p[i]))
                v = v * 10 + (unsigned)(p[i++] - '0');
        if (i == 1 || i >= len || p[i] != '>' || v > 191)
                return 0;
        return i + 1;
}

/* The next space-delimited field of an RFC 5424 header at *p; false if none. */
static bool field5424(const char **p, const char *end, const char **f, size_t *n)
{
        const char *sp = memchr(*p, ' ', (size_t)(end - *p));

        if (!sp || sp == *p)
                return false;
        *f = *p;
        *n = (size_t)(sp - *p);
        *p = sp + 1;
        return true;
}

static int32_t parse_pid(const char *p, size_t n)
{
        int32_t v = 0;

        if (n == 0 || n > 9)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (!is_digit(p[i]))
                        return 0;
                v = v * 10 + (p[i] - '0');
        }
        return v;
}

/* "1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]" after "<PRI>". */
static int parse_rfc5424(const char *p, const char *end, LogLine *out)
{
        const char *f;
        size_t n;

        p += 2; /* "1 " */
        if (p >= end)
                return -EINVAL;
        if (*p == '-' && p + 1 < end && p[1] == ' ')
                p += 2; /* no time: the caller's clock */
        else {
                n = skip_rfc3339_stamp(p, (size_t)(end - p), &out->time_ms);
                if (n == 0)
                        return -EINVAL;
                p += n;
        }
        if (!field5424(&p, end, &f, &n)) /* host */
                return -EINVAL;
        if (!field5424(&p, end, &f, &n) || (n == 1 && f[0] == '-')) /* app: the tag */
                return -EINVAL;
        out->tag = f;
        out->tag_len = n;
        if (!field5424(&p, end, &f, &n)) /* procid */
                return -EINVAL;
        out->pid = parse_pid(f, n);
        if (!field5424(&p, end, &f, &n)) /* msgid */
                return -EINVAL;
        /* structured data: "-" or one or more [id param="value" ...]; values escape '"', '\' and ']' */
        if (p < end && *p == '-')
                p++;
        else if (p < end && *p == '[') {
                while (p < end && *p == '[') {
                        bool quoted = false;
                        for (p++; p < end; p++) {
                                if (quoted && *p == '\\' && p + 1 < end)
                                        p++;
                                else if (*p == '"')
                                        quoted = !quoted;
                                else if (!quoted && *p == ']')
                                        break;
                        }
                        if (p >= end)
                                return -EINVAL;
                        p++;
                }
        } else
                return -EINVAL;
        if (p < end && *p != ' ')
                return -EINVAL;
        if (p < end)
                p++;
        if (end - p >= 3 && (unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf)
                p += 3; /* the BOM of a UTF-8 message */
        out->msg = p;
        out->msg_len = (size_t)(end - p);
        return 0;
}

int logline_parse_at(const char *line, size_t len, int64_t now_ms, LogLine *out)
{
        const char *p = line, *end = line + len, *host_end, *tag, *q;
        size_t n;

        out->time_ms = 0;
        out->pid = 0;
        n = skip_pri(p, len);
        if (n) {
                p += n;
                if (end - p >= 2 && p[0] == '1' && p[1] == ' ')
                        return parse_rfc5424(p, end, out);
        }
        n = skip_rfc3164_stamp(p, (size_t)(end - p), now_ms, &out->time_ms);
        if (n == 0)
                n = skip_rfc3339_stamp(p, (size_t)(end - p), &out->time_ms);
        if (n == 0)
                return -EINVAL;
        p += n;

        /* host */
        host_end = find_space(p, end);
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
                uint32_t v = 0; /* wraps beyond 9 digits, which give 0 anyway */
                size_t nd = pid_digits(p + 1, end);
                if (nd < 8) { /* the digits, and the byte after them, were read in one word */
                        q = p + 1 + nd;
                        v = nd ? pid_value(p + 1, nd) : 0;
                } else /* one pass for the digits and their value (as parse_pid(): 0 beyond 9 digits) */
                        for (q = p + 1; q < end && is_digit(*q); q++)
                                v = v * 10 + (uint32_t)(*q - '0');
                if (q == p + 1 || q >= end || *q != ']')
                        return -EINVAL;
                out->pid = q - p - 1 <= 9 ? (int32_t)v : 0;
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

int logline_parse(const char *line, size_t len, LogLine *out)
{
        return logline_parse_at(line, len, now_ms(), out);
}
