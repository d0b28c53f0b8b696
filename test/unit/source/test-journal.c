/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The journal source's trust check: who may speak as Postfix or Dovecot. */
#include "check.h"
#include "source/journal.h"
#include "util/util.h"

int main(void)
{
        uid_t uids[] = {102, 103, 104}; /* postfix, dovecot, dovenull */
        char *dirs[] = {(char *)"/usr/lib/postfix/sbin", (char *)"/usr/lib/dovecot", NULL};
        char *ids[] = {(char *)"postfix", (char *)"dovecot", NULL};
        JournalTrust t = {.uids = uids, .n_uids = 3, .exe_dirs = dirs, .identifiers = ids};
        static const struct {
                const char *name;
                JournalFields f;
                JournalVerdict want;
                const char *why; /* part of the reason, for a spoofed one */
        } cases[] = {
                {"smtpd as postfix",
                 {"postfix/smtpd", "102", "smtpd", "/usr/lib/postfix/sbin/smtpd", "9"},
                 JOURNAL_TRUSTED,
                 NULL},
                {"a multi-instance name",
                 {"postfix-out/smtpd", "102", "smtpd", NULL, "9"},
                 JOURNAL_TRUSTED,
                 NULL},
                {"postscreen as root",
                 {"postfix/postscreen", "0", "postscreen", NULL, "9"},
                 JOURNAL_TRUSTED,
                 NULL},
                {"dovecot's log process",
                 {"dovecot", "0", "log", "/usr/lib/dovecot/log", "9"},
                 JOURNAL_TRUSTED,
                 NULL},
                {"an exe under daemon_directory, comm renamed",
                 {"postfix/smtpd", "102", "x", "/usr/lib/postfix/sbin/smtpd", "9"},
                 JOURNAL_TRUSTED,
                 NULL},
                {"logger as root",
                 {"postfix/smtpd", "0", "logger", "/usr/bin/logger", "9"},
                 JOURNAL_SPOOFED,
                 "_COMM, _EXE"},
                {"smtpd as nobody",
                 {"postfix/smtpd", "65534", "smtpd", "/usr/lib/postfix/sbin/smtpd", "9"},
                 JOURNAL_SPOOFED,
                 "_UID"},
                {"no _UID", {"postfix/smtpd", NULL, "smtpd", NULL, NULL}, JOURNAL_SPOOFED, "no sender"},
                {"a bad _UID", {"postfix/smtpd", "1x", "smtpd", NULL, NULL}, JOURNAL_SPOOFED, "no sender"},
                {"no _COMM, no _EXE",
                 {"postfix/smtpd", "0", NULL, NULL, NULL},
                 JOURNAL_SPOOFED,
                 "_COMM, _EXE"},
                {"an exe beside daemon_directory",
                 {"postfix/smtpd", "0", "x", "/usr/lib/postfix/sbinx/smtpd", "9"},
                 JOURNAL_SPOOFED,
                 "_COMM"},
                {"postlog as root, in smtpd's name",
                 {"postfix/smtpd", "0", "postlog", "/usr/sbin/postlog", "9"},
                 JOURNAL_SPOOFED,
                 "identifier names"},
                {"postlog as root, in postscreen's name",
                 {"postfix-out/postscreen", "0", "postlog", NULL, "9"},
                 JOURNAL_SPOOFED,
                 "identifier names"},
                {"a mail program in another daemon's name",
                 {"postfix/submission/smtpd", "102", "cleanup", "/usr/lib/postfix/sbin/cleanup", "9"},
                 JOURNAL_SPOOFED,
                 "identifier names"},
                {"an exe in daemon_directory in another daemon's name",
                 {"postfix/smtpd", "102", "x", "/usr/lib/postfix/sbin/pipe", "9"},
                 JOURNAL_SPOOFED,
                 "identifier names"},
                {"a service name of master.cf",
                 {"postfix/submission/smtpd", "102", "smtpd", NULL, "9"},
                 JOURNAL_TRUSTED,
                 NULL},
                {"a 15-byte name, as long as _COMM holds",
                 {"postfix/trivial-rewrite", "102", "trivial-rewrite", NULL, "9"},
                 JOURNAL_TRUSTED,
                 NULL},
                {"postlog writing for postfix-script",
                 {"postfix/postfix-script", "0", "postlog", "/usr/sbin/postlog", "9"},
                 JOURNAL_TRUSTED,
                 NULL},
                {"another program", {"sshd", "0", "sshd", "/usr/sbin/sshd", "9"}, JOURNAL_NOT_OURS, NULL},
                {"a name that only starts like postfix",
                 {"postfixadmin", "33", "php", NULL, "9"},
                 JOURNAL_NOT_OURS,
                 NULL},
                {"no identifier", {NULL, "0", "x", NULL, NULL}, JOURNAL_NOT_OURS, NULL},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *why = NULL;
                JournalVerdict v = journal_trust(&t, &cases[i].f, &why);
                CHECK(v == cases[i].want, "%s: got verdict %d want %d", cases[i].name, v, cases[i].want);
                if (cases[i].why)
                        CHECK(why && strstr(why, cases[i].why), "%s: reason got '%s' want '...%s...'",
                              cases[i].name, check_show(why), cases[i].why);
        }
        /* journald 252's text, seen in test/e2e/test_systemd_journal.py */
        static const struct {
                const char *msg;
                bool want;
        } dropped[] = {
                {"Suppressed 140 messages from postfix@-.service", true},
                {"Suppressed 7 messages from postfix.service", true},
                {"Suppressed 7 messages from postfix@postfix-out.service", true},
                {"Suppressed 7 messages from dovecot.service", true},
                {"Suppressed 7 messages from postfix-autoblacklist.service", false},
                {"Suppressed 7 messages from postfix-policyd.service", false},
                {"Suppressed 7 messages from cron.service", false},
                {"Suppressed 7 messages from user@1000.service", false},
                {"Suppressed 7 messages from /system.slice/postfix.service/x", false},
                {"Suppressed 7 messages", false},
                {"postfix@-.service messages from postfix.service", false},
        };
        for (size_t i = 0; i < ELEMENTSOF(dropped); i++) {
                bool got = journal_suppressed_mail_unit(&t, dropped[i].msg, strlen(dropped[i].msg));
                CHECK(got == dropped[i].want, "'%s': got %d want %d", dropped[i].msg, got, dropped[i].want);
        }
        CHECK(journal_mail_program("trivial-rewrit"), "a 15-byte comm is known");
        CHECK(!journal_mail_program("bash"), "bash is not a mail program");
        return check_done();
}
