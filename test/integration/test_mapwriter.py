# SPDX-License-Identifier: GPL-3.0-or-later
"""The map writer against real postmap: a symlink race by an unprivileged
user, the owner and mode of the map, the umask, what is logged, the last
write at stop, and SIGKILL at random moments of a write.
"""

import hashlib
import os
import pwd
import grp
import random
import signal
import subprocess
import sys
import time

import harness
from harness import DaemonTest, sasl_fail, wait_until

ADMIN = ("# the admin's own part\n"
         "192.0.2.50 OK\n"
         "\n"
         "198.51.100   OK\n"
         "# a comment\n"
         "192.0.2.51 REJECT go away\n")
ADMIN_KEYS = {"192.0.2.50": "OK", "198.51.100": "OK", "192.0.2.51": "REJECT go away"}
BEGIN = "# BEGIN postfix-autoblacklist"
END = "# END postfix-autoblacklist\n"


def split_map(text):
    """(keys of our block, the admin's part after it), or None if the text is not a whole map."""
    if text is None or not text.startswith(BEGIN) or END not in text:
        return None
    block, _, admin = text.partition(END)
    keys = set()
    for line in block.splitlines()[1:]:
        if line.startswith("#"):
            continue
        key, action, _ = line.split(" ", 2)
        if action != "REJECT":
            return None
        keys.add(key)
    return keys, admin


def query_all(env, keys):
    """What the database answers for each key, with one postmap -q - run."""
    r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-q", "-", "hash:" + env.map],
                       input="".join(k + "\n" for k in keys), capture_output=True, text=True)
    return dict(line.split("\t", 1) for line in r.stdout.splitlines())


def temp_entries(folder, base="access"):
    return sorted(f for f in os.listdir(folder) if f.startswith("." + base) or f.startswith("__db"))


