/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * session: the logged-in smtpd sessions, by pid.
 *
 * Entries sit in a ring of max slots in the order of their logins; a new
 * login takes the next slot, and if that slot still holds a session (its
 * disconnect never came) that one is evicted: the oldest login goes
 * first, and memory is max slots however the log behaves.  An index by
 * pid finds them.
 *
 * Security: only smtpd writes a message that starts with "QUEUEID:
 * client=NAME[ADDR], sasl_method=", and only after a successful AUTH; the
 * host name is smtpd's ([-._A-Za-z0-9]), the address is the client's
 * socket address, and the mechanism name is checked to be one
 * ([A-Za-z0-9_-]).  Everything after "sasl_username=" is the client's
 * text and is not read.  A session is exempt only for the address it
 * logged in from, so a stale entry (a lost disconnect, a reused pid)
 * can exempt no one else, and a "connect from" of the same pid ends it.
 */
#include "core/session.h"

#include <string.h>

#include "util/htab.h"
#include "util/util.h"

typedef struct Entry {
        int32_t pid; /* 0: the slot is free */
        Addr client;
} Entry;

struct Sessions {
        Entry *ring;
        size_t max, next, count;
        uint64_t evictions;
        HTab index;
};

static uint64_t pid_hash(int32_t pid)
{
        uint64_t h = (uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ULL;
        return h ^ (h >> 29);
}

static bool entry_equal(const void *ctx, uint32_t i, const void *key)
{
        return ((const Sessions *)ctx)->ring[i].pid == *(const int32_t *)key;
}

static const HTabOps ops = {entry_equal};

Sessions *sessions_new(size_t max)
{
        Sessions *s = xcalloc(1, sizeof(*s));

        s->max = max ? max : 1;
        s->ring = xcalloc(s->max, sizeof(Entry));
        htab_init(&s->index, &ops, s);
        return s;
}

Sessions *sessions_free(Sessions *s)
{
        if (s) {
                htab_free(&s->index);
                free(s->ring);
                free(s);
        }
        return NULL;
}

static void drop(Sessions *s, uint32_t i)
{
        htab_remove(&s->index, i, pid_hash(s->ring[i].pid));
        s->ring[i].pid = 0;
        s->count--;
}

static void login(Sessions *s, int32_t pid, const Addr *client)
{
        uint32_t i = htab_find(&s->index, &pid, pid_hash(pid));

        if (i != HTAB_NONE) {
                s->ring[i].client = *client; /* a second mail of the same session */
                return;
        }
        i = (uint32_t)s->next;
        s->next = (s->next + 1) % s->max;
        if (s->ring[i].pid) {
                drop(s, i);
                s->evictions++;
        }
        s->ring[i] = (Entry){.pid = pid, .client = *client};
        htab_insert(&s->index, i, pid_hash(pid));
        s->count++;
}

static bool starts(const char *p, const char *end, const char *lit)
{
        size_t n = strlen(lit);
        return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

static bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* "client=NAME[ADDR](:PORT)?, sasl_method=MECH, sasl_username=" at p: the address, or false. */
static bool parse_login(const char *p, const char *end, Addr *client)
{
        const char *a, *b, *q;

        if (!starts(p, end, "client="))
                return false;
        p += 7;
        while (p < end && (is_alnum(*p) || *p == '-' || *p == '.' || *p == '_'))
                p++;
        if (p >= end || *p != '[')
                return false;
        a = ++p;
        b = memchr(p, ']', (size_t)(MIN(end - p, 46)));
        if (!b)
                return false;
        p = b + 1;
        if (p < end && *p == ':')
                for (p++; p < end && *p >= '0' && *p <= '9';)
                        p++;
        /* most client= lines are not logins: the address is parsed last */
        if (!starts(p, end, ", sasl_method="))
                return false;
        p += 14;
        for (q = p; p < end && (is_alnum(*p) || *p == '-' || *p == '_');)
                p++;
        return p > q && starts(p, end, ", sasl_username=") && addr_parse(a, (size_t)(b - a), client) == 0;
}

/* An smtpd of any Postfix instance, with a pid: the pid is the session. */
static bool is_smtpd(const LogRecord *rec)
{
        return rec->pid > 0 && rec->tag_len >= 13 && memcmp(rec->tag, "postfix", 7) == 0 &&
               memcmp(rec->tag + rec->tag_len - 6, "/smtpd", 6) == 0;
}

static uint32_t find(const Sessions *s, int32_t pid)
{
        return s->count ? htab_find(&s->index, &pid, pid_hash(pid)) : HTAB_NONE;
}

bool sessions_lookup(const Sessions *s, const LogRecord *rec, Addr *client)
{
        uint32_t i;

        if (!is_smtpd(rec))
                return false;
        i = find(s, rec->pid);
        if (i == HTAB_NONE)
                return false;
        *client = s->ring[i].client;
        return true;
}

/*
 * The lines that change the state are told apart before any lookup: most
 * smtpd lines change nothing, and their answer (the state as it is) is
 * looked up only if the caller needs it (SESSION_ASK).
 */
SessionAnswer sessions_track(Sessions *s, const LogRecord *rec, Addr *client)
{
        const char *p = rec->msg, *end = rec->msg + rec->msg_len, *q;
        uint32_t i;
        Addr a;

        if (!is_smtpd(rec))
                return SESSION_OUT;
        if (p < end && *p == 'c' && starts(p, end, "connect from ")) {
                i = find(s, rec->pid);
                if (i != HTAB_NONE)
                        drop(s, i); /* a new client of the same process */
                return SESSION_OUT;
        }
        if (p < end && *p == 'd' && starts(p, end, "disconnect from ")) {
                i = find(s, rec->pid);
                if (i == HTAB_NONE)
                        return SESSION_OUT;
                *client = s->ring[i].client;
                drop(s, i);
                return SESSION_IN;
        }
        /* "QUEUEID: client=..." */
        q = p + alnum_span(p, (size_t)(end - p));
        if (q > p && starts(q, end, ": client=") && parse_login(q + 2, end, &a)) {
                login(s, rec->pid, &a);
                *client = a;
                return SESSION_IN;
        }
        return SESSION_ASK;
}

bool sessions_note(Sessions *s, const LogRecord *rec, Addr *client)
{
        SessionAnswer a = sessions_track(s, rec, client);

        return a == SESSION_ASK ? sessions_lookup(s, rec, client) : a == SESSION_IN;
}

size_t sessions_count(const Sessions *s) { return s->count; }
uint64_t sessions_evictions(const Sessions *s) { return s->evictions; }
