# SPDX-License-Identifier: GPL-3.0-or-later
"""The second map (auth_map, smtpd_discard_ehlo_keyword_address_maps) under
SIGKILL at random moments of its writes, with 10,000 bans and the admin's
own lines in it, against real postmap (issue 15; test_mapwriter.py's
CrashSafety does the same for the access map).

After each kill: the auth map's text and its database are each the old or
the new whole version and agree (every key of the text answers with
`postmap -q`), every admin line is there, never a new database beside the
old text; after the restart: the state file loads, every ban is back in
both maps, and the temporary folders the kill left beside the auth map are
removed.  ABL_CRASH_KILLS and ABL_CRASH_BANS make it longer.
"""

import os
import random
import socket
import subprocess
import time

import harness
from harness import DaemonTest, sasl_fail, wait_until

ADMIN = ("# the admin's own part\n"
         "192.0.2.50 silent-discard, pipelining\n"
         "\n"
         "# a comment\n"
         "192.0.2.51 auth\n")
ADMIN_KEYS = {"192.0.2.50": "silent-discard, pipelining", "192.0.2.51": "auth"}
BEGIN = "# BEGIN postfix-autoblacklist"
END = "# END postfix-autoblacklist\n"
VALUE = "silent-discard, auth"


def split_map(text, value):
    """(keys of our block, the admin's part after it), or None if the text is not a whole map."""
    if text is None or not text.startswith(BEGIN) or END not in text:
        return None
    block, _, admin = text.partition(END)
    pairs = [line.partition(" ") for line in block.split("\n")[1:] if line and line[0] != "#"]
    if not all(v.startswith(value) for _, _, v in pairs):
        return None
    return {k for k, _, _ in pairs}, admin


def query_all(env, path, keys):
    """What the database of path answers for each key, with one postmap -q - run."""
    r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-q", "-", "hash:" + path],
                       input="".join(k + "\n" for k in keys), capture_output=True, text=True)
    return dict(line.split("\t", 1) for line in r.stdout.splitlines())


def temp_entries(folder, base):
    return sorted(f for f in os.listdir(folder) if f.startswith("." + base) or f.startswith("__db"))


