/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * The ban policy, in one place: what a rule's hit leads to, and every other
 * change of the bans (by hand, from the fleet, from the state file, at
 * expiry).  The daemon, --test --replay and the control commands all ask
 * it; nobody else writes a Ban.  It owns the tracker (hits per host), the
 * IPv6 network tracker (hits per network of ipv6_net_prefix), the ban set
 * and the never-ban list.
 *
 * Pure: no I/O, no log, no event loop; the clock is a parameter.  The
 * caller logs, publishes and saves from what the verdicts say.  What
 * belongs to a backend comes in from outside, through PolicyOps: the key a
 * ban is written as, the networks a lookup of that key reaches, and what
 * the admin's own entries (OK in the access map) exempt.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/banset.h"
#include "core/exempt.h"
#include "util/addr.h"
#include "util/names.h"

/* The settings, from the configuration (the service layer fills them in). */
typedef struct PolicySettings {
        uint64_t ban_time_ms;     /* a ban by hand (default), and a network's for its banned hosts */
        double ban_time_factor;   /* repeat offenders: each ban this much longer ... */
        uint64_t ban_time_max_ms; /* ... up to this (0: no cap) */
        uint64_t ban_memory_ms;   /* how long a past ban counts as a previous one */
        size_t max_tracked;       /* addresses with hits, not banned yet */
        uint64_t window_ms;       /* the longest find_time of any rule */
        unsigned ipv6_net_prefix; /* an IPv6 network is this long ... */
        unsigned ipv6_net_hosts;  /* ... banned once this many of its hosts are (0: never) */
        unsigned ipv6_net_factor; /* ... or once its hits reach a rule's max_hits x this (0: never) */
        /* The hits of a host under a network ban alone still count (an auth
           map: smtpd looks it up by the exact address, so only a host's own
           ban closes AUTH to it). */
        bool count_under_net;
        /* Network bans go to a cidr: map of their own: a banned host under
           one stays in the access map too (smtpd may not read that map). */
        bool network_map;
        uint16_t manual_rule; /* the interned rule names "manual" ... */
        uint16_t net_rule;    /* ... and "ipv6-network" */
} PolicySettings;

typedef struct PolicyOps {
        /*
         * The access(5) key of net/plen into key (CIDR_STRLEN bytes), or ""
         * for a network that goes into a cidr: map; -EDOM if no map can
         * hold it.
         */
        int (*key)(void *ctx, const Addr *net, unsigned plen, char *key, size_t size);
        /* The networks lookups of net/plen reach (1 or 2 into out: "10" is 10/8 and 10::/16); NULL: itself. */
        size_t (*reach)(void *ctx, const Addr *net, unsigned plen, Cidr out[2]);
        /* Why the admin's own entries exempt net/plen, or NULL; NULL op: none. */
        const char *(*admin)(void *ctx, const Addr *net, unsigned plen);
} PolicyOps;

typedef struct Policy Policy;

/* names: the rule and host names (the caller's, it must outlive the policy). */
Policy *policy_new(const PolicySettings *s, Names *names, const uint8_t hash_key[16], const PolicyOps *ops,
                   void *ctx);
Policy *policy_free(Policy *p);
/* New settings (a reload); the bans and hits stay. */
void policy_configure(Policy *p, const PolicySettings *s);
/* The never-ban list: takes e's contents (e is left empty). */
void policy_set_exempt(Policy *p, Exempt *e);

/*
 * Why a/plen is never banned, NULL if it may be: the never-ban list (over
 * every network a lookup of its key reaches), then the admin's entries.
 */
const char *policy_never_banned(const Policy *p, const Addr *a, unsigned plen);

/* --- a rule's hit --------------------------------------------------------- */

/* A rule matched a record: who, which rule, its threshold, when. */
typedef struct PolicyHit {
        Addr addr;
        uint16_t rule; /* interned rule name */
        unsigned max_hits;
        uint64_t find_time_ms;
        uint64_t ban_time_ms; /* 0: for ever */
        int64_t time_ms;      /* the record's own time; 0: unknown (now) */
        bool own_reject;      /* the record logs a rejection by our own map */
        bool logged_in;       /* the client's session is logged in (session.c) */
} PolicyHit;

