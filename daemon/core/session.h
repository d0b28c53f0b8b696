/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Session context: which smtpd sessions are logged in.  An smtpd process
 * serves one client at a time, from its "connect from" to its
 * "disconnect from", and logs "QUEUEID: client=NAME[ADDR],
 * sasl_method=M, sasl_username=U" once that client has logged in and
 * sent mail.  From then until the disconnect, the rejects of that process
 * for that address are a real user's (ten stale recipients in an office's
 * mail client), not an attack: they are never counted.
 *
 * Keyed by the pid of the record (LogRecord.pid).  Only logged-in
 * sessions are held, at most max of them; at the cap the oldest login is
 * forgotten (counted in sessions_evictions()), so a log that loses its
 * disconnect lines cannot grow the set.  Pure: no clock, no I/O.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "core/record.h"

#define SESSIONS_MAX_DEFAULT 4096

typedef struct Sessions Sessions;

Sessions *sessions_new(size_t max);
Sessions *sessions_free(Sessions *s);
/*
 * Note one record (any program: others are ignored at once).  Returns
 * true if it is a line of a logged-in smtpd session, with the session's
 * client in *client; a "disconnect from" line still belongs to the
 * session it ends.
 */
bool sessions_note(Sessions *s, const LogRecord *rec, Addr *client);

/*
 * sessions_note() in two halves, for a caller that needs the answer only
 * for some records (those that match a rule): sessions_track() makes the
 * record's changes (connect, disconnect, login) and answers as
 * sessions_note() would, or SESSION_ASK when the answer is the state as it
 * stands, which sessions_lookup() then gives until the next record is
 * tracked.  Most lines are SESSION_ASK, and most of those need no answer.
 */
typedef enum { SESSION_OUT, SESSION_IN, SESSION_ASK } SessionAnswer;
SessionAnswer sessions_track(Sessions *s, const LogRecord *rec, Addr *client);
bool sessions_lookup(const Sessions *s, const LogRecord *rec, Addr *client);
/* Is the record, which names address a, from a's logged-in session? */
static inline bool sessions_exempt(Sessions *s, const LogRecord *rec, const Addr *a)
{
        Addr c;
        return sessions_note(s, rec, &c) && addr_equal(&c, a);
}
size_t sessions_count(const Sessions *s);
uint64_t sessions_evictions(const Sessions *s);