def ban(env, addr):
    """`autoblacklistctl ban ADDR` straight on the control socket (a process
    less per kill); the answer must start with OK."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(env.socket)
    s.sendall(("ban %s\n" % addr).encode())
    answer = b""
    while True:
        data = s.recv(65536)
        if not data:
            break
        answer += data
    s.close()
    if not answer.startswith(b"OK\n"):
        raise AssertionError("ban %s: %s" % (addr, answer.decode(errors="replace")))
    return answer


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


class AuthMapCrashSafety(DaemonTest):
    KILLS = int(os.environ.get("ABL_CRASH_KILLS", "100"))
    BANS = int(os.environ.get("ABL_CRASH_BANS", "10000"))

    def test_sigkill_during_auth_map_writes(self):
        env = self.env
        auth = os.path.join(env.dir, "autoblacklist-ehlo")
        base = os.path.basename(auth)
        rules = os.path.join(env.dir, "one.rules")
        with open(rules, "w") as f:
            f.write("[any-sasl]\nprogram = postfix*/smtpd\n"
                    "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
                    "max_hits = 1\nban_time = 1d\n")
        env.write_config(rules=rules, start_at="beginning", debounce="0", auth_map="hash:" + auth)
        with open(auth, "w") as f:
            f.write(ADMIN)
        env.append(*[sasl_fail("100.%d.%d.%d" % (64 + (i >> 16), (i >> 8) & 255, i & 255))
                     for i in range(self.BANS)])
        env.start(timeout=120)

        def auth_keys():
            return (split_map(read(auth), VALUE) or [set()])[0]

        wait_until(lambda: len(auth_keys()) == self.BANS, timeout=120, interval=0.1,
                   what="every ban in the auth map")
        # when an auth map write starts (its private folder appears) and ends (its
        # new database is in place), from the ban, here and now: the kills fall
        # anywhere in that time, and a little before and after
        starts, ends = [], []
        for i in range(5):
            db = os.stat(auth + ".db").st_ino
            t = time.monotonic()
            env.ctl("ban", "192.0.2.%d" % (100 + i), check=0)
            wait_until(lambda: temp_entries(env.dir, base) or os.stat(auth + ".db").st_ino != db, timeout=30,
                       interval=0.001, what="a calibration write's start")
            starts.append(time.monotonic() - t)
            wait_until(lambda: os.stat(auth + ".db").st_ino != db, timeout=30, interval=0.001,
                       what="a calibration write")
            ends.append(time.monotonic() - t)
            time.sleep(0.1)
        window = (0.8 * sorted(starts)[2], 1.1 * sorted(ends)[2])
        first = window
        wait_until(lambda: len(auth_keys()) == self.BANS + 5, timeout=30, what="the calibration bans")
        keys = auth_keys()
        rng = random.Random(int(os.environ.get("ABL_CRASH_SEED", "1")))
        phases = {}
        lost = left = 0
        t0 = time.monotonic()
        for i in range(self.KILLS):
            new = "203.0.%d.%d" % (113 + i // 250, i % 250 + 1)
            ban(env, new)
            time.sleep(rng.uniform(*window))
            env.kill9()

            # the text: the old or the new auth map, whole, with every admin line
            got = split_map(read(auth), VALUE)
            self.assertIsNotNone(got, "kill %d: the auth map's text is not a whole map:\n%s" % (i, read(auth)))
            text_keys, admin = got
            self.assertEqual(admin, ADMIN, "kill %d: the admin's lines" % i)
            # (not assertIn: it would print 10,000 keys; the message says how they differ)
            self.assertTrue(text_keys in (keys, keys | {new}), "kill %d: the text is neither old nor new: %d keys "
                          "missing, %d more (%s)" % (i, len(keys - text_keys), len(text_keys - keys - {new}),
                                                     sorted(text_keys ^ keys)[:5]))
            text_new = new in text_keys
            # the database: the old or the new one, whole, and in step with the text
            answers = query_all(env, auth, keys | {new} | set(ADMIN_KEYS))
            for k, v in ADMIN_KEYS.items():
                self.assertEqual(answers.get(k), v, "kill %d: admin key %s" % (i, k))
            missing = [k for k in keys if answers.get(k) != VALUE]
            self.assertEqual(missing[:5], [], "kill %d: the database lost keys" % i)
            db_new = new in answers
            self.assertFalse(db_new and not text_new, "kill %d: new database beside the old text" % i)
            phase = ("old" if not text_new else "new") + " text, " + ("new" if db_new else "old") + " database"
            phases[phase] = phases.get(phase, 0) + 1
            leftovers = temp_entries(env.dir, base)
            left += bool(leftovers)
            # keep the kills on the write as its time drifts (load, a sanitizer
            # build): earlier after a kill past its end, later after one before its start
            if text_new and db_new:
                window = (window[0] * 0.9, window[1] * 0.9)
            elif not text_new and not leftovers:
                window = (window[0] * 1.1, window[1] * 1.1)

            # restart: the state loads, every ban is back in both maps, the
            # pair agrees, and what the kill left is removed
            env.start(timeout=120)
            # READY follows the access map's first write; the auth map's follows it
            access_keys = (split_map(env.read_map(), "REJECT") or [set()])[0]
            self.assertTrue(keys <= access_keys, "kill %d: bans lost from the access map at restart" % i)
            wait_until(lambda: auth_keys() == access_keys, timeout=30,
                       what="kill %d: the auth map in step with the access map after the restart" % i)
            wait_until(lambda: not any(os.path.exists(os.path.join(env.dir, e)) for e in leftovers), timeout=30,
                       what="kill %d: %s removed at the next start" % (i, leftovers))
            got = split_map(read(auth), VALUE)
            self.assertIsNotNone(got)
            after_keys, admin = got
            self.assertEqual(admin, ADMIN)
            self.assertTrue(keys <= after_keys, "kill %d: bans lost at restart" % i)
            if text_new or db_new:
                self.assertIn(new, after_keys, "kill %d: a ban the auth map had was lost" % i)
            if new not in after_keys:
                lost += 1
            # the write that brings it in step may still be between its text and its database
            def db_agrees():
                answers = query_all(env, auth, after_keys | set(ADMIN_KEYS))
                return all(answers.get(k) == VALUE for k in after_keys) and \
                    all(answers.get(k) == v for k, v in ADMIN_KEYS.items())
            wait_until(db_agrees, timeout=30, interval=0.05,
                       what="kill %d: the auth database in step with its text after the restart" % i)
            # the access map's own crash test checks all of it; here the ban at stake
            if new in after_keys:
                self.assertTrue(query_all(env, env.map, [new]).get(new, "").startswith("REJECT"),
                                "kill %d: %s is in the auth map but the access map does not reject it" % (i, new))
            self.assertNotIn("starting without it", env.stderr(), "kill %d: the state file did not load" % i)
            keys = after_keys
        took = time.monotonic() - t0
        env.stop()
        self.assertEqual(temp_entries(env.dir, base), [], "temporary files beside the auth map at the end")
        print("%d kills %.0f-%.0f ms after a ban at first (%.0f-%.0f ms at the end), in %.1fs (%.2fs each); auth map: %s; temporary files were "
              "left by %d kills (removed at the next start); %d bans were not yet in the state at the kill"
              % (self.KILLS, first[0] * 1000, first[1] * 1000, window[0] * 1000, window[1] * 1000, took, took / self.KILLS,
                 ", ".join("%s: %d" % kv for kv in sorted(phases.items())), left, lost))


if __name__ == "__main__":
    harness.main()