typedef enum PolicyKind {
        POLICY_OWN_REJECT, /* our own map's rejection: not a hit */
        POLICY_LOGGED_IN,  /* a logged-in user's: not counted */
        POLICY_EXEMPT,     /* never banned: why */
        POLICY_ALREADY,    /* banned already: not counted */
        POLICY_HIT,        /* counted: count of max_hits; maybe a ban */
} PolicyKind;

typedef enum PolicyOutcome {
        POLICY_NONE,     /* no ban */
        POLICY_IMPOSED,  /* ban is in force */
        POLICY_TOO_LATE, /* a ban from `at` would be over by now (an old log): not imposed, remembered */
        POLICY_NO_KEY,   /* a network that no map can hold: not banned, its hosts stay banned */
        POLICY_REFUSED,  /* a network that holds an address never banned (why): not banned */
} PolicyOutcome;

typedef enum PolicyCause {
        POLICY_BY_HITS,     /* a host: count hits of its rule */
        POLICY_BY_HOSTS,    /* a network: `hits` of its hosts are banned (rule net_rule) */
        POLICY_BY_NET_HITS, /* a network: its addresses have `hits` hits of the rule */
} PolicyCause;

/* A ban that a hit led to, or tried to. */
typedef struct PolicyBan {
        PolicyOutcome outcome;
        PolicyCause cause;
        const Ban *ban; /* IMPOSED: the ban (valid until the bans change) */
        Addr addr;      /* the host, or the network */
        uint8_t plen;
        uint16_t rule;
        uint32_t hits;
        int64_t at;      /* it runs from then: the hit's time */
        uint64_t len;    /* its length; 0: for ever */
        bool repeat;     /* IMPOSED: a repeat offender's, escalated */
        const char *why; /* REFUSED: what protects the network */
        bool first;      /* REFUSED: the first refusal for this network (bounded: later ones are not first) */
} PolicyBan;

typedef struct PolicyVerdict {
        PolicyKind kind;
        const char *why;  /* EXEMPT */
        const Ban *cover; /* ALREADY: the ban that covers it */
        int64_t at;       /* HIT: the hit's time (the record's, never later than now) */
        unsigned count;   /* HIT: hits of the rule within find_time, this one included */
        unsigned max_hits;
        PolicyBan host; /* the host's ban */
        PolicyBan net;  /* its network's ban */
        bool changed;   /* the bans changed (to save); a map change only with an IMPOSED one */
} PolicyVerdict;

/*
 * Judge a hit at now.  The ban runs from the hit's time, so that a
 * catch-up over an old log does what following it would have done.
 */
PolicyKind policy_judge(Policy *p, const PolicyHit *h, int64_t now, PolicyVerdict *v);

/* --- bans from elsewhere ---------------------------------------------------- */

/*
 * A ban by hand of net/plen from now for len_ms (0: for ever).  0 and the
 * ban in *out; -EDOM: no map can hold that network; -EPERM: it is never
 * banned (*why).
 */
int policy_ban(Policy *p, const Addr *net, uint8_t plen, uint64_t len_ms, int64_t now,
               const Ban **out, const char **why);

/* A ban of another host (the fleet), as it told it. */
typedef struct PolicyImport {
        Addr addr;
        uint8_t plen;
        const char *origin; /* the host that banned it */
        bool forever;
        int64_t remaining_ms; /* until it expires */
        int64_t age_ms;       /* since it was banned */
        uint32_t count;
} PolicyImport;

typedef enum PolicyImportCheck {
        POLICY_IMPORT_OK,     /* to impose (policy_import()) */
        POLICY_IMPORT_OVER,   /* over already */
        POLICY_IMPORT_OURS,   /* our own ban of it stands */
        POLICY_IMPORT_SAME,   /* the same ban again: nothing changes */
        POLICY_IMPORT_NO_KEY, /* no map can hold that network */
        POLICY_IMPORT_EXEMPT, /* never banned here (*why) */
} PolicyImportCheck;

/* May this ban of another host be imposed here?  Local exemptions win. */
PolicyImportCheck policy_import_check(Policy *p, const PolicyImport *im, int64_t now,
                                      const char **why);
/* Impose it (after POLICY_IMPORT_OK), as rule and origin (interned by the caller). */
const Ban *policy_import(Policy *p, const PolicyImport *im, uint16_t rule, uint16_t origin, int64_t now);

