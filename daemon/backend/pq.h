/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * libpq, loaded at run time by the fleet and only by it.
 *
 * libpq brings libssl, libcrypto, GnuTLS, Kerberos, LDAP and more with
 * it: about 5 MB of resident pages in a daemon whose own memory is about
 * 3 MB.  A host that does not share its bans (no `fleet` key) never maps
 * any of it; the first use of the fleet dlopen()s libpq.so.5 and resolves
 * the functions below.  fleet.c calls them as PQ(PQfinish)(conn), so the
 * compiler checks every call against libpq-fe.h's own prototypes.
 */

#include <libpq-fe.h>
#include <stdbool.h>

#define PQ_FUNCTIONS(X)                                                                                       \
        X(PQclear)                                                                                            \
        X(PQconnectPoll)                                                                                      \
        X(PQconnectStart)                                                                                     \
        X(PQconninfoFree)                                                                                     \
        X(PQconninfoParse)                                                                                    \
        X(PQconsumeInput)                                                                                     \
        X(PQdb)                                                                                               \
        X(PQerrorMessage)                                                                                     \
        X(PQescapeStringConn)                                                                                 \
        X(PQfinish)                                                                                           \
        X(PQflush)                                                                                            \
        X(PQfreemem)                                                                                          \
        X(PQgetResult)                                                                                        \
        X(PQgetisnull)                                                                                        \
        X(PQgetvalue)                                                                                         \
        X(PQhost)                                                                                             \
        X(PQisBusy)                                                                                           \
        X(PQnotifies)                                                                                         \
        X(PQntuples)                                                                                          \
        X(PQport)                                                                                             \
        X(PQresultErrorField)                                                                                 \
        X(PQresultErrorMessage)                                                                               \
        X(PQresultStatus)                                                                                     \
        X(PQsendQuery)                                                                                        \
        X(PQsetNoticeProcessor)                                                                               \
        X(PQsetnonblocking)                                                                                   \
        X(PQsocket)                                                                                           \
        X(PQstatus)                                                                                           \
        X(PQuser)

typedef struct PqLib {
#define PQ_FIELD(f) __typeof__(f) *f;
        PQ_FUNCTIONS(PQ_FIELD)
#undef PQ_FIELD
} PqLib;

/* Once pq_load() succeeded. */
extern const PqLib *pq_lib;
#define PQ(f) (pq_lib->f)

/*
 * Load libpq (once; later calls answer at once).  0, or -ENOENT and *why
 * (static text: the loader's message) when it is not installed or lacks a
 * function.
 */
int pq_load(const char **why);
/* Is libpq mapped into this process?  (For tests: it must not be without a fleet.) */
bool pq_loaded(void);