def fingerprint(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns


def perm(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


class MapWriter(DaemonTest):

    def test_symlinks_planted_by_another_user_change_no_file_outside_the_map(self):
        env = self.env
        nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        # a map folder that another user may write to (group-writable, not
        # sticky: the kernel's protected_symlinks would not apply)
        os.chmod(env.dir, 0o711)
        folder = os.path.join(env.dir, "maps")
        os.mkdir(folder)
        os.chown(folder, 0, nogroup)
        os.chmod(folder, 0o775)
        env.map = os.path.join(folder, "access")
        env.write_config(access_map="hash:" + env.map, debounce="50ms")
        env.write_map(ADMIN)
        victims = []
        for i in range(3):
            v = os.path.join(env.dir, "precious%d" % i)
            with open(v, "w") as f:
                f.write("root's data %d\n" % i)
            victims.append(v)
        before = {v: fingerprint(v) for v in victims}
        env.start()

        # plant a symlink at every name the writer could use, old and new,
        # and into any temporary folder that shows up, as fast as possible
        attacker = subprocess.Popen(
            ["setpriv", "--reuid=%d" % nobody, "--regid=%d" % nogroup, "--clear-groups",
             sys.executable, "-c", ATTACKER, folder, *victims],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.3)
            addrs = ["203.0.113.%d" % i for i in range(1, 21)]
            for a in addrs:
                env.ctl("ban", a, check=0)
                time.sleep(0.1)
            wait_until(lambda: all(env.postmap_q(a) for a in addrs), timeout=20,
                       what="every ban in the map while the attacker runs")
        finally:
            attacker.terminate()
            out, err = attacker.communicate(timeout=10)
        self.assertIn("planted", out, err)
        print(out.strip())
        for v in victims:
            self.assertEqual(fingerprint(v), before[v],
                             v + " was changed through a symlink")
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")
        self.assertTrue(env.read_map().endswith(ADMIN))
        for name in ("access", "access.db"):
            self.assertFalse(os.path.islink(os.path.join(folder, name)))

    def test_leftovers_of_a_crash_or_an_older_version_are_removed_at_start(self):
        env = self.env
        nobody = pwd.getpwnam("nobody").pw_uid
        env.write_map(ADMIN)
        # an older version's fixed names, Berkeley DB's leftover after a full
        # disk, and a private folder of a write that was killed
        for name in (".access.autoblacklist-tmp", ".access.autoblacklist-tmp.db",
                     "__db..access.autoblacklist-tmp.db"):
            with open(os.path.join(env.dir, name), "w") as f:
                f.write("left over\n")
        killed = os.path.join(env.dir, ".access.autoblacklist-tmp.Ab3dE9")
        os.mkdir(killed, 0o700)
        for name in ("access", "access.db", "__db.access.db"):
            open(os.path.join(killed, name), "w").close()
        # a folder of the same pattern that is not ours, and a symlink: not touched
        theirs = os.path.join(env.dir, ".access.autoblacklist-tmp.theirs")
        os.mkdir(theirs, 0o700)
        open(os.path.join(theirs, "keep"), "w").close()
        os.chown(theirs, nobody, -1)
        os.symlink(os.path.join(theirs, "keep"), os.path.join(env.dir, ".access.autoblacklist-tmp.link"))
        env.start()
        self.assertEqual(temp_entries(env.dir), [".access.autoblacklist-tmp.theirs"])
        self.assertTrue(os.path.exists(os.path.join(theirs, "keep")))
        self.assertIn("removed 5 temporary entries left by an interrupted write", env.stderr())
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")

    def test_a_database_out_of_step_with_its_text_is_rebuilt_at_start(self):
        env = self.env
        env.write_map(ADMIN)
        env.start()
        self.assertEqual(env.stop(), 0)
        text = env.read_map()
        # a database built from another text (a stale ban in it), newer than
        # the text: what a kill between the two renames of the old order left
        other = os.path.join(env.dir, "other")
        with open(other, "w") as f:
            f.write(text.replace(END, "203.0.113.99 REJECT stale\n" + END))
        subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + other], check=True)
        os.replace(other + ".db", env.map + ".db")
        st = os.stat(env.map + ".db")
        os.utime(env.map, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
        self.assertEqual(env.postmap_q("203.0.113.99"), "REJECT stale")
        env.start()
        self.assertIsNone(env.postmap_q("203.0.113.99"), "the database must be rebuilt from the text")
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")
        self.assertEqual(env.read_map(), text)

    def test_map_owned_by_another_user_keeps_owner_and_mode(self):
        env = self.env
        nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        env.write_map(ADMIN)
        os.chown(env.map, nobody, nogroup)
        os.chmod(env.map, 0o640)
        env.start()
        self.assertEqual(perm(env.map), (nobody, nogroup, 0o640))
        self.assertEqual(perm(env.map + ".db"), (nobody, nogroup, 0o640), "a new database gets the text's")
        # an existing database keeps its own owner and mode
        os.chown(env.map + ".db", nobody, 0)
        os.chmod(env.map + ".db", 0o600)
        env.ctl("ban", "203.0.113.5", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.5"), what="the ban")
        self.assertEqual(perm(env.map), (nobody, nogroup, 0o640))
        self.assertEqual(perm(env.map + ".db"), (nobody, 0, 0o600))
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")

    def start_with_capabilities(self, bounding):
        """Start the daemon as root with only these capabilities, as the unit's
        CapabilityBoundingSet= makes it."""
        wrapper = os.path.join(self.env.dir, "capped")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec setpriv --bounding-set=%s %s "$@"\n' % (bounding, harness.DAEMON))
        os.chmod(wrapper, 0o755)
        daemon, harness.DAEMON = harness.DAEMON, wrapper
        try:
            self.env.start()
        finally:
            harness.DAEMON = daemon

    def test_under_the_units_capabilities_the_owner_is_kept_and_without_them_a_warning(self):
        env = self.env
        nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        unit = os.path.join(harness.SOURCE_ROOT, "systemd", "postfix-autoblacklist.service.in")
        with open(unit) as f:
            caps = [l.split("=", 1)[1].strip() for l in f if l.startswith("CapabilityBoundingSet=")]
        self.assertEqual(caps, ["CAP_CHOWN"])
        env.write_map(ADMIN)
        os.chown(env.map, nobody, nogroup)
        os.chmod(env.map, 0o644)
        self.start_with_capabilities("-all,+chown")
        self.assertEqual(perm(env.map), (nobody, nogroup, 0o644))
        self.assertEqual(perm(env.map + ".db"), (nobody, nogroup, 0o644))
        self.assertNotIn("cannot keep the owner", env.stderr())
        self.assertEqual(env.stop(), 0)
        # with no capability at all, the map is still written, and we are told
        self.start_with_capabilities("-all")
        env.ctl("ban", "203.0.113.9", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.9"), what="the ban")
        self.assertIn("cannot keep the owner %d:%d (Operation not permitted): the map becomes 0:0; "
                      "give the daemon CAP_CHOWN" % (nobody, nogroup), env.stderr())
        self.assertEqual(env.stderr().count("cannot keep the owner"), 1)

    def test_a_new_map_is_0644_whatever_the_umask_and_an_old_one_keeps_its_mode(self):
        env = self.env
        old = os.umask(0o077)
        try:
            env.start()
        finally:
            os.umask(old)
        self.assertEqual(perm(env.map)[2], 0o644)
        self.assertEqual(perm(env.map + ".db")[2], 0o644)
        self.assertEqual(env.stop(), 0)
        os.chmod(env.map, 0o600)
        os.chmod(env.map + ".db", 0o640)
        env.start()
        env.ctl("ban", "203.0.113.6", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.6"), what="the ban")
        self.assertEqual(perm(env.map)[2], 0o600)
        self.assertEqual(perm(env.map + ".db")[2], 0o640)

    def test_an_unchanged_map_is_not_reported_as_written(self):
        env = self.env
        env.write_map(ADMIN)
        env.start()
        db = os.stat(env.map + ".db")
        n = len(env.messages)
        env.signal(signal.SIGHUP)
        env.wait_notify("READY=1", after=n)
        wait_until(lambda: "already up to date" in env.stderr(), what="the unchanged write")
        log = env.stderr()
        self.assertEqual(log.count(env.map + ": written, "), 1, log)
        self.assertIn("access: already up to date (0 entries); not rewritten, postmap not run", log)
        self.assertEqual(os.stat(env.map + ".db").st_ino, db.st_ino)

    def test_the_last_write_at_stop_does_not_wait_for_the_debounce(self):
        env = self.env
        started = os.path.join(env.dir, "started")
        slow = os.path.join(env.dir, "slow-postmap")
        with open(slow, "w") as f:
            f.write('#!/bin/sh\ntouch %s\nsleep 1.5\nexec "$@"\n' % started)
        os.chmod(slow, 0o755)
        env.write_config(postmap="%s %s -c %s" % (slow, harness.POSTMAP, env.pfdir), debounce="20s")
        env.start(wait_ready=False)
        # the first write runs; a ban comes meanwhile, then the stop
        wait_until(lambda: os.path.exists(started), what="the first postmap")
        wait_until(lambda: env.ctl("ban", "203.0.113.7")[0] == 0, what="the ban")
        t0 = time.monotonic()
        self.assertEqual(env.stop(timeout=60), 0)
        took = time.monotonic() - t0
        self.assertIn("REJECT", env.postmap_q("203.0.113.7") or "", env.stderr())
        self.assertLess(took, 8, "the stop waited %.1fs: the debounce of the last write" % took)


ATTACKER = r"""
import os, signal, sys, time
folder, victims = sys.argv[1], sys.argv[2:]
# the fixed names of older versions, and names postmap or Berkeley DB might use
names = [".access.autoblacklist-tmp", ".access.autoblacklist-tmp.db", "__db..access.autoblacklist-tmp.db",
         "__db.access.db", "access.tmp", "access.db.tmp"]
inside = ["access", "access.db", "__db.access.db"]
count = {"planted": 0, "refused": 0}

def report(*_):
    print("attacker: planted %(planted)d symlinks, %(refused)d refused in private folders" % count)
    sys.exit(0)

signal.signal(signal.SIGTERM, report)
while True:
    for i, n in enumerate(names):
        try:
            os.symlink(victims[i % len(victims)], os.path.join(folder, n))
            count["planted"] += 1
        except OSError:
            pass
    for d in os.listdir(folder):
        if d.startswith(".access.autoblacklist-tmp."):
            for i, n in enumerate(inside):
                try:
                    os.symlink(victims[i % len(victims)], os.path.join(folder, d, n))
                    count["planted"] += 1
                except OSError:
                    count["refused"] += 1
"""


class CrashSafety(DaemonTest):
    """SIGKILL at random moments during map writes, with 10,000 bans
    (ABL_CRASH_BANS=100000 ABL_CRASH_KILLS=... for a larger map)."""

    KILLS = int(os.environ.get("ABL_CRASH_KILLS", "100"))
    BANS = int(os.environ.get("ABL_CRASH_BANS", "10000"))

    def test_sigkill_during_writes(self):
        env = self.env
        rules = os.path.join(env.dir, "one.rules")
        with open(rules, "w") as f:
            f.write("[any-sasl]\nprogram = postfix*/smtpd\n"
                    "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
                    "max_hits = 1\nban_time = 1d\n")
        env.write_config(rules=rules, start_at="beginning", debounce="0")
        env.write_map(ADMIN)
        env.append(*[sasl_fail("100.%d.%d.%d" % (64 + (i >> 16), (i >> 8) & 255, i & 255))
                     for i in range(self.BANS)])
        env.start(timeout=120)
        wait_until(lambda: len((split_map(env.read_map()) or [set()])[0]) == self.BANS, timeout=120,
                   interval=0.2, what="every ban in the map")
        # how long a write takes here and now (from the ban to the new database
        # in place): the kills fall anywhere in that time, and a little after
        took = []
        for i in range(5):
            db = os.stat(env.map + ".db").st_ino
            t = time.monotonic()
            env.ctl("ban", "192.0.2.%d" % (100 + i), check=0)
            wait_until(lambda: os.stat(env.map + ".db").st_ino != db, timeout=30, interval=0.001,
                       what="a calibration write")
            took.append(time.monotonic() - t)
            time.sleep(0.1)
        window = 1.1 * sorted(took)[2]
        keys = split_map(env.read_map())[0]
        rng = random.Random(int(os.environ.get("ABL_CRASH_SEED", "1")))
        phases = {}
        lost = left = 0
        t0 = time.monotonic()
        for i in range(self.KILLS):
            new = "203.0.%d.%d" % (113 + i // 250, i % 250 + 1)
            env.ctl("ban", new, check=0)
            time.sleep(rng.uniform(0, window))
            env.kill9()

            # the text: the old or the new map, whole, with every admin line
            got = split_map(env.read_map())
            self.assertIsNotNone(got, "kill %d: the text is not a whole map:\n%s" % (i, env.read_map()))
            text_keys, admin = got
            self.assertEqual(admin, ADMIN, "kill %d: the admin's lines" % i)
            self.assertIn(text_keys, (keys, keys | {new}), "kill %d: the text is neither old nor new" % i)
            text_new = new in text_keys
            # the database: the old or the new one, whole
            answers = query_all(env, keys | {new} | set(ADMIN_KEYS))
            for k, v in ADMIN_KEYS.items():
                self.assertEqual(answers.get(k), v, "kill %d: admin key %s" % (i, k))
            missing = [k for k in keys if not answers.get(k, "").startswith("REJECT")]
            self.assertEqual(missing[:5], [], "kill %d: the database lost bans" % i)
            db_new = new in answers
            # text first, then the database: never a new database beside the old text
            self.assertFalse(db_new and not text_new, "kill %d: new database beside the old text" % i)
            phase = ("old" if not text_new else "new") + " text, " + ("new" if db_new else "old") + " database"
            phases[phase] = phases.get(phase, 0) + 1
            if temp_entries(env.dir):
                left += 1

            # restart: the state loads, every ban is back, the pair agrees, no temporary file
            env.start(timeout=120)
            got = split_map(env.read_map())
            self.assertIsNotNone(got)
            after_keys, admin = got
            self.assertEqual(admin, ADMIN)
            self.assertTrue(keys <= after_keys, "kill %d: bans lost at restart" % i)
            if text_new or db_new:
                self.assertIn(new, after_keys, "kill %d: a ban the map had was lost" % i)
            if new not in after_keys:
                lost += 1
            answers = query_all(env, after_keys | set(ADMIN_KEYS))
            self.assertEqual(len([k for k in after_keys if answers.get(k, "").startswith("REJECT")]),
                             len(after_keys), "kill %d: the database disagrees with the text" % i)
            self.assertEqual(temp_entries(env.dir), [], "kill %d: temporary files after the restart" % i)
            self.assertNotIn("starting without it", env.stderr(), "kill %d: the state file did not load" % i)
            keys = after_keys
        took = time.monotonic() - t0
        print("%d kills within %.0f ms of a ban, in %.1fs (%.2fs each); %s; a temporary folder was left by %d kills (removed at the "
              "next start); %d bans were not yet in the state at the kill" %
              (self.KILLS, window * 1000, took, took / self.KILLS, ", ".join("%s: %d" % kv for kv in sorted(phases.items())),
               left, lost))


if __name__ == "__main__":
    harness.main()