/* A ban of the state file, as saved. */
typedef struct PolicyRecord {
        Addr addr;
        uint8_t plen;
        const char *rule;
        const char *origin; /* another fleet host's ban: its name; "" or NULL: ours */
        bool active, manual;
        uint32_t count, hits;
        int64_t first_hit_ms, last_hit_ms, banned_ms, expires_ms;
} PolicyRecord;

/*
 * Restore r at now: 1 an active ban (in the state file, so it may reach the
 * map at once), 0 an ended one kept for the repeat-offender memory,
 * -ESTALE ended and out of memory too, -ENOSPC no room for its rule name.
 */
int policy_restore(Policy *p, const PolicyRecord *r, int64_t now);

/* --- ends --------------------------------------------------------------------- */

/* Lift b (an unban, a flush, an exemption): its record goes, and a host's hits too. */
void policy_lift(Policy *p, const Ban *b);
/* Forget a's hits (the admin trusts it now). */
void policy_forget_hits(Policy *p, const Addr *a);
/* Drop every record, active or not, and the hits of their hosts; returns how many. */
size_t policy_flush(Policy *p);

typedef struct PolicyExpired {
        Addr addr;
        uint8_t plen;
        uint16_t rule;
} PolicyExpired;

/*
 * Lift the bans due at now (their records are kept for ban_memory) and
 * forget the records out of memory.  The lifted ones into *out (the
 * caller's to free; NULL if none), their number returned; *forgot: some
 * records were forgotten (the state changed).
 */
size_t policy_expire(Policy *p, int64_t now, PolicyExpired **out, bool *forgot);
/* The earliest expiry or forget time, 0 if none: when policy_expire() is due. */
int64_t policy_next_due(const Policy *p);

/* --- what a backend publishes ----------------------------------------------------- */

typedef enum PolicyPlanKind {
        /* every active ban a map can hold, but a host under an active network
           ban (without network_map: the network's key covers it) */
        POLICY_PLAN_ACCESS,
        /* every active host ban, those under a network ban too */
        POLICY_PLAN_HOSTS,
} PolicyPlanKind;

typedef struct PolicyEntry {
        const Ban *ban;
        char key[CIDR_STRLEN]; /* its access(5) key; "": a network for the cidr: map */
        const char *exempt;    /* never banned now (the admin's OK, the ignore list): to lift, not publish */
        bool held;             /* not in the state file's last good save yet: not to publish */
} PolicyEntry;

/* A walk over the active bans, in address order. */
typedef struct PolicyPlan {
        Policy *p;
        Ban **v;
        size_t n, i;
        PolicyPlanKind kind;
        bool state_behind;
} PolicyPlan;

/*
 * Start a walk.  state_behind: the state file may not hold every ban (a save failed), so
 * the bans it does not hold are held back.  The bans must not change until
 * policy_plan_end().
 */
void policy_plan_start(Policy *p, PolicyPlan *it, PolicyPlanKind kind,
                       bool state_behind);
bool policy_plan_next(PolicyPlan *it, PolicyEntry *e);
void policy_plan_end(PolicyPlan *it);

/* --- looking ---------------------------------------------------------------------- */

/* The record of exactly this host or network, active or not. */
const Ban *policy_get(Policy *p, const Addr *a, uint8_t plen);
/* The active ban that covers a: its own or its network's. */
const Ban *policy_covering(Policy *p, const Addr *a);
/* As banset_list(). */
size_t policy_list(Policy *p, bool active_only, const Ban ***out);
/* The state file's change log: as banset_take_changes() and banset_clear_changes(). */
size_t policy_take_changes(Policy *p, BanChange **out);
void policy_clear_changes(Policy *p);
/* b is in the state file as it stands now (active or not). */
void policy_mark_saved(Policy *p, const Ban *b);

typedef struct PolicyStats {
        size_t active, records; /* bans in force; records, the ended ones too */
        size_t tracked;         /* hosts with hits */
        uint64_t evicted;       /* hosts dropped from the full tracker */
        size_t tracker_memory, ban_memory;
} PolicyStats;

/* Forget hits too old to count at now. */
void policy_tidy(Policy *p, int64_t now);
void policy_stats(const Policy *p, PolicyStats *s);
/* Bans in force. */
size_t policy_active(const Policy *p);
