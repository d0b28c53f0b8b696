# SPDX-License-Identifier: GPL-3.0-or-later
"""The journal, on a real systemd-journald (Debian's systemd package).

The test runs itself again inside a private mount namespace (unshare -m),
with tmpfs on /run/systemd/journal, /run/log, /var/log/journal and the
catalog folders, starts /lib/systemd/systemd-journald there, and reads the
entries back with journalctl -o json FIELD=value.  Nothing reaches the
host's journal.  It needs root for the mounts.
"""

import os
import re
import signal
import socket
import subprocess
import time

import harness
import journalns
from harness import DaemonTest, sasl_fail, wait_until

CATALOG = os.path.join(harness.SOURCE_ROOT, "systemd", "postfix-autoblacklist.catalog")
journal = journalns.entries


def setup_journal():
    """tmpfs over everything journald and journalctl write (with our catalog); start journald."""
    journalns.mount_private(CATALOG)
    return journalns.start()


def catalog_ids():
    with open(CATALOG) as f:
        return set(re.findall(r"(?m)^-- ([0-9a-f]{32})$", f.read()))


class Journal(DaemonTest):

    CONFIG = {"log_target": "journal"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.journald = setup_journal()

    @classmethod
    def tearDownClass(cls):
        cls.journald.send_signal(signal.SIGTERM)
        cls.journald.wait()

    def wait_journal(self, *matches, n=1, timeout=10):
        wait_until(lambda: len(journal(*matches)) >= n, timeout=timeout,
                   what="%d journal entries %s" % (n, " ".join(matches)))
        return journal(*matches)

    def test_hits_and_bans_carry_structured_fields(self):
        env = self.env
        env.start()
        for _ in range(3):
            env.append(sasl_fail("203.0.113.40"))
        entries = self.wait_journal("AUTOBLACKLIST_ADDRESS=203.0.113.40", n=4)
        hits = [e for e in entries if e.get("AUTOBLACKLIST_EVENT") == "hit"]
        bans = [e for e in entries if e.get("AUTOBLACKLIST_EVENT") == "ban"]
        self.assertEqual(len(hits), 3)
        self.assertEqual(len(bans), 1)
        ban = bans[0]
        self.assertEqual(ban["AUTOBLACKLIST_RULE"], "sasl-auth-failed")
        self.assertRegex(ban["AUTOBLACKLIST_EXPIRES"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(ban["PRIORITY"], "5")
        self.assertEqual(ban["SYSLOG_IDENTIFIER"], "autoblacklistd")
        self.assertIn("ban 203.0.113.40", ban["MESSAGE"])
        self.assertEqual(hits[0]["PRIORITY"], "6")
        self.assertEqual(hits[0]["AUTOBLACKLIST_RULE"], "sasl-auth-failed")
        self.assertNotEqual(hits[0]["MESSAGE_ID"], ban["MESSAGE_ID"])
        # the history of one address, as an admin would ask for it
        r = subprocess.run(["journalctl", "--no-pager", "AUTOBLACKLIST_ADDRESS=203.0.113.40"],
                           capture_output=True, text=True)
        self.assertEqual(r.stdout.count("autoblacklistd"), 4, r.stdout)

    def test_every_event_kind_has_its_message_id_in_the_catalog(self):
        env = self.env
        rules = env.own_rules()
        one = os.path.join(rules, "zz-one.rules")
        with open(one, "w") as f:
            f.write("[one]\nprogram = postfix*/smtpd\npattern = ^test event from [-._A-Za-z0-9]+\\[<ADDR>\\]\n"
                    "max_hits = 1\nban_time = 1s\n")
        env.write_config(ban_memory="0")
        open(env.log, "w").close()
        env.start()
        env.append("%s mx postfix/smtpd[1]: test event from x[203.0.113.41]" % harness.stamp())  # hit, ban, expire
        env.ctl("ban", "203.0.113.42", check=0)
        env.ctl("unban", "203.0.113.42", check=0)               # unban
        env.signal(signal.SIGHUP)                               # reload
        wait_until(lambda: journal("AUTOBLACKLIST_EVENT=reload"), what="the reload")
        with open(os.path.join(rules, "broken.rules"), "w") as f:
            f.write("[broken]\nprogram = x\npattern = ^(<ADDR>\n")
        env.signal(signal.SIGHUP)                               # reload rejected
        # (two SIGHUPs close together may arrive as one: wait for each outcome)
        wait_until(lambda: journal("AUTOBLACKLIST_EVENT=reload-rejected"), timeout=15, what="the rejection")
        os.rename(env.log, env.log + ".1")                      # rotation
        env.append(sasl_fail("203.0.113.43"))
        env.write_config(postmap="%s -c %s" % (harness.POSTMAP, os.path.join(env.dir, "nowhere")))
        os.unlink(os.path.join(rules, "broken.rules"))
        env.signal(signal.SIGHUP)
        env.ctl("ban", "203.0.113.44", check=0)                 # postmap failed
        kinds = ["start", "hit", "ban", "expire", "unban", "reload", "reload-rejected", "rotate",
                 "map-written", "postmap-failed"]
        for k in kinds:
            self.wait_journal("AUTOBLACKLIST_EVENT=" + k, timeout=15)
        self.assertEqual(env.stop(), 0)
        self.wait_journal("AUTOBLACKLIST_EVENT=stop")
        ids = {}
        for k in kinds + ["stop"]:
            e = journal("AUTOBLACKLIST_EVENT=" + k)[0]
            ids.setdefault(e["MESSAGE_ID"], k)
            self.assertEqual(ids[e["MESSAGE_ID"]], k, "one message ID per event kind")
        missing = set(ids) - catalog_ids()
        self.assertEqual(missing, set(), "message IDs without a catalog entry: %s" % missing)
        rejected = journal("AUTOBLACKLIST_EVENT=reload-rejected")[0]
        self.assertEqual(rejected["PRIORITY"], "3")
        failed = journal("AUTOBLACKLIST_EVENT=postmap-failed")[0]
        self.assertIn("nowhere/main.cf", failed["MESSAGE"])

    def test_catalog_explains_a_ban(self):
        env = self.env
        env.start()
        env.ctl("ban", "203.0.113.45", "1h", check=0)
        e = self.wait_journal("AUTOBLACKLIST_ADDRESS=203.0.113.45", "AUTOBLACKLIST_EVENT=ban")[0]
        r = subprocess.run(["journalctl", "--no-pager", "-x", "MESSAGE_ID=" + e["MESSAGE_ID"],
                            "AUTOBLACKLIST_ADDRESS=203.0.113.45"], capture_output=True, text=True)
        self.assertIn("postfix-autoblacklist banned a client", r.stdout)
        self.assertIn("The client 203.0.113.45 is banned (rule manual)", r.stdout)

    def test_a_flood_is_limited_and_counted(self):
        env = self.env
        env.write_config(max_hits="1000")
        env.start()
        n = 3000
        env.append(*[sasl_fail("10.60.%d.%d" % (i // 250, i % 250 + 1)) for i in range(n)])
        wait_until(lambda: env.status()["hits"].startswith("%d " % n), what="all the hits")
        time.sleep(1.2)                                        # the bucket refills a little
        env.append(sasl_fail("10.61.0.1"))
        pid = "_PID=%d" % env.proc.pid
        wait_until(lambda: journal(pid, "AUTOBLACKLIST_ADDRESS=10.61.0.1"), what="the hit after the flood")
        # each message that gets through after drops says how many were dropped before it
        notes = [e for e in journal(pid, "PRIORITY=4") if "hit messages suppressed by the flood limiter" in e["MESSAGE"]]
        self.assertTrue(notes, "a message that says how many were dropped")
        dropped = sum(int(e["MESSAGE"].split()[0]) for e in notes)
        logged = len(journal(pid, "AUTOBLACKLIST_EVENT=hit"))
        self.assertLess(logged, 500, "the flood did not reach the journal")
        self.assertEqual(logged + dropped, n + 1, "every hit is logged or counted")
        self.assertIn("log messages dropped by the flood limiter: %d" % dropped, env.ctl("status")[1])

    def test_auto_uses_the_journal_when_stderr_is_its_stream(self):
        """As under systemd: stderr is a journal stream and JOURNAL_STREAM names it."""
        env = self.env
        env.write_config(log_target="auto")
        stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stream.connect("/run/systemd/journal/stdout")
        # the stream protocol's header: identifier, unit, priority, level prefix, forwards
        stream.sendall(b"autoblacklistd\n\n6\n0\n0\n0\n0\n")
        st = os.fstat(stream.fileno())
        proc = subprocess.Popen([harness.DAEMON, "-c", env.conf], stdin=subprocess.DEVNULL,
                                stdout=stream.fileno(), stderr=stream.fileno(),
                                env=dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino)))
        try:
            # ready (its "ready:" entry), so the log is followed: lines written
            # before that would be before the end it starts at
            self.wait_journal("_PID=%d" % proc.pid, "AUTOBLACKLIST_EVENT=start", timeout=15)
            for _ in range(3):
                env.append(sasl_fail("203.0.113.46"))
            e = self.wait_journal("AUTOBLACKLIST_ADDRESS=203.0.113.46", "AUTOBLACKLIST_EVENT=ban")[0]
            self.assertEqual(e["_TRANSPORT"], "journal", "structured entries, not lines of the stream")
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(30), 0)
            stream.close()


if __name__ == "__main__":
    journalns.enter(__file__)
    harness.main()
