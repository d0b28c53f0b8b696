# SPDX-License-Identifier: GPL-3.0-or-later
"""log_debug is reachable: `log_level = debug` or `-d` turns the debug
messages on, and without either they are not there.  The built daemon runs
with real postmap on a scratch folder; its stderr is what is checked.
"""

import harness
from harness import DaemonTest, sasl_fail, wait_until


class LogLevel(DaemonTest):

    def run_daemon(self, *args):
        """Start, send a never-banned address and a control ban, stop: the stderr."""
        env = self.env
        env.start(*args)
        for _ in range(3):
            env.append(sasl_fail("127.0.0.1"), sasl_fail("203.0.113.40"))
        wait_until(lambda: env.postmap_q("203.0.113.40"), what="the control ban")
        # a hit of an address already banned: its line comes after the ban's
        env.append(sasl_fail("203.0.113.40"))
        env.append(*[sasl_fail("203.0.113.41") for _ in range(3)])
        wait_until(lambda: env.postmap_q("203.0.113.41"), what="the second ban")
        self.assertEqual(env.stop(), 0)
        return env.stderr()

    def assert_debug(self, err):
        # the details of a decision: which rule, and why it did not count
        self.assertRegex(err, r"autoblacklistd: debug: 127\.0\.0\.1 matched rule \S+ but is never banned \(loopback\)")
        self.assertRegex(err, r"autoblacklistd: debug: 203\.0\.113\.40 matched rule \S+ \(\S+\.rules:\d+\) "
                              r"but is already banned \(/32\)")
        # the steps of a map write
        self.assertRegex(err, r"autoblacklistd: debug: \S+/access: rendered 1 of 1 bans as keys")

    def test_no_debug_by_default(self):
        err = self.run_daemon()
        self.assertIn("hit 203.0.113.40", err, "the info messages are there")
        self.assertNotIn("debug:", err)

    def test_dash_d(self):
        self.assert_debug(self.run_daemon("-d"))

    def test_log_level_debug(self):
        self.env.write_config(log_level="debug")
        self.assert_debug(self.run_daemon())

    def test_dash_d_beats_log_level(self):
        self.env.write_config(log_level="warning")
        err = self.run_daemon("-d")
        self.assert_debug(err)

    def test_log_level_warning_drops_info(self):
        self.env.write_config(log_level="warning")
        err = self.run_daemon()
        self.assertNotIn("hit 203.0.113.40", err)
        self.assertNotIn("debug:", err)

    def test_bad_log_level(self):
        self.env.write_config(log_level="verbose")
        r = self.env.start(wait_ready=False)
        self.assertEqual(r.wait(10), 78)
        self.assertRegex(self.env.stderr(), r"autoblacklist\.conf:\d+: log_level: 'verbose' is not error, "
                                            r"warning, notice, info or debug")


if __name__ == "__main__":
    harness.main()
