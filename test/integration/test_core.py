# SPDX-License-Identifier: GPL-3.0-or-later
"""The walking skeleton, end to end: log -> rules -> ban -> map -> postmap.

The built daemon runs on a scratch folder with Debian's real postmap, real
inotify on real files, and a real notify socket.
"""

import os
import signal
import subprocess
import time

import harness
from harness import DaemonTest, relay_denied, sasl_fail, wait_until

ADMIN_PART = (
    "# My own entries.  Keep them!\n"
    "192.0.2.50 OK\n"
    "\n"
    "198.51.100   OK\n"
    "# a trailing comment without a newline at the end")


class Core(DaemonTest):

    def test_sasl_failures_ban_ipv4_and_ipv6(self):
        env = self.env
        env.write_map(ADMIN_PART)
        env.start()
        # the first write puts our block at the top and keeps every admin byte
        text = env.read_map()
        self.assertTrue(text.startswith("# BEGIN postfix-autoblacklist"), text)
        self.assertTrue(text.endswith(ADMIN_PART), text)

        t0 = time.monotonic()
        for _ in range(3):
            env.append(sasl_fail("203.0.113.7"), sasl_fail("2001:DB8:0:0::7", name="x.example"))
        took = wait_until(lambda: env.postmap_q("203.0.113.7") and env.postmap_q("2001:db8::7"),
                          timeout=5, what="both bans in the map")
        self.assertIn("REJECT", env.postmap_q("203.0.113.7"))
        self.assertIn("postfix-autoblacklist", env.postmap_q("2001:db8::7"))
        print("append -> postmap -q REJECT: %.0f ms" % ((time.monotonic() - t0) * 1000))
        self.assertLess(took, 5)

        text = env.read_map()
        block, _, rest = text.partition("# END postfix-autoblacklist\n")
        self.assertEqual(rest, ADMIN_PART, "the admin's lines survive unchanged, below the block")
        self.assertIn("\n203.0.113.7 REJECT ", block)
        # the IPv6 key is the compressed lowercase form that smtpd looks up
        self.assertIn("\n2001:db8::7 REJECT ", block)
        self.assertNotIn("DB8", block)
        # the admin's OK entries still answer OK, and no temporary file is left
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")
        # (a write may still be under way: its temporary folder goes when it ends)
        wait_until(lambda: not [f for f in os.listdir(env.dir) if "autoblacklist-tmp" in f], timeout=5,
                   what="no temporary folder left")
        self.assertEqual(env.stop(), 0)

    def test_below_threshold_no_ban(self):
        env = self.env
        env.start()
        env.append(sasl_fail("203.0.113.8"), sasl_fail("203.0.113.8"))
        # a third address crossing its threshold proves the daemon read the lines
        for _ in range(3):
            env.append(sasl_fail("203.0.113.99"))
        wait_until(lambda: env.postmap_q("203.0.113.99"), what="the control ban")
        self.assertIsNone(env.postmap_q("203.0.113.8"), "2 hits of a 3-hit rule must not ban")

    def test_never_banned(self):
        env = self.env
        env.write_config(ignore="192.0.2.0/24, 2001:db8:ffff::/48")
        env.write_map("198.51.100 OK\n")
        env.start()
        never = ["127.0.0.1", "::1", "192.0.2.77", "2001:db8:ffff::5", "198.51.100.9"]
        for _ in range(10):
            env.append(*[sasl_fail(a) for a in never])
        for _ in range(3):
            env.append(sasl_fail("203.0.113.10"))
        wait_until(lambda: env.postmap_q("203.0.113.10"), what="the control ban")
        for a in never:
            self.assertIsNone(env.postmap_q(a), a + " must never be banned")
        self.assertEqual(env.postmap_q("198.51.100"), "OK")

    def test_injection_in_helo_and_user_does_not_choose_the_address(self):
        env = self.env
        env.start()
        for _ in range(3):
            env.append(sasl_fail("203.0.113.20", user="unknown[192.0.2.1]"),
                       relay_denied("203.0.113.20", helo="x]: SASL LOGIN authentication failed: from unknown[192.0.2.2]",
                                    rcpt="test@[192.0.2.3]"))
        wait_until(lambda: env.postmap_q("203.0.113.20"), what="the attacker's ban")
        for a in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
            self.assertIsNone(env.postmap_q(a), "decoy %s must not be banned" % a)

    def test_rename_and_create_rotation(self):
        env = self.env
        env.write_config(rules=os.path.join(env.dir, "one.rules"))
        with open(os.path.join(env.dir, "one.rules"), "w") as f:
            f.write("[any-sasl]\nprogram = postfix*/smtpd\n"
                    "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
                    "max_hits = 1\n")
        open(env.log, "w").close()
        env.start()
        env.append(sasl_fail("203.0.113.31"))
        # logrotate "create": rename, create; syslog writes a little more to the
        # old file before it reopens
        os.rename(env.log, env.log + ".1")
        open(env.log, "w").close()
        env.append(sasl_fail("203.0.113.32"), path=env.log + ".1")
        env.append(sasl_fail("203.0.113.33"))
        env.append(sasl_fail("203.0.113.34"), path=env.log + ".1")
        env.append(sasl_fail("203.0.113.35"))
        for a in ("203.0.113.31", "203.0.113.32", "203.0.113.33", "203.0.113.34", "203.0.113.35"):
            wait_until(lambda: env.postmap_q(a), what="ban of " + a)

    def test_sigterm_flushes_pending_write(self):
        env = self.env
        env.write_config(debounce="30s")
        env.start()
        for _ in range(3):
            env.append(sasl_fail("203.0.113.40"))
        # the ban waits in the debounce; SIGTERM must write it before exiting
        wait_until(lambda: "ban 203.0.113.40" in env.stderr(), what="the ban decision")
        self.assertIsNone(env.postmap_q("203.0.113.40"))
        self.assertEqual(env.stop(timeout=15), 0)
        self.assertIn("REJECT", env.postmap_q("203.0.113.40") or "")
        env.wait_notify("STOPPING=1", timeout=1)

    def test_reload_with_broken_rules_keeps_the_old_ones(self):
        env = self.env
        rules = env.own_rules()
        env.start()
        with open(os.path.join(rules, "postfix-smtpd.rules"), "a") as f:
            f.write("\n[broken]\nprogram = x\npattern = ^(unclosed <ADDR>\n")
        n = len(env.messages)
        env.signal(signal.SIGHUP)
        env.wait_notify("READY=1", after=n)
        self.assertTrue(any(m.startswith("RELOADING=1") for m in env.messages[n:]), env.messages)
        wait_until(lambda: "reload rejected" in env.stderr(), what="the rejection message")
        self.assertIn("postfix-smtpd.rules:", env.stderr())
        self.assertIn("rule broken: pattern error at offset", env.stderr())
        for _ in range(3):
            env.append(sasl_fail("203.0.113.50"))
        wait_until(lambda: env.postmap_q("203.0.113.50"), what="a ban by the old rules")

    def test_hits_survive_a_reload_for_rules_that_keep_their_name(self):
        env = self.env
        rules = env.own_rules()
        env.start()
        env.append(sasl_fail("203.0.113.51"), sasl_fail("203.0.113.51"))
        wait_until(lambda: "hit 203.0.113.51: rule sasl-auth-failed (2/3)" in env.stderr(), what="two hits")
        # a reload that changes other rules, and the default ban time
        with open(os.path.join(rules, "postfix-smtpd.rules"), "a") as f:
            f.write("\n[new-rule]\nprogram = postfix*/smtpd\npattern = ^new thing from [-._A-Za-z0-9]+\\[<ADDR>\\]\n"
                    "max_hits = 1\nfind_time = 1m\nban_time = 1m\n")
        env.write_config(ban_time="2h")
        n = len(env.messages)
        env.signal(signal.SIGHUP)
        env.wait_notify("READY=1", after=n)
        wait_until(lambda: "reloaded:" in env.stderr(), what="the reload")
        env.append(sasl_fail("203.0.113.51"))   # the third hit bans: the first two were kept
        wait_until(lambda: env.postmap_q("203.0.113.51"), what="the ban after the reload")
        env.append("%s mx postfix/smtpd[9]: new thing from x[203.0.113.52]" % harness.stamp())
        wait_until(lambda: env.postmap_q("203.0.113.52"), what="a ban by the new rule")

    def test_postmap_failure_is_retried_and_nothing_is_lost(self):
        env = self.env
        env.write_map("192.0.2.50 OK\n")
        # postmap without a usable config directory fails; READY never comes
        # then, so the lines are in the log before the daemon starts
        env.write_config(postmap="%s -c %s" % (harness.POSTMAP, os.path.join(env.dir, "nowhere")),
                         start_at="beginning")
        for _ in range(3):
            env.append(sasl_fail("203.0.113.60"))
        env.start(wait_ready=False)
        wait_until(lambda: "map not updated" in env.stderr(), what="the postmap failure")
        self.assertIsNone(env.postmap_q("203.0.113.60"))
        self.assertEqual(env.read_map(), "192.0.2.50 OK\n", "a failed write leaves the map alone")
        # fix the command; the daemon's next retry succeeds
        env.write_config(postmap="%s -c %s" % (harness.POSTMAP, env.pfdir))
        env.signal(signal.SIGHUP)
        wait_until(lambda: env.postmap_q("203.0.113.60"), timeout=10, what="the ban after the fix")
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")

    def test_admin_edit_during_run_is_kept(self):
        env = self.env
        env.start()
        with open(env.map, "a") as f:
            f.write("192.0.2.99 OK\n")
        for _ in range(3):
            env.append(sasl_fail("203.0.113.70"))
        wait_until(lambda: env.postmap_q("203.0.113.70"), what="the ban")
        self.assertTrue(env.read_map().endswith("192.0.2.99 OK\n"))
        # and an address the admin has just set OK is never banned
        with open(env.map, "a") as f:
            f.write("203.0.113.71 OK\n")
        for _ in range(5):
            env.append(sasl_fail("203.0.113.71"))
        for _ in range(3):
            env.append(sasl_fail("203.0.113.72"))
        wait_until(lambda: env.postmap_q("203.0.113.72"), what="the control ban")
        self.assertEqual(env.postmap_q("203.0.113.71"), "OK")


