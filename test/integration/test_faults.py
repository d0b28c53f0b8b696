# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults of the map writer, made real: a full file system (a size-limited
tmpfs), a read-only map folder (a read-only bind mount), a postmap that
fails, a postmap that hangs with a child of its own.

The mounts live in a private mount namespace: this program runs itself
again under `unshare -m --propagation private`, so nothing it mounts is
seen outside it, and the mounts go away with it.
"""

import os
import re
import signal
import stat
import subprocess
import sys
import time

import harness
from harness import DaemonTest, wait_until

ADMIN = "# the admin's part\n192.0.2.50 OK\n"
BEGIN = "# BEGIN postfix-autoblacklist"
NS_MARK = "ABL_FAULTS_IN_MOUNT_NS"


def enter_private_mount_namespace():
    if os.environ.get(NS_MARK):
        return
    if os.geteuid() != 0:
        harness.skip("the fault tests mount file systems: they need root")
    env = dict(os.environ, **{NS_MARK: "1"})
    r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable] + sys.argv, env=env)
    sys.exit(r.returncode)


def mount(*args):
    subprocess.run(["mount"] + list(args), check=True)


def temp_entries(folder):
    """What a write may leave behind: anything but the map, its database and our filler."""
    return sorted(f for f in os.listdir(folder) if f not in ("access", "access.db", "filler"))


def failures(env):
    """Failed map writes so far, by `autoblacklistctl status` (0 before the socket is up)."""
    rc, out, _ = env.ctl("status")
    m = re.search(r"^map: .*: (\d+) writes, (\d+) postmap failures", out, re.M)
    return int(m.group(2)) if rc == 0 and m else 0


def map_written(env):
    """Our block in the text, and a database beside it."""
    return (env.read_map() or "").startswith(BEGIN) and os.path.exists(env.map + ".db")


def script(path, text):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, 0o755)
    return path


class MapFolder(DaemonTest):
    """The map in a folder of its own, that a test can mount things on."""

    # One writer: the faults of the auth map's writer are the same code, and
    # two failing maps would double every message these tests count.
    CONFIG = {"auth_map": ""}

    def setUp(self):
        super().setUp()
        env = self.env
        self.folder = os.path.join(env.dir, "maps")
        os.mkdir(self.folder)
        env.map = os.path.join(self.folder, "access")
        env.write_config(access_map="hash:" + env.map)

    def tearDown(self):
        # the daemon first: it has the mount open
        if self.env.proc and self.env.proc.poll() is None:
            self.env.proc.kill()
            self.env.proc.wait()
        subprocess.run(["umount", "-l", self.folder], stderr=subprocess.DEVNULL)
        super().tearDown()

    def postmap_now(self):
        subprocess.run([harness.POSTMAP, "-c", self.env.pfdir, "hash:" + self.env.map], check=True)


class DiskFull(MapFolder):

    def test_full_disk_fails_cleanly_logs_once_and_recovers(self):
        env = self.env
        mount("-t", "tmpfs", "-o", "size=2m,mode=0755", "abl-mapw-full", self.folder)
        # enough admin lines that the text fits in what is left, and its database does not
        admin = ADMIN + "".join("198.18.%d.%d OK\n" % (i // 250, i % 250) for i in range(5000))
        env.write_map(admin)
        env.start()
        self.assertEqual(env.postmap_q("198.18.0.7"), "OK")
        before_text, before_db = env.read_map(), os.stat(env.map + ".db")

        # a full file system: the text cannot be written
        filler = os.path.join(self.folder, "filler")
        st = os.statvfs(self.folder)
        free = st.f_bavail * st.f_frsize
        with open(filler, "wb") as f:
            try:
                f.write(b"\0" * free)
                f.flush()
            except OSError:
                pass
        env.ctl("ban", "203.0.113.1", check=0)
        env.ctl("ban", "203.0.113.2", check=0)
        wait_until(lambda: failures(env) >= 2, timeout=20, what="two failed attempts")
        self.assertEqual(temp_entries(self.folder), [])
        # then room for the text but not for its database: postmap fails
        # (Berkeley DB leaves its __db.* file beside the database then)
        n = failures(env)
        os.truncate(filler, os.path.getsize(filler) - len(before_text) - 64 * 1024)
        wait_until(lambda: failures(env) >= n + 1, timeout=20, what="a failed postmap")
        log = env.stderr()
        self.assertEqual(log.count("map not updated"), 2,
                         "one message for each cause, not one per retry:\n" + log)
        self.assertRegex(log, r"map not updated: .*/access: write: No space left on device")
        self.assertRegex(log, r"map not updated: .*postmap exited with status 1: .*No space left on device")
        # the old map stays, whole and usable, and nothing is left behind
        self.assertEqual(env.read_map(), before_text)
        self.assertEqual(os.stat(env.map + ".db").st_ino, before_db.st_ino)
        self.assertEqual(env.postmap_q("198.18.0.7"), "OK")
        self.assertIsNone(env.postmap_q("203.0.113.1"))
        self.assertEqual(temp_entries(self.folder), [])
        # `status` and systemd's STATUS= say so
        self.assertIn("last error: ", env.status()["map"])
        env.read_notify()
        status = [m for m in env.messages if m.startswith("STATUS=")]
        self.assertIn("map not updated, retrying: ", status[-1])

        # space is back: the daemon recovers by itself, with every ban
        os.unlink(filler)
        wait_until(lambda: env.postmap_q("203.0.113.2"), timeout=40, what="the bans after the space came back")
        self.assertIn("REJECT", env.postmap_q("203.0.113.1"))
        self.assertEqual(env.postmap_q("198.18.19.249"), "OK")
        wait_until(lambda: "map written again after" in env.stderr(), what="the recovery message")
        self.assertEqual(temp_entries(self.folder), [])
        self.assertEqual(env.stop(), 0)


class ReadOnly(MapFolder):

    def test_read_only_folder_says_what_to_add_and_recovers(self):
        env = self.env
        env.write_map(ADMIN)
        self.postmap_now()
        mount("--bind", self.folder, self.folder)
        mount("-o", "remount,bind,ro", self.folder)
        env.start(wait_ready=False)
        wait_until(lambda: "map not updated" in env.stderr(), what="the failure")
        log = env.stderr()
        self.assertIn("Read-only file system", log)
        self.assertIn("systemctl edit postfix-autoblacklist", log)
        self.assertIn("[Service] ReadWritePaths=%s)" % self.folder, log)
        wait_until(lambda: failures(env) >= 2, timeout=10, what="a retry")
        self.assertEqual(env.stderr().count("map not updated"), 1)
        self.assertEqual(env.read_map(), ADMIN)
        # the folder becomes writable: the next retry writes the map
        mount("-o", "remount,bind,rw", self.folder)
        wait_until(lambda: map_written(env), timeout=15, what="the map written")
        env.wait_notify("READY=1")
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")
        # a request that came during the failing writes is written right
        # after this one (its debounce is long over): its private folder is
        # there while it runs, and must be gone when it ends
        wait_until(lambda: temp_entries(self.folder) == [], timeout=10, what="no temporary folder left")


class BadPostmap(DaemonTest):

    # One writer: the faults of the auth map's writer are the same code, and
    # two failing maps would double every message these tests count.
    CONFIG = {"auth_map": ""}

    def test_postmap_that_exits_1_is_logged_with_its_stderr(self):
        env = self.env
        bad = script(os.path.join(env.dir, "bad-postmap"),
                     'echo "bad-postmap: fatal: cannot do $1" >&2\nexit 1\n')
        env.write_config(postmap=bad)
        env.start(wait_ready=False)
        wait_until(lambda: failures(env) >= 2, timeout=10, what="two failed attempts")
        log = env.stderr()
        self.assertRegex(log, re.escape(bad) + r" exited with status 1: bad-postmap: fatal: cannot do hash:")
        self.assertEqual(log.count("map not updated"), 1)
        self.assertIsNone(env.read_map())
        self.assertEqual(os.listdir(env.dir).count("access.db"), 0)
        self.assertFalse([f for f in os.listdir(env.dir) if "autoblacklist-tmp" in f])
        # a working postmap, and a reload: the next attempt succeeds
        env.write_config(postmap="%s -c %s" % (harness.POSTMAP, env.pfdir))
        env.signal(signal.SIGHUP)
        wait_until(lambda: map_written(env), timeout=10, what="the map written")
        wait_until(lambda: "map written again after" in env.stderr(), what="the recovery message")

    def hanging(self):
        """A postmap that never ends, with a child of its own; it notes each run."""
        env = self.env
        self.runs = os.path.join(env.dir, "runs")
        return script(os.path.join(env.dir, "hanging-postmap"),
                      "sleep 1000 &\n"
                      'echo "$(date +%%s.%%N) $$ $!" >> %s\n'
                      "wait\n" % self.runs)

    def read_runs(self):
        try:
            with open(self.runs) as f:
                return [line.split() for line in f]
        except FileNotFoundError:
            return []

    def test_hanging_postmap_is_killed_with_its_children_and_retried_with_backoff(self):
        env = self.env
        hang = self.hanging()
        env.write_config(postmap=hang, postmap_timeout="1s")
        env.start(wait_ready=False)
        wait_until(lambda: len(self.read_runs()) >= 4, timeout=30, what="four runs")
        runs = self.read_runs()
        starts = [float(r[0]) for r in runs]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        # each run lasts the timeout (1 s); the pauses between them grow: 1, 2, 4 s
        self.assertGreater(gaps[0], 1.5, gaps)
        self.assertGreater(gaps[2], gaps[0] + 2, gaps)
        # every run but the last is dead, with the child it started
        for _, pid, child in runs[:-1]:
            for p in (pid, child):
                self.assertFalse(alive(int(p)), "pid %s of a killed postmap survived" % p)
        log = env.stderr()
        self.assertIn(hang + " did not finish within 1.0s (postmap_timeout); killed it and its process group", log)
        self.assertEqual(log.count("map not updated"), 1, log)
        # a stop gives the write one more try, and leaves no run behind
        self.assertEqual(env.stop(timeout=10), 0)
        for _, pid, child in self.read_runs():
            self.assertFalse(alive(int(pid)) or alive(int(child)), "a run survived the stop")

    def test_reload_replaces_a_hung_postmap_and_blames_the_right_program(self):
        env = self.env
        hang = self.hanging()
        env.write_config(postmap=hang, postmap_timeout="1m")
        env.start(wait_ready=False)
        wait_until(lambda: self.read_runs(), what="the hanging run")
        _, pid, child = self.read_runs()[0]
        t0 = time.monotonic()
        env.write_config(postmap="%s -c %s" % (harness.POSTMAP, env.pfdir))
        env.signal(signal.SIGHUP)
        wait_until(lambda: map_written(env), timeout=10, what="the map written")
        self.assertLess(time.monotonic() - t0, 10, "a reload must not wait for the hung run")
        wait_until(lambda: not alive(int(pid)) and not alive(int(child)), timeout=5, what="the hung run to die")
        log = env.stderr()
        self.assertIn("stopping %s (pid %s): the postmap command changed" % (hang, pid), log)
        self.assertNotIn("map not updated", log)
        self.assertEqual(env.postmap_q("192.0.2.50"), None)

    def test_stop_during_a_hung_postmap_leaves_no_process_behind(self):
        # the default postmap_timeout (10s): this test runs on a version without the key too
        env = self.env
        env.write_config(postmap=self.hanging())
        env.start(wait_ready=False)
        wait_until(lambda: self.read_runs(), what="the hanging run")
        _, pid, child = self.read_runs()[0]
        env.signal(signal.SIGTERM)
        env.proc.wait(45)
        wait_until(lambda: not alive(int(pid)) and not alive(int(child)), timeout=5,
                   what="the hung postmap and its child to die with the daemon")


def alive(pid):
    """Is pid a live process (not a zombie waiting for its parent)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    enter_private_mount_namespace()
    harness.main()
