/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "check.h"
#include "core/session.h"

/* One log, line by line: does each line belong to a logged-in session of the address it names? */
static const struct {
        const char *tag;
        int pid;
        const char *msg;
        const char *addr; /* the address a rule would take from the line */
        int want;         /* 1: exempt (a logged-in session's line for that address) */
} steps[] = {
        {"postfix/submission/smtpd", 100, "connect from pc.example.org[192.0.2.10]", "192.0.2.10", 0},
        /* not logged in yet: a reject counts */
        {"postfix/submission/smtpd", 100,
         "NOQUEUE: reject: RCPT from pc.example.org[192.0.2.10]: 550 5.1.1 <a@example.org>: Recipient address "
         "rejected: User unknown in local recipient table; from=<u@example.org> to=<a@example.org> proto=ESMTP "
         "helo=<pc>",
         "192.0.2.10", 0},
        {"postfix/submission/smtpd", 100,
         "4F1A2B3C4D: client=pc.example.org[192.0.2.10], sasl_method=PLAIN, sasl_username=u@example.org",
         "192.0.2.10", 1},
        {"postfix/submission/smtpd", 100,
         "4F1A2B3C4D: reject: RCPT from pc.example.org[192.0.2.10]: 550 5.1.1 <b@example.org>: Recipient address "
         "rejected: User unknown in local recipient table; from=<u@example.org> to=<b@example.org> proto=ESMTP "
         "helo=<pc>",
         "192.0.2.10", 1},
        /* another address on the same line cannot ride on the session */
        {"postfix/submission/smtpd", 100, "warning: x[198.51.100.1]: m", "198.51.100.1", 0},
        /* another process: not this session */
        {"postfix/submission/smtpd", 101, "NOQUEUE: reject: RCPT from x[192.0.2.10]: 550 ...", "192.0.2.10", 0},
        /* another program with the same pid */
        {"dovecot", 100, "imap-login: m", "192.0.2.10", 0},
        /* the disconnect still belongs to the session, then it is over */
        {"postfix/submission/smtpd", 100, "disconnect from pc.example.org[192.0.2.10] ehlo=1 auth=1 mail=1 rcpt=1/2",
         "192.0.2.10", 1},
        {"postfix/submission/smtpd", 100, "NOQUEUE: reject: RCPT from pc.example.org[192.0.2.10]: 550 ...",
         "192.0.2.10", 0},
        /* a login, then the same process serves a new client: connect ends the old session */
        {"postfix/smtps/smtpd", 200, "ABC: client=unknown[2001:db8::5]:4711, sasl_method=LOGIN, sasl_username=x",
         "2001:db8::5", 1},
        {"postfix/smtps/smtpd", 200, "connect from unknown[2001:db8::5]", "2001:db8::5", 0},
        {"postfix/smtps/smtpd", 200, "NOQUEUE: reject: RCPT from unknown[2001:db8::5]: 550 ...", "2001:db8::5", 0},
        /* not a login: no sasl_method (an unauthenticated client=), a forged one in free text,
           a method that is not a mechanism name, no queue id */
        {"postfix/smtpd", 300, "ABC: client=unknown[192.0.2.30]", "192.0.2.30", 0},
        {"postfix/smtpd", 300, "ABC: reject: RCPT from unknown[192.0.2.30]: 550 x", "192.0.2.30", 0},
        {"postfix/smtpd", 300, "warning: ABC: client=unknown[192.0.2.30], sasl_method=PLAIN, sasl_username=x",
         "192.0.2.30", 0},
        {"postfix/smtpd", 300, "ABC: client=unknown[192.0.2.30], sasl_method=P L, sasl_username=x", "192.0.2.30", 0},
        {"postfix/smtpd", 300, "client=unknown[192.0.2.30], sasl_method=PLAIN, sasl_username=x", "192.0.2.30", 0},
        {"postfix/smtpd", 300, "ABC: reject: RCPT from unknown[192.0.2.30]: 550 x", "192.0.2.30", 0},
        /* no pid: no session */
        {"postfix/smtpd", 0, "ABC: client=unknown[192.0.2.40], sasl_method=PLAIN, sasl_username=x", "192.0.2.40", 0},
        /* not smtpd */
        {"postfix/cleanup", 400, "ABC: client=unknown[192.0.2.40], sasl_method=PLAIN, sasl_username=x", "192.0.2.40", 0},
};

