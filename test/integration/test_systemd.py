# SPDX-License-Identifier: GPL-3.0-or-later
"""systemd integration: the notify protocol, spoken on a real AF_UNIX
datagram socket set as NOTIFY_SOCKET (as systemd does), and the unit file,
checked with systemd-analyze."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import DaemonTest, sasl_fail, wait_until

BUILD_ROOT = os.environ.get("BUILD_ROOT", "")
MAX_EXPOSURE = 2.0


def monotonic_usec():
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6)


class Notify(DaemonTest):

    def test_ready_only_after_the_first_map_write(self):
        env = self.env
        env.write_map("192.0.2.50 OK\n")
        env.start(wait_ready=False)
        env.wait_notify("READY=1")
        # at READY the map is already written: our block, and the database
        text = env.read_map()
        self.assertTrue(text.startswith("# BEGIN postfix-autoblacklist"), text)
        self.assertTrue(os.path.exists(env.map + ".db"))
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")
        self.assertTrue(any("STATUS=" in m for m in env.messages), "a status line with READY")

    def test_ready_while_the_map_cannot_be_written(self):
        # postmap fails (its config folder is missing): we are ready all the
        # same, follow the log and ban in memory, STATUS says the map cannot be
        # written, and the ban reaches the map once postmap works.
        env = self.env
        nowhere = os.path.join(env.dir, "nowhere")
        env.write_config(postmap="%s -c %s" % (harness.POSTMAP, nowhere), max_hits="1")
        env.start(wait_ready=False)
        i = env.wait_notify("READY=1", timeout=8)
        self.assertIn("map not updated, retrying: ", env.messages[i])
        self.assertIn("the map cannot be written yet", env.stderr())
        env.append(*[sasl_fail("203.0.113.31")] * 5)
        wait_until(lambda: "203.0.113.31" in env.ctl("list")[1], what="the ban in memory")
        self.assertIsNone(env.postmap_q("203.0.113.31"))
        shutil.copytree(env.pfdir, nowhere)
        wait_until(lambda: env.postmap_q("203.0.113.31"), timeout=20, what="the ban in the map")
        n = len(env.messages)
        wait_until(lambda: env.read_notify() is not None and
                   any(m.startswith("STATUS=") and "map not updated" not in m for m in env.messages[n:]),
                   timeout=5, what="a status without the failure")

    def test_a_notify_socket_nobody_reads_does_not_stop_the_daemon(self):
        # The socket's queue (max_dgram_qlen, 10 here) fills with watchdog
        # pings within a tenth of a second; a blocking send would stop the loop.
        # The first map write takes a second, so READY=1 meets a full socket.
        env = self.env
        env.write_config(postmap=env.slow_postmap(1))
        env.start(wait_ready=False, drain=False, env={"WATCHDOG_USEC": "20000"})
        time.sleep(1.5)
        env.append(*[sasl_fail("203.0.113.32")] * 5)
        wait_until(lambda: env.postmap_q("203.0.113.32"), timeout=5, what="the ban: the log is followed")
        self.assertEqual(env.ctl("status")[0], 0, "ctl answers")
        self.assertIn("notify socket is full", env.stderr())
        # READY=1 was not dropped: once somebody reads, it comes (after the
        # pings that filled the queue), and STOPPING=1 after it
        env.start_drainer()
        env.wait_notify("READY=1", timeout=5)
        self.assertEqual(env.stop(timeout=10), 0)
        env.read_notify()
        self.assertIn("STOPPING=1", "\n".join(env.messages).split("\n"))

    def reload_and_check(self, trigger):
        env = self.env
        n = len(env.messages)
        before = monotonic_usec()
        trigger()
        i = env.wait_notify("RELOADING=1", after=n)
        fields = dict(line.split("=", 1) for line in env.messages[i].split("\n") if "=" in line)
        self.assertIn("MONOTONIC_USEC", fields, env.messages[i])
        usec = int(fields["MONOTONIC_USEC"])
        self.assertTrue(before <= usec <= monotonic_usec(), "MONOTONIC_USEC is CLOCK_MONOTONIC now")
        env.wait_notify("READY=1", after=i + 1)

    def test_reloading_then_ready_on_sighup_also_when_rejected(self):
        env = self.env
        rules = env.own_rules()
        env.start()
        self.reload_and_check(lambda: env.signal(signal.SIGHUP))
        wait_until(lambda: "reloaded:" in env.stderr(), what="the reload")
        with open(os.path.join(rules, "postfix-sasl.rules"), "a") as f:
            f.write("\n[bad]\nprogram = x\npattern = ^(<ADDR>\n")
        self.reload_and_check(lambda: env.signal(signal.SIGHUP))
        wait_until(lambda: "reload rejected" in env.stderr(), what="the rejection")
        # autoblacklistctl reload goes the same way
        self.reload_and_check(lambda: env.ctl("reload", check=1))
        # and the old rules still work
        for _ in range(3):
            env.append(sasl_fail("203.0.113.30"))
        wait_until(lambda: env.postmap_q("203.0.113.30"), what="a ban after the rejected reload")

    def test_stopping_and_exit_0_on_sigterm(self):
        env = self.env
        env.start()
        n = len(env.messages)
        self.assertEqual(env.stop(), 0)
        env.read_notify()
        self.assertIn("STOPPING=1", "\n".join(env.messages[n:]).split("\n"))

    def test_watchdog_pings_at_half_the_interval(self):
        env = self.env
        env.start(env={"WATCHDOG_USEC": "200000"})
        n = len(env.messages)
        t0 = time.monotonic()
        time.sleep(1.05)
        env.read_notify()
        pings = [m for m in env.messages[n:] if "WATCHDOG=1" in m.split("\n")]
        elapsed = time.monotonic() - t0
        # every 100 ms: about 10 in a second
        self.assertGreaterEqual(len(pings), 7, "%d pings in %.2fs" % (len(pings), elapsed))
        self.assertLessEqual(len(pings), 13)

    def test_no_watchdog_pings_without_watchdog_usec(self):
        env = self.env
        env.start()
        n = len(env.messages)
        time.sleep(0.7)
        env.read_notify()
        self.assertFalse([m for m in env.messages[n:] if "WATCHDOG=1" in m], env.messages[n:])

    def test_status_follows_the_bans_rate_limited(self):
        env = self.env
        rules = os.path.join(env.dir, "one.rules")
        with open(rules, "w") as f:
            f.write("[one]\nprogram = postfix*/smtpd\n"
                    "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\nmax_hits = 1\n")
        env.write_config(rules=rules)
        env.start()
        n = len(env.messages)
        t0 = time.monotonic()
        env.append(*[sasl_fail("203.0.113.%d" % i) for i in range(1, 61)])
        wait_until(lambda: env.read_notify() is not None and
                   any("STATUS=60 bans" in m for m in env.messages[n:]), timeout=10, what="the status with 60 bans")
        statuses = [m for m in env.messages[n:] if m.startswith("STATUS=")]
        elapsed = time.monotonic() - t0
        self.assertLessEqual(len(statuses), int(elapsed / 2) + 2, "at most one status every 2 s: %r" % statuses)
        self.assertRegex(statuses[-1], r"^STATUS=60 bans, \d+ addresses tracked; last ban 203\.0\.113\.\d+ \(one\) at ")


class Unit(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not shutil.which("systemd-analyze"):
            harness.skip("systemd-analyze (Debian's systemd package) is not installed")
        cls.unit = os.path.join(BUILD_ROOT, "systemd", "postfix-autoblacklist.service")
        if not os.path.exists(cls.unit):
            raise AssertionError("no generated unit at %s (BUILD_ROOT=%r)" % (cls.unit, BUILD_ROOT))

    def test_verify(self):
        """The unit as generated, pointed at the built binary, with the project's man pages."""
        with tempfile.TemporaryDirectory() as tmp:
            for sect, pages in (("8", ["daemon/cmd/autoblacklistd.8", "daemon/cmd/autoblacklistctl.8"]),
                                ("5", ["conf/autoblacklist.conf.5", "rules/autoblacklist.rules.5"])):
                os.makedirs(os.path.join(tmp, "man", "man" + sect))
                for p in pages:
                    shutil.copy(os.path.join(harness.SOURCE_ROOT, p), os.path.join(tmp, "man", "man" + sect))
            with open(self.unit) as f:
                text = re.sub(r"(?m)^ExecStart=\S+", "ExecStart=" + harness.DAEMON, f.read())
                text = re.sub(r"(?m)^ExecReload=\S+", "ExecReload=" + harness.CTL, text)
            path = os.path.join(tmp, "postfix-autoblacklist.service")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True,
                               env=dict(os.environ, MANPATH=os.path.join(tmp, "man")))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stderr.strip(), "", "no warnings")

    def test_security_exposure(self):
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", self.unit],
                           capture_output=True, text=True)
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
        self.assertTrue(m, r.stdout + r.stderr)
        level = float(m.group(1))
        print("systemd-analyze security --offline=true: exposure %.1f" % level)
        self.assertLessEqual(level, MAX_EXPOSURE, r.stdout)

    def test_unit_settings(self):
        with open(self.unit) as f:
            text = f.read()
        for line in ("Type=notify", "Restart=on-failure",
                     "StateDirectory=postfix-autoblacklist", "RuntimeDirectory=postfix-autoblacklist",
                     "ProtectSystem=strict", "ReadWritePaths=-/etc/postfix", "CapabilityBoundingSet=CAP_CHOWN",
                     "NoNewPrivileges=yes", "SystemCallFilter=@system-service"):
            self.assertIn("\n" + line + "\n", text)
        self.assertRegex(text, r"\nWatchdogSec=\d+")
        self.assertRegex(text, r"\nAfter=postfix\.service rsyslog\.service")
        self.assertRegex(text, r"\nExecStart=/\S+/sbin/autoblacklistd\n")
        # reload through autoblacklistctl, whose exit status says whether the
        # daemon took the new config (a SIGHUP always "succeeds")
        self.assertRegex(text, r"\nExecReload=/\S+/sbin/autoblacklistctl reload\n")


if __name__ == "__main__":
    harness.main()
