# SPDX-License-Identifier: GPL-3.0-or-later
"""Incremental map updates against real postmap: a write whose changes are
few applies them to a copy of the database (postmap -d -, postmap -i), and
the database it puts in place holds exactly what a full postmap of the
text gives; an admin's edit or postmap, and a postmap that cannot update,
make it build in full; SIGKILL during an update leaves the old or the new
pair, agreeing.
"""

import os
import random
import shutil
import subprocess
import time

import harness
from harness import DaemonTest, wait_until

ADMIN = ("# the admin's own part\n"
         "192.0.2.50 OK\n"
         "198.51.100   OK\n"
         "192.0.2.51 REJECT go away\n")
BEGIN = "# BEGIN postfix-autoblacklist"
END = "# END postfix-autoblacklist\n"


def dump(env, path):
    """Every key and value of the database of the text at path, sorted (postmap -s)."""
    r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-s", "hash:" + path], check=True,
                       capture_output=True, text=True)
    return sorted(r.stdout.splitlines())


def full_build(env):
    """The database a full postmap of the map's text as it is now gives, dumped."""
    copy = os.path.join(env.dir, "full")
    shutil.copyfile(env.map, copy)
    subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + copy], check=True)
    return dump(env, copy)


def block_keys(text):
    block = text.partition(END)[0]
    return {line.split(" ", 1)[0] for line in block.splitlines()[1:] if line and not line.startswith("#")}