class Cli(DaemonTest):

    def run_daemon(self, *args, input=None):
        return subprocess.run([harness.DAEMON] + list(args), input=input, capture_output=True, text=True)

    def test_check_bad_config_exits_78_with_file_line(self):
        conf = os.path.join(self.env.dir, "bad.conf")
        with open(conf, "w") as f:
            f.write("# ok\nmax_hits = lots\nbogus = 1\n")
        r = self.run_daemon("-c", conf, "--check")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("%s:2: max_hits: 'lots' is not a number" % conf, r.stderr)
        self.assertIn("%s:3: unknown key 'bogus'" % conf, r.stderr)
        # and the daemon itself refuses to start on it, the same way
        r = self.run_daemon("-c", conf)
        self.assertEqual(r.returncode, 78)
        self.assertIn("%s:2:" % conf, r.stderr)

    def test_check_good_config(self):
        r = self.run_daemon("-c", self.env.conf, "--check")
        self.assertEqual(r.returncode, 0, r.stderr)
        # it read every shipped rule, and touched nothing
        self.assertIn(": %d rules OK" % harness.shipped_rule_count(), r.stderr)
        self.assertFalse(os.path.exists(self.env.map), "--check wrote no map")

    def test_check_bad_rules_exits_78(self):
        bad = os.path.join(self.env.dir, "bad.rules")
        with open(bad, "w") as f:
            f.write("[x]\nprogram = p\npattern = ^a (<ADDR>\n")
        r = self.run_daemon("-c", self.env.conf, "--rules", bad, "--check")
        self.assertEqual(r.returncode, 78)
        self.assertIn("%s:3: rule x: pattern error at offset" % bad, r.stderr)

    def test_test_mode_output(self):
        lines = [
            "Nov 30 10:00:01 mx postfix/smtpd[1]: connect from unknown[203.0.113.7]",
            "Nov 30 10:00:01 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: x",
            "garbage line",
            "Nov 30 10:00:02 mx postfix/smtpd[1]: warning: unknown[127.0.0.1]: SASL LOGIN authentication failed: x",
            "2026-11-30T10:00:03.000001+00:00 mx postfix/submission/smtpd[2]: warning: h[2001:DB8::7]: SASL PLAIN authentication failed: x",
            "Nov 30 10:00:04 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[198.51.100.4]: 554 5.7.1 <a@b.example>: Relay access denied; from=<> to=<a@b.example> proto=ESMTP helo=<[192.0.2.1]>",
            "Nov 30 10:00:05 mx postfix/smtpd[1]: warning: hostname bad.example does not resolve to address 198.51.100.5: Temporary failure in name resolution",
            "Nov 30 10:00:06 mx postfix/smtpd[1]: warning: hostname bad.example does not resolve to address 198.51.100.6: Name or service not known",
        ]
        r = self.run_daemon("-c", self.env.conf, "--test", "-", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout,
                         "2\t203.0.113.7\tsasl-auth-failed\n"
                         "5\t2001:db8::7\tsasl-auth-failed\n"
                         "6\t198.51.100.4\trelay-denied\n"
                         "8\t198.51.100.6\tfcrdns-no-address\n")
        self.assertIn("8 read, 4 counted, 1 never banned", r.stderr)
        self.assertIn("1 without a syslog header", r.stderr)
        self.assertIn("lines/s", r.stderr)
        # --verbose shows each matched line after its verdict
        r = self.run_daemon("-c", self.env.conf, "--test", "-", "--verbose", input="\n".join(lines) + "\n")
        self.assertIn("2\t203.0.113.7\tsasl-auth-failed\n\t" + lines[1] + "\n", r.stdout)
        # a file works as well as stdin, and has no side effects: no map, no state
        log = os.path.join(self.env.dir, "x.log")
        with open(log, "w") as f:
            f.write("\n".join(lines) + "\n")
        r2 = self.run_daemon("-c", self.env.conf, "--test", log)
        self.assertEqual(r2.stdout.count("\n"), 4)
        self.assertFalse(os.path.exists(self.env.map))
        self.assertFalse(os.path.exists(self.env.state))

    def test_version_and_help(self):
        r = self.run_daemon("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^autoblacklistd \d+\.\d+")
        r = self.run_daemon("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--test", r.stdout)
        r = self.run_daemon("--bogus")
        self.assertEqual(r.returncode, 64)


if __name__ == "__main__":
    harness.main()
