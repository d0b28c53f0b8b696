# SPDX-License-Identifier: GPL-3.0-or-later
"""The installed unit under a real systemd 252 as PID 1 (container.py).

Inside a throw-away container this does what an admin does: `meson install`
from the build folder, point the config at a mail log, `systemctl enable
--now postfix-autoblacklist`, and then checks what the unit promises with
the shipped sandboxing (ProtectSystem=strict, no capabilities, a system call
filter, RestrictAddressFamilies=, IPAddressDeny=any):

- READY: `systemctl is-active` is "active" only after READY=1, and by then
  the map is written;
- abusive lines appended to the log become a ban that `postmap -q` answers
  with REJECT, and no map write logs a warning (issue 10 item 7);
- the journal fields of a ban;
- `systemctl reload` succeeds with a good config, and fails (non-zero exit
  status) when the daemon rejects the config or a rule file (10.13);
- a daemon that stops answering the watchdog is restarted and keeps its
  bans; `systemctl stop` stops it cleanly and leaves the map working;
- the unit's cgroup lets no IP packet out (the price of 10.7's AF_INET);
- `uninstall --flush` lifts every ban and removes the installation.

The tests run in order on one container (one boot, one install).
"""

import json
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import container  # noqa: E402

SOURCE_ROOT = os.environ.get(
    "SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_ROOT = os.environ.get("BUILD_ROOT", "")
SANITIZE = os.environ.get("ABL_SANITIZE", "")  # meson's b_sanitize
SKIP = 77
UNIT = "postfix-autoblacklist.service"
LOG = "/var/log/mail.log"
MAP = "/etc/postfix/access"
ATTACKER = "203.0.113.7"
ADMIN_OK = "192.0.2.50"


def skip(why):
    """Skip, or fail where every test must run (CI sets ABL_REQUIRE_ALL)."""
    print(why, file=sys.stderr)
    sys.exit(1 if os.environ.get("ABL_REQUIRE_ALL") else SKIP)


def sasl_fail(addr, n):
    """n password-guessing lines in Postfix's smtpd format (see the rule)."""
    stamp = time.strftime("%b %e %H:%M:%S")
    return "".join("%s mx postfix/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: "
                   "UGFzc3dvcmQ6, sasl_username=admin\n" % (stamp, 4000 + i, addr) for i in range(n))


def installed_paths(c):
    """Where meson installed things: (sbindir, config folder, pkgdatadir)."""
    r = c.run(["systemctl", "cat", UNIT])
    m = re.search(r"(?m)^ExecStart=(\S+)/autoblacklistd$", r.stdout)
    if not m:
        raise AssertionError("no ExecStart in the installed unit:\n" + r.stdout)
    sbindir = m.group(1)
    prefix = os.path.dirname(sbindir)
    # the install script names the config folder (@pkgsysconfdir@)
    script = c.read(os.path.join(prefix, "share/postfix-autoblacklist/uninstall"))
    m = re.search(r'"(/\S+)/autoblacklist\.conf"', script)
    if not m:
        raise AssertionError("no config path in the uninstall script")
    return sbindir, m.group(1), os.path.join(prefix, "share/postfix-autoblacklist")


def install(c):
    """meson install inside the container, as an admin would."""
    r = c.run(["meson", "install", "-C", BUILD_ROOT, "--no-rebuild", "--quiet"], check=False, timeout=120)
    if r.returncode != 0:
        raise AssertionError("meson install in the container: %s%s" % (r.stdout, r.stderr))
    if SANITIZE not in ("", "none"):
        # LeakSanitizer stops the world with ptrace(), which the unit's
        # SystemCallFilter= refuses ("LeakSanitizer has encountered a fatal
        # error", exit 1, for the daemon and for ExecReload's autoblacklistctl).
        # Every other check of ASan and UBSan stays on, and fatal.
        dropin = "/etc/systemd/system/%s.d/abl-nsp-sanitizer.conf" % UNIT
        c.run(["mkdir", "-p", os.path.dirname(dropin)])
        c.write(dropin, "[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "
                        "UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1\n")
    return installed_paths(c)


class Unit(unittest.TestCase):
    c = None

    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        cls.c = c = container.Container(binds=[SOURCE_ROOT], binds_rw=[BUILD_ROOT])
        c.start()
        try:
            cls.boot_seconds = c.boot_seconds
            # the admin's view: install, a Postfix config (Debian's main.cf says
            # inet_protocols = all, the probe behind item 7), the log, the map
            cls.sbindir, cls.confdir, cls.pkgdatadir = install(c)
            c.write("/etc/postfix/main.cf", "inet_protocols = all\ncompatibility_level = 3.6\n")
            c.run(["touch", "-d", "@0", "/etc/postfix/main.cf"])
            c.write(MAP, "# the admin's own entries\n%s OK\n" % ADMIN_OK)
            c.run(["postmap", "hash:" + MAP])
            c.run(["mkdir", "-p", os.path.dirname(LOG)])
            c.write(LOG, "")
            cls.conf = os.path.join(cls.confdir, "autoblacklist.conf")
            cls.shipped_conf = c.read(cls.conf)
            cls.set_config()
            # as the README says after an install
            c.systemctl("daemon-reload")
            c.run(["journalctl", "--update-catalog"])
            cls.cursor0 = cls.cursor()
            cls.setup_seconds = time.monotonic() - t0
        except BaseException:
            c.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.c:
            t0 = time.monotonic()
            cls.c.stop()
            print("container: boot %.2fs, setup %.2fs, halt and cleanup %.2fs"
                  % (cls.boot_seconds, cls.setup_seconds, time.monotonic() - t0), file=sys.stderr)

    # --- helpers ---------------------------------------------------------

    @classmethod
    def set_config(cls, extra=""):
        cls.c.write(cls.conf, cls.shipped_conf + "\nlog_file = %s\n%s" % (LOG, extra))

    @classmethod
    def cursor(cls):
        r = cls.c.run(["journalctl", "-n", "1", "-o", "json", "--no-pager"])
        return json.loads(r.stdout.splitlines()[-1])["__CURSOR"]

    def journal(self, after=None, **fields):
        """Journal entries (dicts) since `after` (default: before the first
        start) whose fields have the given values; after a sync, so that
        everything logged so far is there.  unit=U stands for `-u U`: the
        unit's own entries and systemd's about it.  (The matching is done
        here: journalctl 252 with --after-cursor and a match skips the first
        matching entry.)"""
        self.c.run(["journalctl", "--sync"])
        r = self.c.run(["journalctl", "-o", "json", "--no-pager", "--after-cursor=" + (after or self.cursor0)])
        out = []
        unit = fields.pop("unit", None)
        for line in r.stdout.splitlines():
            e = json.loads(line)
            if unit and unit not in (e.get("_SYSTEMD_UNIT"), e.get("UNIT")):
                continue
            if all(e.get(k) == v for k, v in fields.items()):
                out.append(e)
        return out

    def messages(self, after=None, **fields):
        return [e["MESSAGE"] for e in self.journal(after, **fields) if isinstance(e.get("MESSAGE"), str)]

    def show(self, *props):
        r = self.c.systemctl("show", UNIT, "-p", ",".join(props))
        return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)

    def postmap_q(self, key):
        r = self.c.run(["postmap", "-q", key, "hash:" + MAP], check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def ctl(self, *args, check=True):
        return self.c.run([os.path.join(self.sbindir, "autoblacklistctl")] + list(args), check=check)

    def assert_no_warnings(self, after, what):
        """No entry of the unit at warning level or worse, and nothing from
        postmap at all (it logs to syslog only to complain)."""
        bad = [e.get("MESSAGE") for e in self.journal(after, _SYSTEMD_UNIT=UNIT) if int(e.get("PRIORITY", 6)) <= 4]
        bad += [e.get("MESSAGE") for e in self.journal(after, SYSLOG_IDENTIFIER="postfix/postmap")]
        self.assertEqual(bad, [], what)

    def ban_attacker(self, addr=ATTACKER):
        after = self.cursor()
        self.c.append(LOG, sasl_fail(addr, 10))
        self.c.wait_until(lambda: self.postmap_q(addr), timeout=10, what="the ban of %s in the map" % addr)
        return after

    def main_pid(self):
        return int(self.show("MainPID")["MainPID"])

    # --- the tests, in order ---------------------------------------------

    def test_1_enable_now_is_ready_with_the_map_written(self):
        t0 = time.monotonic()
        self.c.systemctl("enable", "--now", UNIT)
        print("systemctl enable --now: %.2fs" % (time.monotonic() - t0), file=sys.stderr)
        # Type=notify: "active" only once READY=1 came
        self.assertEqual(self.c.systemctl("is-active", UNIT, check=False).stdout.strip(), "active")
        self.assertEqual(self.c.systemctl("is-enabled", UNIT, check=False).stdout.strip(), "enabled")
        p = self.show("Type", "NotifyAccess", "StatusText", "ProtectSystem", "NoNewPrivileges",
                      "CapabilityBoundingSet", "RestrictAddressFamilies", "IPAddressDeny")
        self.assertEqual(p["Type"], "notify")
        self.assertEqual(p["ProtectSystem"], "strict")
        self.assertEqual(p["NoNewPrivileges"], "yes")
        # the capabilities are those the unit names (none, or one or two)
        unit = self.c.systemctl("cat", UNIT).stdout
        named = re.findall(r"(?m)^CapabilityBoundingSet=(.*)$", unit)[-1].lower().split()
        self.assertEqual(sorted(p["CapabilityBoundingSet"].split()), sorted(named))
        self.assertLessEqual(len(named), 2, "a narrow CapabilityBoundingSet=")
        self.assertEqual(sorted(p["IPAddressDeny"].split()), ["0.0.0.0/0", "::/0"])
        self.assertRegex(p["StatusText"], r"\d+ bans?")
        # at READY our block is already on top of the admin's map
        self.assertTrue(self.c.read(MAP).startswith("# BEGIN postfix-autoblacklist"), self.c.read(MAP))
        self.assertEqual(self.postmap_q(ADMIN_OK), "OK")
        self.assertTrue(any(m.startswith("ready: following " + LOG) for m in self.messages(_SYSTEMD_UNIT=UNIT)))

    def test_2_a_ban_reaches_the_map_under_the_sandbox(self):
        t0 = time.monotonic()
        after = self.ban_attacker()
        print("log line to REJECT in the map: %.2fs" % (time.monotonic() - t0), file=sys.stderr)
        self.assertTrue(self.postmap_q(ATTACKER).startswith("REJECT"), self.postmap_q(ATTACKER))
        self.assertEqual(self.postmap_q(ADMIN_OK), "OK", "the admin's line is kept")
        self.c.wait_until(lambda: any("written, " in m for m in self.messages(after, _SYSTEMD_UNIT=UNIT)),
                          what="the write in the journal")
        self.assertIn("bans: 1 active", self.ctl("status").stdout)
        # and `systemctl status` says so (STATUS= goes out at most every 2 s)
        self.c.wait_until(lambda: self.show("StatusText")["StatusText"].startswith("1 ban, "), timeout=5,
                          what="STATUS= with the ban")

        # That was under the sandbox: the daemon's / is read-only (the map's
        # folder is not), a seccomp filter, no new privileges, and no
        # capability beyond the unit's bounding set.
        pid = self.main_pid()
        r = self.c.run(["nsenter", "-t", str(pid), "-m", "--", "touch", "/usr/abl-nsp-probe"], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Read-only file system", r.stderr)
        with_caps = self.c.run(["grep", "-E", "^(Seccomp|NoNewPrivs|CapEff|CapBnd):", "/proc/%d/status" % pid]).stdout
        st = dict(line.split(":\t") for line in with_caps.splitlines())
        self.assertEqual(st["Seccomp"], "2")
        self.assertEqual(st["NoNewPrivs"], "1")
        named = self.show("CapabilityBoundingSet")["CapabilityBoundingSet"].split()
        self.assertEqual(bin(int(st["CapBnd"], 16)).count("1"), len(named), st)
        self.assertEqual(int(st["CapEff"], 16) & ~int(st["CapBnd"], 16), 0, st)

    def test_3_no_map_write_warns(self):
        """Issue 10 item 7: under RestrictAddressFamilies=AF_UNIX AF_NETLINK
        every postmap run warned twice ("inet_protocols: disabling IPv6
        name/address support"), and the daemon relayed it."""
        # the first write at start and the ban's write both ran postmap
        writes = [m for m in self.messages(_SYSTEMD_UNIT=UNIT) if "written, " in m]
        self.assertGreaterEqual(len(writes), 2, writes)
        self.assert_no_warnings(self.cursor0, "a map write under the shipped unit")

    def test_4_journal_fields_of_a_ban(self):
        # journalctl's own match, as an admin types it
        r = self.c.run(["journalctl", "-o", "json", "--no-pager", "AUTOBLACKLIST_EVENT=ban"])
        bans = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(bans), 1, bans)
        e = bans[0]
        self.assertEqual([x["__CURSOR"] for x in self.journal(AUTOBLACKLIST_EVENT="ban")], [e["__CURSOR"]])
        self.assertEqual(e["AUTOBLACKLIST_ADDRESS"], ATTACKER)
        self.assertEqual(e["_SYSTEMD_UNIT"], UNIT)
        self.assertEqual(e["SYSLOG_IDENTIFIER"], "autoblacklistd")
        self.assertRegex(e["MESSAGE_ID"], r"^[0-9a-f]{32}$")
        m = re.match(r"ban (\S+): \d+ hits of rule (\S+), for ", e["MESSAGE"])
        self.assertTrue(m, e["MESSAGE"])
        self.assertEqual(m.group(1), ATTACKER)
        self.assertEqual(e["AUTOBLACKLIST_RULE"], m.group(2))
        self.assertIn("AUTOBLACKLIST_EXPIRES", e)
        # the installed catalog explains it (journalctl -x)
        r = self.c.run(["journalctl", "-x", "--no-pager", "MESSAGE_ID=" + e["MESSAGE_ID"]])
        self.assertIn(e["MESSAGE"], r.stdout)
        catalog = [line for line in r.stdout.splitlines() if line.startswith("░░ ")]
        self.assertTrue(any(line.startswith("░░ Subject: ") for line in catalog), r.stdout)
        self.assertIn(ATTACKER, "\n".join(catalog), "the catalog text names the address")
        # the history of one address, as the README shows it
        r = self.c.run(["journalctl", "-o", "json", "--no-pager", "-u", UNIT, "AUTOBLACKLIST_ADDRESS=" + ATTACKER])
        hist = [json.loads(line)["AUTOBLACKLIST_EVENT"] for line in r.stdout.splitlines()]
        self.assertIn("hit", hist)
        self.assertEqual(hist[-1], "ban")

    def test_5_reload_and_its_exit_status(self):
        """Issue 10 item 13: `systemctl reload` succeeded when the daemon
        rejected the new config."""
        pid = self.main_pid()
        after = self.cursor()
        r = self.c.systemctl("reload", UNIT, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        msgs = self.messages(after, SYSLOG_IDENTIFIER="autoblacklistd")
        self.assertTrue(any(m.startswith("reloaded: ") for m in msgs), msgs)
        rules = os.path.join(self.confdir, "rules", "zz-broken.rules")
        try:
            # a config the daemon refuses: reload fails, the daemon runs on
            self.set_config("max_hits = banana\n")
            after = self.cursor()
            r = self.c.systemctl("reload", UNIT, check=False)
            self.assertNotEqual(r.returncode, 0, "systemctl reload with a bad config")
            self.assertIn("failed", r.stderr)
            self.assertIn("max_hits", "\n".join(self.messages(after, _SYSTEMD_UNIT=UNIT)))
            # a rule file the daemon refuses (the config itself parses)
            self.set_config()
            self.c.write(rules, "this is not a rule\n")
            after = self.cursor()
            r = self.c.systemctl("reload", UNIT, check=False)
            self.assertNotEqual(r.returncode, 0, "systemctl reload with a broken rule file")
            msgs = self.messages(after, SYSLOG_IDENTIFIER="autoblacklistd")
            self.assertIn("reload rejected (1 problem); the previous configuration and rules stay in effect", msgs)
        finally:
            self.set_config()
            self.c.run(["rm", "-f", rules])
        # the old config ran on all along: same process, active, still banning
        p = self.show("ActiveState", "SubState", "MainPID")
        self.assertEqual((p["ActiveState"], p["SubState"], int(p["MainPID"])), ("active", "running", pid))
        self.ban_attacker("203.0.113.8")
        r = self.c.systemctl("reload", UNIT, check=False)
        self.assertEqual(r.returncode, 0, "good again: " + r.stderr)

    def test_6_the_watchdog_restarts_a_hung_daemon(self):
        # A shorter watchdog for the test (the shipped one is 60 s); the
        # daemon pings at half the period it is given.
        dropin = "/etc/systemd/system/%s.d/abl-nsp-watchdog.conf" % UNIT
        self.c.run(["mkdir", "-p", os.path.dirname(dropin)])
        self.c.write(dropin, "[Service]\nWatchdogSec=3s\nRestartSec=200ms\n")
        try:
            self.c.systemctl("daemon-reload")
            self.c.systemctl("restart", UNIT)
            pid = self.main_pid()
            n0 = int(self.show("NRestarts")["NRestarts"])
            time.sleep(4)  # its pings keep it alive past a whole period
            self.assertEqual(self.main_pid(), pid, "a daemon that answers is not restarted")
            after = self.cursor()
            self.c.run(["kill", "-STOP", str(pid)])
            self.c.wait_until(lambda: self.main_pid() not in (0, pid) and
                              self.c.systemctl("is-active", UNIT, check=False).stdout.strip() == "active",
                              timeout=30, what="a restarted daemon")
            self.assertEqual(int(self.show("NRestarts")["NRestarts"]), n0 + 1)
            msgs = "\n".join(self.messages(after, unit=UNIT))
            self.assertIn("Watchdog timeout", msgs)
            # the bans came back from the state file
            self.assertTrue(self.postmap_q(ATTACKER).startswith("REJECT"))
            self.assertIn(ATTACKER, self.ctl("list").stdout)
        finally:
            self.c.run(["rm", "-f", dropin])
            self.c.systemctl("daemon-reload")
            self.c.systemctl("restart", UNIT)

    def test_7_no_ip_traffic_from_the_unit(self):
        """The price of allowing AF_INET for postmap's probe (item 7): a socket
        made in the unit's cgroup reaches no address, not even loopback."""
        p = self.show("ControlGroup")
        cg = "/sys/fs/cgroup/unified" + p["ControlGroup"]
        if not self.c.exists(cg):
            cg = "/sys/fs/cgroup" + p["ControlGroup"]
        probe = ("import socket, sys\n"
                 "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()\n"
                 "port = srv.getsockname()[1]\n"
                 "open(sys.argv[1] + '/cgroup.procs', 'w').write('0')\n"  # join the unit's cgroup
                 "s = socket.socket(); s.settimeout(1.5)\n"
                 "try:\n    s.connect(('127.0.0.1', port)); print('connected')\n"
                 "except OSError as e:\n    print('blocked', e)\n")
        r = self.c.run(["python3", "-c", probe, cg])
        self.assertTrue(r.stdout.startswith("blocked"), r.stdout + r.stderr)
        # and outside the unit's cgroup the same connect works (the probe can fail)
        r = self.c.run(["python3", "-c", probe.replace("open(sys.argv[1]", "0 and open(sys.argv[1]"), cg])
        self.assertEqual(r.stdout.strip(), "connected", r.stderr)

    def test_8_stop(self):
        after = self.cursor()
        r = self.c.systemctl("stop", UNIT, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        p = self.show("ActiveState", "Result", "ExecMainStatus")
        self.assertEqual(p["ActiveState"], "inactive")
        self.assertEqual(p["Result"], "success")
        self.assertEqual(p["ExecMainStatus"], "0")
        self.assertIn("stopping", self.messages(after, SYSLOG_IDENTIFIER="autoblacklistd"))
        # the map keeps working while the daemon is stopped
        self.assertTrue(self.postmap_q(ATTACKER).startswith("REJECT"))
        self.c.systemctl("start", UNIT)
        self.assertEqual(self.c.systemctl("is-active", UNIT, check=False).stdout.strip(), "active")

    def test_9_uninstall_flush(self):
        uninstall = os.path.join(self.pkgdatadir, "uninstall")
        r = self.c.run([uninstall, "--flush"], check=False, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("uninstall: done", r.stdout)
        # every ban lifted, our block gone, the admin's entry kept
        self.assertIsNone(self.postmap_q(ATTACKER))
        self.assertIsNone(self.postmap_q("203.0.113.8"))
        self.assertEqual(self.postmap_q(ADMIN_OK), "OK")
        self.assertNotIn("postfix-autoblacklist", self.c.read(MAP))
        # the unit is stopped, disabled and gone; so are the programs
        self.assertEqual(self.c.systemctl("is-active", UNIT, check=False).stdout.strip(), "inactive")
        r = self.c.systemctl("cat", UNIT, check=False)
        self.assertNotEqual(r.returncode, 0, "the unit file is removed")
        self.assertFalse(self.c.exists(os.path.join(self.sbindir, "autoblacklistd")))
        self.assertFalse(self.c.exists("/etc/systemd/system/multi-user.target.wants/" + UNIT))


class MapOutsideEtcPostfix(unittest.TestCase):
    """A map outside /etc/postfix, without the ReadWritePaths= drop-in the
    unit's comment asks for: the folder is read-only to the daemon."""
    c = None

    @classmethod
    def setUpClass(cls):
        cls.c = c = container.Container(binds=[SOURCE_ROOT], binds_rw=[BUILD_ROOT])
        c.start()
        try:
            cls.sbindir, confdir, _ = install(c)
            c.write("/etc/postfix/main.cf", "inet_protocols = all\n")
            c.run(["touch", "-d", "@0", "/etc/postfix/main.cf"])
            c.run(["mkdir", "-p", "/srv/maps", os.path.dirname(LOG)])
            c.write(LOG, "")
            conf = os.path.join(confdir, "autoblacklist.conf")
            c.write(conf, c.read(conf) + "\nlog_file = %s\naccess_map = hash:/srv/maps/access\n" % LOG)
            c.systemctl("daemon-reload")
            # --no-block: without item 20 the start waits for the start timeout
            c.systemctl("start", "--no-block", UNIT)
            time.sleep(3)
        except BaseException:
            c.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.c:
            cls.c.stop()

    def messages(self):
        self.c.run(["journalctl", "--sync"])
        return self.c.run(["journalctl", "-u", UNIT, "-o", "cat", "--no-pager"]).stdout

    def test_the_failure_says_which_drop_in_to_add(self):
        self.assertIn("Read-only file system", self.messages())
        self.assertIn("ReadWritePaths=/srv/maps", self.messages())

    def test_ready_and_following_while_the_map_cannot_be_written(self):
        self.assertEqual(self.c.systemctl("is-active", UNIT, check=False).stdout.strip(), "active",
                         self.messages())
        status = self.c.systemctl("show", UNIT, "-p", "StatusText").stdout
        self.assertIn("map", status)
        # it follows the log and bans in memory
        self.c.append(LOG, sasl_fail(ATTACKER, 10))
        ctl = os.path.join(self.sbindir, "autoblacklistctl")
        self.c.wait_until(lambda: ATTACKER in self.c.run([ctl, "list"], check=False).stdout, timeout=5,
                          what="the ban in memory")


def main():
    # a runner's timeout sends SIGTERM: exit, so that atexit halts the container
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    why = container.missing()
    if why:
        skip(why)
    if not BUILD_ROOT or not os.path.exists(os.path.join(BUILD_ROOT, "meson-private")):
        skip("BUILD_ROOT is not set to the meson build folder")
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
