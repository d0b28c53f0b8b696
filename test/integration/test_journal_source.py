# SPDX-License-Identifier: GPL-3.0-or-later
"""The journal source, on a real systemd-journald of the test's own.

Entries are written by real processes: a sender named smtpd (root), the
same sender run as an unprivileged user or named after another mail
program, and logger(1).  The trust check must take the first and refuse
the others, whatever their text says.
"""

import os
import signal
import subprocess
import sys
import time
import unittest

import harness
import journalns
from harness import DaemonTest, sasl_fail, wait_until

SENDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "journal_sender.py")


def sasl_msg(addr, user="admin"):
    return ("warning: unknown[%s]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=%s"
            % (addr, user))


def send(*messages, name="smtpd", ident="postfix/smtpd", user=None):
    """Write messages to the journal as a process called name (as user, if given)."""
    cmd = [sys.executable, SENDER, name, ident] + list(messages)
    if user:
        cmd = ["setpriv", "--reuid=%s" % user, "--regid=nogroup", "--clear-groups"] + cmd
    subprocess.run(cmd, check=True)


class JournalSource(DaemonTest):

    CONFIG = {"log_source": "journal", "log_file": None}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        journalns.mount_private()
        cls.journald = journalns.start()

    @classmethod
    def tearDownClass(cls):
        cls.journald.send_signal(signal.SIGTERM)
        cls.journald.wait()

    def hits(self):
        return int(self.env.status()["hits"].split()[0])

    def journal_status(self):
        return self.env.status()["journal"]

    def test_a_real_smtpd_is_banned(self):
        env = self.env
        env.start()
        self.assertIn("source: journal", env.ctl("status", check=0)[1])
        send(*[sasl_msg("203.0.113.60")] * 3)
        wait_until(lambda: env.postmap_q("203.0.113.60"), timeout=10, what="the ban in the map")
        self.assertTrue(env.postmap_q("203.0.113.60").startswith("REJECT"))
        # a multi-instance name and Dovecot's identifier are read too
        send(*[sasl_msg("203.0.113.61")] * 3, ident="postfix-out/smtpd")
        wait_until(lambda: env.postmap_q("203.0.113.61"), timeout=10, what="the multi-instance ban")

    def test_a_logged_in_session_is_keyed_by_the_entries_pid(self):
        """One smtpd process (one _PID) logs a login and twelve stale
        recipients: not banned; another process, the same rejects
        without a login: banned (user-unknown bans at 10)."""
        env = self.env
        env.start()

        def reject(a, i):
            return ("NOQUEUE: reject: RCPT from pc.example.org[%s]: 550 5.1.1 <old%d@example.org>: Recipient "
                    "address rejected: User unknown in local recipient table; from=<ann@example.org> "
                    "to=<old%d@example.org> proto=ESMTP helo=<pc>" % (a, i, i))
        office, other = "203.0.113.70", "203.0.113.71"
        send("connect from pc.example.org[%s]" % office,
             "4F1A2B3C4D: client=pc.example.org[%s], sasl_method=PLAIN, sasl_username=ann" % office,
             *[reject(office, i) for i in range(12)], ident="postfix/submission/smtpd")
        send(*[reject(other, i) for i in range(12)], ident="postfix/submission/smtpd")
        wait_until(lambda: env.postmap_q(other), timeout=10, what="the client without a login in the map")
        self.assertIsNone(env.postmap_q(office))
        self.assertIn("12 hits of theirs not counted", env.status()["logged-in sessions"])

    def test_reload_goes_on_reading_the_journal(self):
        env = self.env
        env.start()
        env.signal(signal.SIGHUP)
        env.wait_notify("READY=1", after=1)
        self.assertIsNone(env.proc.poll(), "the daemon died at a reload")
        send(*[sasl_msg("203.0.113.66")] * 3)
        wait_until(lambda: env.postmap_q("203.0.113.66"), timeout=10, what="a ban after the reload")

    def test_forged_entries_are_refused_and_counted(self):
        env = self.env
        env.start()
        # logger: root, but _COMM=logger
        for _ in range(3):
            subprocess.run(["logger", "-u", "/run/systemd/journal/dev-log", "-t", "postfix/smtpd", sasl_msg("198.51.100.70")], check=True)
        # a program named smtpd, but not run by root or a mail user
        send(*[sasl_msg("198.51.100.71")] * 3, user="nobody")
        wait_until(lambda: " 6 refused" in self.journal_status(), timeout=10,
                   what="6 refused entries, got %r" % self.journal_status())
        self.assertIn("_UID=65534", self.journal_status())
        # nothing was counted, nothing banned; an honest entry still is
        self.assertEqual(self.hits(), 0)
        send(sasl_msg("198.51.100.72"))
        wait_until(lambda: self.hits() == 1, timeout=10, what="the honest hit")
        self.assertIsNone(env.postmap_q("198.51.100.70"))
        self.assertIsNone(env.postmap_q("198.51.100.71"))
        self.assertIn("refused an entry of postfix/smtpd", env.stderr())

    def test_another_mail_program_in_smtpds_name_is_refused(self):
        env = self.env
        env.start()
        # postlog(1) run by a root script can write any tag: a mail program,
        # root, but not the daemon that its identifier names
        send(*[sasl_msg("198.51.100.90")] * 3, name="postlog")
        send(*[sasl_msg("198.51.100.91")] * 3, name="cleanup", ident="postfix/submission/smtpd")
        wait_until(lambda: " 6 refused" in self.journal_status(), timeout=10,
                   what="6 refused entries, got %r" % self.journal_status())
        self.assertEqual(self.hits(), 0)
        self.assertIn("not the Postfix daemon its identifier names", env.stderr())
        # postlog's own lines for postfix-script are read as before
        send("starting the Postfix mail system", name="postlog", ident="postfix/postfix-script")
        send(sasl_msg("198.51.100.92"), ident="postfix/submission/smtpd")
        wait_until(lambda: self.hits() == 1, timeout=10, what="the honest hit")
        self.assertIn(" 6 refused", self.journal_status())
        self.assertIsNone(env.postmap_q("198.51.100.90"))

    def test_restart_resumes_after_the_cursor(self):
        env = self.env
        env.start()
        send(sasl_msg("192.0.2.80"), sasl_msg("192.0.2.81"))
        wait_until(lambda: self.hits() == 2, timeout=10, what="2 hits")
        self.assertEqual(env.stop(), 0)
        with open(env.state) as f:
            self.assertIn("\nsource journal s=", f.read())
        send(sasl_msg("192.0.2.82"))  # while the daemon is down
        env.start()
        send(sasl_msg("192.0.2.83"))
        wait_until(lambda: self.hits() >= 2, timeout=10, what="the hits after the restart")
        time.sleep(0.3)
        # the one written while down and the new one; none of before the stop again
        self.assertEqual(self.hits(), 2)

    def test_start_at_end_and_beginning(self):
        env = self.env
        send(sasl_msg("192.0.2.90"))  # before the first start, with no state
        env.start()
        send(sasl_msg("192.0.2.91"))
        wait_until(lambda: self.hits() == 1, timeout=10, what="1 hit")
        time.sleep(0.3)
        self.assertEqual(self.hits(), 1)  # start_at = end: the old entry is not read
        env.stop()
        os.unlink(env.state)
        env.write_config(start_at="beginning")
        env.start()
        # the whole of this boot: both entries, and those of the other tests
        wait_until(lambda: self.hits() >= 2, timeout=10, what="the entries of this boot")

    def test_rotation_and_vacuum_while_running(self):
        env = self.env
        env.start()
        send(sasl_msg("192.0.2.100"))
        wait_until(lambda: self.hits() == 1, timeout=10, what="1 hit")
        subprocess.run(["journalctl", "--rotate"], check=True, capture_output=True)
        subprocess.run(["journalctl", "--vacuum-files=1"], check=True, capture_output=True)
        send(sasl_msg("192.0.2.101"))
        wait_until(lambda: self.hits() == 2, timeout=10, what="the hit after rotation and vacuuming")
        # journald restarted: the daemon goes on with the new process's files
        self.journald.send_signal(signal.SIGTERM)
        self.journald.wait()
        type(self).journald = journalns.start()
        send(sasl_msg("192.0.2.102"))
        wait_until(lambda: self.hits() == 3, timeout=10, what="the hit after journald's restart")
        self.assertEqual(env.proc.poll(), None)

    def test_libsystemd_is_loaded_only_for_the_journal(self):
        # libsystemd and what it drags in (libgcrypt, liblzma, libzstd, liblz4:
        # about 0.9 MB resident) are mapped only by the journal's users.
        def maps_libsystemd(env):
            with open("/proc/%d/maps" % env.proc.pid) as f:
                return "libsystemd.so" in f.read()

        env = self.env
        env.start()
        send(*[sasl_msg("203.0.113.62")] * 3)
        wait_until(lambda: env.postmap_q("203.0.113.62"), timeout=10, what="the ban in the map")
        self.assertTrue(maps_libsystemd(env), "the journal source works without libsystemd mapped?")
        env.stop()
        env.write_config(log_source="file", log_file=env.log, log_target="stderr")
        open(env.log, "w").close()
        env.start()
        env.append(*[sasl_fail("203.0.113.63")] * 3)
        wait_until(lambda: env.postmap_q("203.0.113.63"), timeout=10, what="the ban from the file")
        self.assertFalse(maps_libsystemd(env), "a daemon following a file, logging to stderr, maps libsystemd")
        env.stop()
        env.write_config(log_target="journal")
        env.start()
        env.append(*[sasl_fail("203.0.113.64")] * 3)
        wait_until(lambda: env.postmap_q("203.0.113.64"), timeout=10, what="the ban from the file")
        self.assertTrue(maps_libsystemd(env), "a daemon logging to the journal does not map libsystemd")

    def test_auto_picks_the_file_when_it_exists_and_the_journal_otherwise(self):
        env = self.env
        env.write_config(log_source="auto", log_file=None)
        # the default log_file, /var/log/maillog, does not exist here
        self.assertFalse(os.path.exists("/var/log/maillog"))
        env.start()
        st = env.ctl("status", check=0)[1]
        self.assertIn("source: journal (log_source = auto, and there is no /var/log/maillog)", st)
        env.stop()
        env.write_config(log_file=env.log)  # set explicitly: the file, even before it exists
        env.start()
        st = env.ctl("status", check=0)[1]
        self.assertIn("source: file (log_source = auto, and log_file is set)", st)

    def test_offline_test_mode_reads_the_journal_with_the_trust_check(self):
        env = self.env
        send(*[sasl_msg("203.0.113.120")] * 2)
        subprocess.run(["logger", "-u", "/run/systemd/journal/dev-log", "-t", "postfix/smtpd", sasl_msg("203.0.113.121")], check=True)
        time.sleep(0.5)
        r = subprocess.run([harness.DAEMON, "-c", env.conf, "--test", "--journal", "--since", "1h"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("\t203.0.113.120\tsasl-auth-failed", r.stdout)
        self.assertNotIn("203.0.113.121", r.stdout)
        self.assertRegex(r.stderr, r"[1-9]\d* refused")


if __name__ == "__main__":
    journalns.enter(__file__)
    harness.main()
