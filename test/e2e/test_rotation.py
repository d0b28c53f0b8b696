# SPDX-License-Identifier: GPL-3.0-or-later
"""Rotating Postfix's own maillog while clients keep failing, with the real
writer (postlogd) and the real rotations: `postfix logrotate` (rename,
HUP, a second later gzip, which deletes the renamed file) and `mv` +
`postfix reload`.

The thresholds are raised so that nobody is banned and every matching line
is a hit; the daemon's hit count must then equal what `autoblacklistd
--test` finds in all the files together (the gzipped one, the moved one,
the current one): no hit lost, none counted twice.
"""

import gzip
import glob
import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfharness as h  # noqa: E402


def keep_failing(lab, addr, server, stop, sessions):
    c = lab.client(addr)
    while not stop.is_set():
        try:
            c.connect(server)
            c.ehlo()
            c.auth_plain(password="wrong")
            c.auth_plain(password="wrong again")
            c.quit()
            sessions.append(addr)
        except OSError:
            c.close()  # smtpd restarting under a reload: try again
        time.sleep(0.02)


class Rotation(unittest.TestCase):
    def setUp(self):
        self.lab = h.Lab()
        try:
            # Cyrus answers a wrong password at once; Dovecot waits a second.
            self.pf = self.lab.postfix(sasl="cyrus")
            self.d = h.Daemon(self.lab, self.pf)
            self.lab.daemons.append(self.d)
            rules = self.d.own_rules()
            for path in glob.glob(os.path.join(rules, "*.rules")):
                with open(path) as f:
                    text = f.read()
                with open(path, "w") as f:
                    f.write(re.sub(r"(?m)^max_hits = \d+$", "max_hits = 1000", text))
            self.d.start()
        except BaseException:
            self.lab.close()
            raise

    def tearDown(self):
        if any(t is self for t, _ in self._outcome.result.failures + self._outcome.result.errors):
            sys.stderr.write("--- daemon stderr ---\n" + self.d.stderr()[-4000:])
        self.lab.close()

    def expected_hits(self):
        """What --test finds in every file of the log, in order."""
        text = b""
        for gz in sorted(glob.glob(self.pf.maillog + ".*.gz")):
            with gzip.open(gz) as f:
                text += f.read()
        for path in (self.pf.maillog + ".moved", self.pf.maillog):
            with open(path, "rb") as f:
                text += f.read()
        whole = os.path.join(self.d.dir, "whole-log")
        with open(whole, "wb") as f:
            f.write(text)
        r = subprocess.run([h.DAEMON, "-c", self.d.conf, "--test", whole], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return len([l for l in r.stdout.splitlines() if l.strip()])

    def test_logrotate_and_mv_reload(self):
        stop = threading.Event()
        sessions = []
        threads = [threading.Thread(target=keep_failing,
                                    args=(self.lab, a, s, stop, sessions))
                   for a, s in ((h.client4(0), self.pf.ipv4), (h.client6(1), self.pf.ipv6),
                                (h.client4(2), self.pf.ipv4))]
        for t in threads:
            t.start()
        try:
            time.sleep(1)
            self.pf.cmd("logrotate")  # mv, HUP, sleep 1, gzip (which unlinks)
            rotated = glob.glob(self.pf.maillog + ".*.gz")
            self.assertEqual(len(rotated), 1, rotated)
            time.sleep(1)
            os.rename(self.pf.maillog, self.pf.maillog + ".moved")
            self.pf.cmd("reload")
            time.sleep(1.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(len(sessions), 10, "the clients hardly got through")
        # Every line is in; the daemon has read them when its count stops moving.
        want = self.expected_hits()
        self.assertGreater(want, 2 * len(sessions) - 1)
        h.wait_until(lambda: self.d.counters()["hits"] >= want, 10, what="%d hits" % want)
        time.sleep(0.5)
        got = self.d.counters()["hits"]
        st = self.d.status()
        print("rotation: %d sessions, %d hits in the log, %d counted; %s" % (len(sessions), want, got,
                                                                              st["lines read"]), file=sys.stderr)
        self.assertEqual(got, want, "hits counted vs. matching lines in all the log files")
        self.assertEqual(self.d.banned(), set())
        self.assertRegex(st["lines read"], r", [2-9]\d* rotations")


if __name__ == "__main__":
    h.main_unittest()