class Incremental(DaemonTest):
    CONFIG = {"debounce": "0", "log_level": "debug", "auth_map": ""}

    def writes(self):
        """How the map's writes went, in order: 'rebuilt' or 'updated'."""
        out = []
        for line in self.env.stderr().splitlines():
            if ": rebuilt in " in line and self.env.map + ":" in line:
                out.append("rebuilt")
            elif ": updated (" in line and self.env.map + ":" in line:
                out.append("updated")
        return out

    def ban(self, addr):
        n = len(self.writes())
        self.assertEqual(self.env.ctl("ban", addr)[0], 0)
        wait_until(lambda: len(self.writes()) > n and (self.env.postmap_q(addr) or "").startswith("REJECT"),
                   what="the ban of " + addr)

    def preload(self, n):
        env = self.env
        env.write_map(ADMIN)
        env.write_config(start_at="beginning")
        env.write_one_hit_rules()
        env.append(*[harness.sasl_fail("10.1.%d.%d" % (i >> 8, i & 255)) for i in range(n)])
        env.start(timeout=60)
        wait_until(lambda: len(block_keys(env.read_map() or "")) == n, timeout=60, what="the preloaded bans")

    def test_updates_give_the_database_of_a_full_build(self):
        env = self.env
        self.preload(200)
        rng = random.Random(7)
        for i in range(12):
            if i % 3 == 2:
                victim = rng.choice(sorted(block_keys(env.read_map())))
                n = len(self.writes())
                self.assertEqual(env.ctl("unban", victim)[0], 0)
                wait_until(lambda: len(self.writes()) > n and env.postmap_q(victim) is None,
                           what="the unban of " + victim)
            else:
                self.ban("203.0.113.%d" % (i + 1))
            self.assertEqual(dump(env, env.map), full_build(env), "after change %d" % i)
        ws = self.writes()
        self.assertEqual(ws[0], "rebuilt", ws)  # the first write after start
        self.assertEqual(ws[-12:], ["updated"] * 12, ws)
        self.assertTrue(env.read_map().endswith(ADMIN))
        for k, v in (("192.0.2.50", "OK"), ("198.51.100", "OK"), ("192.0.2.51", "REJECT go away")):
            self.assertEqual(env.postmap_q(k), v)
        self.assertEqual([f for f in os.listdir(env.dir) if "autoblacklist-tmp" in f], [])

    def test_an_admin_edit_or_postmap_makes_the_next_write_a_full_build(self):
        env = self.env
        self.preload(100)
        self.ban("203.0.113.1")
        self.assertEqual(self.writes()[-1], "updated")
        # the admin's postmap rewrites the database in place: ours is no longer the one there
        subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + env.map], check=True)
        self.ban("203.0.113.2")
        self.assertEqual(self.writes()[-1], "rebuilt")
        self.ban("203.0.113.3")
        self.assertEqual(self.writes()[-1], "updated")
        # the admin edits their lines (and runs no postmap): the database must follow the text
        n = len(self.writes())
        with open(env.map, "a") as f:
            f.write("192.0.2.52 OK\n")
        time.sleep(0.5)
        self.ban("203.0.113.4")
        self.assertEqual(self.writes()[n:], ["rebuilt"])
        self.assertEqual(env.postmap_q("192.0.2.52"), "OK")
        self.assertEqual(dump(env, env.map), full_build(env))
        self.ban("203.0.113.5")
        self.assertEqual(self.writes()[-1], "updated")

    def test_a_postmap_that_cannot_update_falls_back_to_full_builds(self):
        env = self.env
        wrapper = os.path.join(env.dir, "no-incremental-postmap")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nfor a; do case "$a" in -i|-d) echo "no updates here" >&2; exit 1;; esac; done\n'
                    'exec %s "$@"\n' % harness.POSTMAP)
        os.chmod(wrapper, 0o755)
        env.write_config(postmap="%s -c %s" % (wrapper, env.pfdir))
        self.preload(100)
        for i in range(4):
            self.ban("203.0.113.%d" % (i + 1))
            self.assertEqual(dump(env, env.map), full_build(env))
        log = env.stderr()
        self.assertEqual(log.count("incremental updates of the database failed 3 times in a row"), 1, log)
        self.assertNotIn("map not updated", log)
        # from then on, no more attempts
        n = log.count("the incremental update of the database failed")
        self.ban("203.0.113.9")
        self.assertEqual(env.stderr().count("the incremental update of the database failed"), n)

    def test_sigkill_during_updates_leaves_a_pair_that_agrees(self):
        env = self.env
        self.preload(2000)
        took = []
        for i in range(3):
            t = time.monotonic()
            self.ban("192.0.2.%d" % (100 + i))
            took.append(time.monotonic() - t)
        window = 1.2 * max(took)
        rng = random.Random(3)
        for i in range(25):
            keys = block_keys(env.read_map())
            new = "203.0.114.%d" % (i + 1)
            env.ctl("ban", new, check=0)
            time.sleep(rng.uniform(0, window))
            env.kill9()
            text = env.read_map()
            self.assertTrue(text.startswith(BEGIN) and text.endswith(END + ADMIN), "kill %d: text:\n%s" % (i, text))
            text_keys = block_keys(text)
            self.assertIn(text_keys, (keys, keys | {new}), "kill %d" % i)
            got = dict(line.split("\t", 1) for line in dump(env, env.map))
            db_keys = {k for k, v in got.items() if v.startswith("REJECT Blocked")}
            self.assertIn(db_keys, (keys, keys | {new}), "kill %d: the database is neither old nor new" % i)
            self.assertFalse(new in db_keys and new not in text_keys, "kill %d: new database, old text" % i)
            self.assertEqual(got.get("192.0.2.50"), "OK", "kill %d" % i)
            env.start(timeout=60)
            self.assertEqual(dump(env, env.map), full_build(env), "kill %d: after the restart" % i)
            self.assertEqual([f for f in os.listdir(env.dir) if "autoblacklist-tmp" in f], [], "kill %d" % i)
            # the ban reaches the map if it was not there yet (the state had it, or a new ban brings the next write)
            self.ban("203.0.115.%d" % (i + 1))
            self.assertEqual(self.writes()[-1], "updated", "kill %d: the write after the restart's" % i)


if __name__ == "__main__":
    harness.main()