static bool note(Sessions *s, const char *tag, int pid, const char *msg, const char *addr)
{
        LogRecord rec = {.tag = tag, .tag_len = strlen(tag), .msg = msg, .msg_len = strlen(msg), .pid = pid};
        Addr a;

        if (addr_parse_str(addr, &a) < 0)
                return false;
        return sessions_exempt(s, &rec, &a);
}

/* The same step by sessions_track() and, where it says SESSION_ASK, sessions_lookup(). */
static bool note_lazy(Sessions *s, const char *tag, int pid, const char *msg, const char *addr)
{
        LogRecord rec = {.tag = tag, .tag_len = strlen(tag), .msg = msg, .msg_len = strlen(msg), .pid = pid};
        SessionAnswer ans;
        Addr a, c;

        if (addr_parse_str(addr, &a) < 0)
                return false;
        ans = sessions_track(s, &rec, &c);
        if (ans == SESSION_ASK)
                ans = sessions_lookup(s, &rec, &c) ? SESSION_IN : SESSION_OUT;
        return ans == SESSION_IN && addr_equal(&c, &a);
}

int main(void)
{
        Sessions *s = sessions_new(16);
        Sessions *lazy = sessions_new(16);

        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                bool got = note(s, steps[i].tag, steps[i].pid, steps[i].msg, steps[i].addr);
                CHECK(got == (steps[i].want != 0), "step %zu (%s[%d]: %.40s): got %d want %d", i, steps[i].tag,
                      steps[i].pid, steps[i].msg, got, steps[i].want);
                got = note_lazy(lazy, steps[i].tag, steps[i].pid, steps[i].msg, steps[i].addr);
                CHECK(got == (steps[i].want != 0), "step %zu by track/lookup (%s[%d]: %.40s): got %d want %d", i,
                      steps[i].tag, steps[i].pid, steps[i].msg, got, steps[i].want);
        }
        CHECK_INT(sessions_count(s), 0, "sessions left");
        CHECK_INT(sessions_count(lazy), 0, "sessions left by track/lookup");
        s = sessions_free(s);
        lazy = sessions_free(lazy);

        /* The cap: 4 sessions, 10 logins; the oldest are forgotten, the newest are held. */
        s = sessions_new(4);
        for (int pid = 1; pid <= 10; pid++) {
                char msg[128];
                snprintf(msg, sizeof(msg), "Q%d: client=unknown[192.0.2.%d], sasl_method=PLAIN, sasl_username=u", pid,
                         pid);
                (void)note(s, "postfix/smtpd", pid, msg, "192.0.2.1");
        }
        CHECK_INT(sessions_count(s), 4, "held at the cap");
        CHECK_INT(sessions_evictions(s), 6, "evicted");
        for (int pid = 1; pid <= 10; pid++) {
                char a[32];
                snprintf(a, sizeof(a), "192.0.2.%d", pid);
                CHECK(note(s, "postfix/smtpd", pid, "Q: reject: x", a) == (pid > 6), "pid %d after the cap: got %d", pid,
                      !(pid > 6));
        }
        /* a disconnect frees a slot; a new login reuses the ring without evicting a live one too early */
        (void)note(s, "postfix/smtpd", 8, "disconnect from unknown[192.0.2.8]", "192.0.2.8");
        CHECK_INT(sessions_count(s), 3, "after a disconnect");
        s = sessions_free(s);
        return check_done();
}
