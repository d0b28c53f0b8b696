# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for integration tests: a scratch folder with a Postfix config
for postmap, a config file for the daemon, and the built daemon started on
them with a real notify socket (the same AF_UNIX datagram protocol that
systemd uses).

Nothing here touches /etc/postfix: postmap gets "-c DIR" with an empty,
backdated main.cf.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

DAEMON = os.environ.get("AUTOBLACKLISTD", "")
CTL = os.environ.get("AUTOBLACKLISTCTL", "")
SOURCE_ROOT = os.environ.get(
    "SOURCE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RULES = os.path.join(SOURCE_ROOT, "rules")
POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"

SKIP = 77  # meson's "skipped" exit status


def skip(why):
    """Skip this test program, or fail it where every test must run (CI)."""
    print(why, file=sys.stderr)
    sys.exit(1 if os.environ.get("ABL_REQUIRE_ALL") else SKIP)


def shipped_rule_count():
    """The number of rule blocks in the shipped rules/*.rules."""
    n = 0
    for name in os.listdir(RULES):
        if name.endswith(".rules"):
            with open(os.path.join(RULES, name)) as f:
                n += sum(1 for line in f if line.startswith("["))
    return n


def require_postmap():
    if not os.path.exists(POSTMAP):
        skip("postmap (Debian's postfix package) is not installed")


def stamp():
    """An RFC 3164 time stamp for a log line."""
    return time.strftime("%b %e %H:%M:%S")


def sasl_fail(addr, name="unknown", tag="postfix/smtpd", user="admin"):
    return ("%s mx %s[%d]: warning: %s[%s]: SASL LOGIN authentication failed: "
            "UGFzc3dvcmQ6, sasl_username=%s" % (stamp(), tag, os.getpid() % 30000, name, addr, user))


def relay_denied(addr, helo="x", rcpt="a@example.net"):
    return ("%s mx postfix/smtpd[77]: NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 "
            "<%s>: Relay access denied; from=<s@example.com> to=<%s> proto=ESMTP helo=<%s>"
            % (stamp(), addr, rcpt, rcpt, helo))


class Env:
    """A scratch setup: log, map, state, socket and config in one folder."""

    # Prepended to the daemon's command line (e2e: "ip netns exec NS").
    wrap = ()

    def __init__(self, prefix="abl-it-", **config):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.pfdir = os.path.join(self.dir, "postfix")
        os.mkdir(self.pfdir)
        maincf = os.path.join(self.pfdir, "main.cf")
        open(maincf, "w").close()
        # Postfix re-reads a config file younger than a second or two every
        # 300 ms until it settles; a backdated one keeps postmap fast.
        os.utime(maincf, (0, 0))
        self.log = os.path.join(self.dir, "maillog")
        self.map = os.path.join(self.dir, "access")
        self.state = os.path.join(self.dir, "state")
        self.socket = os.path.join(self.dir, "control")
        self.conf = os.path.join(self.dir, "autoblacklist.conf")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.proc = None
        self.wrapper = []  # a command that runs the daemon, e.g. setpriv with fewer capabilities
        self.notify = None
        self.drainer = None
        self.notify_path = None
        self.messages = []
        self.config = dict(
            log_file=self.log,
            rules=RULES,
            access_map="hash:" + self.map,
            auth_map="hash:" + os.path.join(self.dir, "autoblacklist-ehlo"),
            postmap="%s -c %s" % (POSTMAP, self.pfdir),
            debounce="100ms",
            state_file=self.state,
            control_socket=self.socket,
            log_target="stderr",
            start_at="end",
            # Tests and benchmarks take bulk addresses from 10.0.0.0/8, which
            # is never banned by default; a test of that passes ban_private=None.
            ban_private="yes",
        )
        self.config.update(config)
        self.write_config()

    # --- files ---------------------------------------------------------

    def write_one_hit_rules(self, ban_time="1d"):
        """Rules of one rule that bans at the first SASL failure (sasl_fail's line)."""
        path = os.path.join(self.dir, "one.rules")
        with open(path, "w") as f:
            f.write("[any-sasl]\nprogram = postfix*/smtpd\n"
                    "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
                    "max_hits = 1\nban_time = %s\n" % ban_time)
        self.write_config(rules=path)

    def write_config(self, **changes):
        """Write the config atomically, so that a reload never reads half of it."""
        self.config.update(changes)
        with open(self.conf + ".new", "w") as f:
            for k, v in self.config.items():
                if v is not None:
                    f.write("%s = %s\n" % (k, v))
        os.replace(self.conf + ".new", self.conf)

    def own_rules(self):
        """A copy of the shipped rules in the scratch folder, that the config
        now names (for tests that edit rules and reload): its path."""
        rules = os.path.join(self.dir, "rules")
        shutil.copytree(RULES, rules)
        self.write_config(rules=rules)
        return rules

    def append(self, *lines, path=None):
        with open(path or self.log, "a") as f:
            for line in lines:
                f.write(line + "\n")

    def write_map(self, text):
        with open(self.map, "w") as f:
            f.write(text)

    def read_map(self):
        try:
            with open(self.map) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def ctl(self, *args, check=None):
        """Run autoblacklistctl against this daemon: (exit status, stdout, stderr)."""
        r = subprocess.run([CTL, "-s", self.socket] + list(args), capture_output=True, text=True, timeout=60)
        if check is not None and r.returncode != check:
            raise AssertionError("autoblacklistctl %s: exit %d, want %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(args), r.returncode, check, r.stdout, r.stderr))
        return r.returncode, r.stdout, r.stderr

    def status(self):
        """autoblacklistctl status, as a dict of its lines."""
        _, out, _ = self.ctl("status", check=0)
        return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)

    def postmap_q(self, key):
        """The map's value for key, as smtpd would get it, or None."""
        r = subprocess.run([POSTMAP, "-c", self.pfdir, "-q", key, "hash:" + self.map],
                           capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.strip()
        return None

    def stderr(self):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    # --- the daemon ----------------------------------------------------

    def slow_postmap(self, seconds, name="slow-postmap"):
        """A postmap that sleeps, then runs the real one (a write that takes a
        while, for races with it): the config's postmap value."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\nsleep %s\nexec %s -c %s \"$@\"\n" % (seconds, POSTMAP, self.pfdir))
        os.chmod(path, 0o755)
        return path

    def start(self, *args, wait_ready=True, env=None, timeout=10, drain=True):
        """Start the daemon.  Its notify socket is drained by a thread, as
        systemd reads its own (a full socket must not be what a test sees);
        drain=False leaves it unread, for the test of exactly that."""
        self.notify_path = os.path.join(self.dir, "notify")
        self.stop_drainer()
        if self.notify:
            self.notify.close()
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.05)
        self.messages = []
        self.inbox = []
        if drain:
            self.start_drainer()
        e = dict(os.environ)
        e["NOTIFY_SOCKET"] = self.notify_path
        e.pop("JOURNAL_STREAM", None)
        e.pop("WATCHDOG_USEC", None)
        if env:
            e.update(env)
        if getattr(self, "stderr_file", None):
            self.stderr_file.close()
        self.stderr_file = open(self.stderr_path, "a")
        self.proc = subprocess.Popen(list(self.wrap) + self.wrapper + [DAEMON, "-c", self.conf] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self.stderr_file,
                                     stderr=self.stderr_file, env=e)
        if wait_ready:
            self.wait_notify("READY=1", timeout)
        return self.proc

    def start_drainer(self):
        """Read the notify socket from now on, in a thread, into self.inbox."""
        if self.drainer:
            return
        self.drainer_stop = threading.Event()
        self.inbox_lock = threading.Lock()

        def drain():
            while not self.drainer_stop.is_set():
                try:
                    data = self.notify.recv(4096)
                except (socket.timeout, BlockingIOError):
                    continue
                except OSError:
                    return
                with self.inbox_lock:
                    self.inbox.append(data.decode())

        self.drainer = threading.Thread(target=drain, daemon=True)
        self.drainer.start()

    def stop_drainer(self):
        if self.drainer:
            self.drainer_stop.set()
            self.drainer.join()
            self.drainer = None

    def read_notify(self):
        """Collect notify datagrams that have arrived; returns the new ones."""
        new = []
        if self.drainer:
            with self.inbox_lock:
                new, self.inbox = self.inbox, []
            if not new:
                time.sleep(0.01)  # callers poll in a loop: do not spin
        else:
            while True:
                try:
                    data = self.notify.recv(4096)
                except (socket.timeout, BlockingIOError):
                    break
                new.append(data.decode())
        self.messages.extend(new)
        return new

    def wait_notify(self, what, timeout=10, after=0):
        """Wait for a datagram containing the line `what` (among messages[after:])."""
        deadline = time.monotonic() + timeout
        while True:
            exited = self.proc.poll() is not None
            self.read_notify()
            for i, m in enumerate(self.messages[after:], after):
                if what in m.split("\n"):
                    return i
            if exited:
                self.read_notify()  # what the drainer had not handed over yet
                if any(what in m.split("\n") for m in self.messages[after:]):
                    return next(i for i, m in enumerate(self.messages[after:], after) if what in m.split("\n"))
                raise AssertionError("daemon exited with %s before %r; stderr:\n%s"
                                     % (self.proc.returncode, what, self.stderr()))
            if time.monotonic() > deadline:
                raise AssertionError("no %r within %ss; got %r; stderr:\n%s"
                                     % (what, timeout, self.messages, self.stderr()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("daemon did not stop on SIGTERM; stderr:\n" + self.stderr())
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "stderr_file", None):
            self.stderr_file.close()
        self.stop_drainer()
        if self.notify:
            self.notify.close()
        if os.environ.get("KEEP_TMP"):
            print("kept", self.dir, file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def private_mounts():
    """Give this test process (and the daemons it starts) a mount namespace
    of its own, so a test may mount a small tmpfs or a read-only bind mount
    that nobody else sees.  Call it before any thread starts (unshare(2)
    refuses a multithreaded process).  True if it worked (root only)."""
    import ctypes
    if os.geteuid() != 0:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS = 0x00020000
    if libc.unshare(CLONE_NEWNS) != 0:
        return False
    # no mount of ours may reach the host's namespace
    return subprocess.run(["mount", "--make-rprivate", "/"]).returncode == 0


def wait_until(pred, timeout=5.0, interval=0.02, what="condition"):
    """Poll pred() until it is true; returns the seconds it took."""
    t0 = time.monotonic()
    while True:
        v = pred()
        if v:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class DaemonTest(unittest.TestCase):
    """A test case with an Env per test; subclasses set CONFIG for overrides."""

    CONFIG = {}

    @classmethod
    def setUpClass(cls):
        if not DAEMON or not os.path.exists(DAEMON):
            raise unittest.SkipTest("AUTOBLACKLISTD is not set to the built daemon")
        require_postmap()

    def setUp(self):
        self.env = Env(**self.CONFIG)

    def tearDown(self):
        if self._outcome_failed():
            sys.stderr.write("--- daemon stderr ---\n" + self.env.stderr())
        self.env.close()

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        result = getattr(outcome, "result", None)
        if result is None:
            return False
        return any(t is self for t, _ in result.failures + result.errors)


def main():
    if not DAEMON or not os.path.exists(DAEMON):
        skip("AUTOBLACKLISTD is not set to the built daemon")
    require_postmap()
    unittest.main(verbosity=2)
