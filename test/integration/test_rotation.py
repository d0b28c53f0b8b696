# SPDX-License-Identifier: GPL-3.0-or-later
"""Following the log exactly, through every way it can change, and across
restarts.

Every line carries its own address and the rule bans at the first hit, so
the bans in the map must be exactly the lines written; the daemon's
counters at exit (lines read, hits, already banned) show that no line was
read twice.
"""

import gzip
import os
import re
import shutil
import signal
import time

import harness
from harness import DaemonTest, sasl_fail, wait_until

ONE_HIT_RULES = ("[one-hit]\nprogram = postfix*/smtpd\n"
                 "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
                 "max_hits = 1\nban_time = 1d\n")


class Lines:
    """Distinct addresses, one per line: 10.R.x.y for run R."""

    def __init__(self, run=1):
        self.run = run
        self.n = 0
        self.written = []

    def next(self, k=1):
        out = []
        for _ in range(k):
            self.n += 1
            addr = "10.%d.%d.%d" % (self.run, self.n // 250, self.n % 250 + 1)
            self.written.append(addr)
            out.append(sasl_fail(addr))
        return out


def block_keys(text):
    """The keys in our managed block of the map text."""
    block = text.split("# END postfix-autoblacklist")[0]
    return {line.split()[0] for line in block.splitlines() if line and not line.startswith("#")}


def counters(stderr):
    """The counters of the last 'stopped:' line, as a dict."""
    m = re.findall(r"stopped: (\d+) lines \((\d+) bytes, (\d+) cut, (\d+) rotations, (\d+) truncations\), "
                   r"(\d+) hits, (\d+) bans, (\d+) already banned", stderr)
    assert m, "no 'stopped:' line in:\n" + stderr
    keys = ("lines", "bytes", "cut", "rotations", "truncations", "hits", "bans", "already")
    return dict(zip(keys, map(int, m[-1])))


class Writer:
    """A syslog-like writer: keeps its file open (O_APPEND) until told to reopen."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "a")

    def write(self, lines):
        self.f.write("".join(line + "\n" for line in lines))
        self.f.flush()

    def reopen(self):
        self.f.close()
        self.f = open(self.path, "a")

    def close(self):
        self.f.close()


class Rotation(DaemonTest):

    def setUp(self):
        super().setUp()
        rules = os.path.join(self.env.dir, "one.rules")
        with open(rules, "w") as f:
            f.write(ONE_HIT_RULES)
        self.env.write_config(rules=rules)
        self.lines = Lines()

    def wait_all_banned(self, timeout=10):
        env = self.env
        want = set(self.lines.written)
        wait_until(lambda: want <= block_keys(env.read_map() or ""), timeout=timeout,
                   what="all %d addresses in the map" % len(want))

    def finish(self, extra_lines=0):
        """Stop; check every line was seen exactly once."""
        env = self.env
        self.wait_all_banned()
        self.assertEqual(env.stop(), 0)
        c = counters(env.stderr())
        n = len(self.lines.written)
        self.assertEqual(block_keys(env.read_map()), set(self.lines.written))
        self.assertEqual(c["hits"], n, c)
        self.assertEqual(c["bans"], n, c)
        self.assertEqual(c["already"], 0, "a line was read twice: %s" % c)
        self.assertEqual(c["lines"], n + extra_lines, c)
        # spot-check with postmap that the database agrees with the text
        for a in (self.lines.written[0], self.lines.written[-1]):
            self.assertIn("REJECT", env.postmap_q(a) or "")
        return c

    def test_rename_and_create_with_late_writes_to_the_old_file(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(5))
        os.rename(env.log, env.log + ".1")
        open(env.log, "w").close()
        w.write(self.lines.next(5))         # still to the renamed file
        time.sleep(0.2)
        w.reopen()                          # postrotate: syslog reopens
        w.write(self.lines.next(5))
        w.close()
        self.assertEqual(self.finish()["rotations"], 1)

    def test_old_file_written_after_new_file_got_data(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        os.rename(env.log, env.log + ".1")
        w2 = Writer(env.log)                # another writer already uses the new file
        w2.write(self.lines.next(3))
        time.sleep(0.5)                     # within the grace period
        w.write(self.lines.next(3))         # the old one is still written to
        time.sleep(0.1)
        w2.write(self.lines.next(3))
        w.close()
        w2.close()
        self.finish()

    def test_delaycompress(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        for _ in range(3):
            w.write(self.lines.next(4))
            # logrotate with delaycompress: .1 -> .2.gz, log -> .1, new log
            if os.path.exists(env.log + ".1"):
                with open(env.log + ".1", "rb") as src, gzip.open(env.log + ".2.gz", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.unlink(env.log + ".1")
            os.rename(env.log, env.log + ".1")
            open(env.log, "w").close()
            w.write(self.lines.next(2))     # late lines to the renamed file
            w.reopen()
            w.write(self.lines.next(2))
            time.sleep(0.3)
        w.close()
        self.assertEqual(self.finish()["rotations"], 3)

    def test_rename_then_delete_while_open(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(4))
        os.rename(env.log, env.log + ".1")
        open(env.log, "w").close()
        os.unlink(env.log + ".1")           # gone from the folder, still open
        w.write(self.lines.next(4))         # the writer has not reopened yet
        time.sleep(0.2)
        w.reopen()
        w.write(self.lines.next(4))
        w.close()
        self.finish()

    def test_copytruncate(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(6))
        wait_until(lambda: len(block_keys(env.read_map() or "")) == 6, what="the first lines")
        shutil.copyfile(env.log, env.log + ".1")
        os.truncate(env.log, 0)
        w.write(self.lines.next(3))         # O_APPEND: written at the new end
        w.close()
        self.assertEqual(self.finish()["truncations"], 1)

    def test_copytruncate_rewritten_past_our_offset_while_we_slept(self):
        """The file is truncated and grows past our old offset before we look:
        only the changed first bytes tell.  What we had not read yet is read
        from the copy."""
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        wait_until(lambda: len(block_keys(env.read_map() or "")) == 3, what="the first lines")
        env.signal(signal.SIGSTOP)
        try:
            w.write(self.lines.next(2))     # not read yet: only the copy will have them
            shutil.copyfile(env.log, env.log + ".1")
            os.truncate(env.log, 0)
            w.write(self.lines.next(20))    # more bytes than before the truncation
        finally:
            env.signal(signal.SIGCONT)
        w.close()
        c = self.finish()
        self.assertEqual(c["truncations"], 1)

    def test_delete_and_recreate(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(4))
        os.unlink(env.log)
        w.reopen()                          # creates a new file
        w.write(self.lines.next(4))
        w.close()
        self.assertEqual(self.finish()["rotations"], 1)

    def test_log_missing_at_start_then_appears(self):
        env = self.env
        env.start()                         # the folder holds no log yet
        wait_until(lambda: "does not exist (yet)" in env.stderr(), what="the warning")
        w = Writer(env.log)
        w.write(self.lines.next(5))
        w.close()
        self.finish()

    def test_symlink_repointed(self):
        env = self.env
        logs = os.path.join(env.dir, "logs")
        os.mkdir(logs)
        a, b = os.path.join(logs, "mail-a.log"), os.path.join(logs, "mail-b.log")
        open(a, "w").close()
        os.symlink(a, env.log)
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(4))
        open(b, "w").close()
        tmp = env.log + ".new"
        os.symlink(b, tmp)
        os.rename(tmp, env.log)             # atomic repoint, as ln -sfn does
        w.write(self.lines.next(2))         # still to mail-a.log
        time.sleep(0.1)
        w.reopen()                          # now mail-b.log
        w.write(self.lines.next(4))
        w.close()
        self.finish()

    def test_rotation_of_the_symlink_target(self):
        env = self.env
        logs = os.path.join(env.dir, "logs")
        os.mkdir(logs)
        target = os.path.join(logs, "mail.log")
        open(target, "w").close()
        os.symlink(target, env.log)
        w = Writer(target)
        env.start()
        w.write(self.lines.next(3))
        os.rename(target, target + ".1")    # rotation in the target's folder
        w.reopen()
        w.write(self.lines.next(3))
        w.close()
        self.finish()

    def test_long_binary_and_nul_lines_are_skipped_safely(self):
        env = self.env
        env.start()
        junk = [b"x" * 200000 + b"\n",                    # over the 64 KiB bound: cut
                b"\x00\x01\x02 binary \xff\xfe garbage\n",
                b"Nov 30 10:00:01 mx postfix/smtpd[1]: warning: unknown[10.9.9.9\x00]: SASL LOGIN authentication failed: x\n",
                # (a client name is a host name, so the odd bytes are elsewhere)
                ("Nov 30 10:00:01 mx postfix/smtpd[1]: warning: unknown[10.9.9.8]: "
                 "SASL LOGIN authentication failed: caf\xe9 \xff\xfe").encode("latin-1") + b"\n"]
        with open(env.log, "ab") as f:
            for j in junk:
                f.write(j)
            for line in self.lines.next(3):
                f.write(line.encode() + b"\n")
        self.lines.written.append("10.9.9.8")  # invalid UTF-8 around a valid client field still counts
        c = self.finish(extra_lines=len(junk) - 2)
        self.assertEqual(c["cut"], 1)
        self.assertIsNone(env.postmap_q("10.9.9.9"))


class Restart(DaemonTest):

    def setUp(self):
        super().setUp()
        rules = os.path.join(self.env.dir, "one.rules")
        with open(rules, "w") as f:
            f.write(ONE_HIT_RULES)
        self.env.write_config(rules=rules)

    def run_once(self, lines, new):
        """Start, wait for the last `new` addresses to be banned, stop; check that
        this run read exactly those lines, once; return its counters."""
        env = self.env
        env.start()
        want = set(lines.written[-new:])
        wait_until(lambda: want <= block_keys(env.read_map() or ""), timeout=10,
                   what="%d addresses in the map" % len(want))
        self.assertEqual(env.stop(), 0)
        c = counters(env.stderr())
        self.assertEqual(c["hits"], new, c)
        self.assertEqual(c["lines"], new, c)
        self.assertEqual(c["already"], 0, c)
        return c

    def test_stop_append_start(self):
        env = self.env
        lines = Lines(1)
        env.start()
        env.append(*lines.next(4))
        wait_until(lambda: len(block_keys(env.read_map() or "")) == 4, what="the first run's bans")
        self.assertEqual(env.stop(), 0)
        self.assertEqual(counters(env.stderr())["hits"], 4)
        env.append(*lines.next(3))          # written while the daemon is down
        self.run_once(lines, 3)

    def test_stop_rotate_append_start(self):
        env = self.env
        lines = Lines(2)
        env.start()
        env.append(*lines.next(4))
        wait_until(lambda: len(block_keys(env.read_map() or "")) == 4, what="the first run's bans")
        self.assertEqual(env.stop(), 0)
        env.append(*lines.next(2))          # the rest of the old file
        os.rename(env.log, env.log + ".1")
        env.append(*lines.next(3))          # the new file
        c = self.run_once(lines, 5)
        self.assertEqual(c["rotations"], 1)

    def test_stop_rotate_twice_append_start(self):
        env = self.env
        lines = Lines(3)
        env.start()
        env.append(*lines.next(2))
        wait_until(lambda: len(block_keys(env.read_map() or "")) == 2, what="the first run's bans")
        self.assertEqual(env.stop(), 0)
        env.append(*lines.next(1))          # rest of ours, which becomes .2
        os.rename(env.log, env.log + ".1")
        env.append(*lines.next(2))          # a whole file we never saw, which becomes .1
        time.sleep(0.05)
        os.rename(env.log + ".1", env.log + ".2")
        os.rename(env.log, env.log + ".1")
        time.sleep(0.05)
        env.append(*lines.next(2))          # the new file
        os.utime(env.log + ".1")
        self.run_once(lines, 5)

    def test_stop_copytruncate_append_start(self):
        env = self.env
        lines = Lines(4)
        env.start()
        env.append(*lines.next(3))
        wait_until(lambda: len(block_keys(env.read_map() or "")) == 3, what="the first run's bans")
        self.assertEqual(env.stop(), 0)
        env.append(*lines.next(2))          # unread rest: only in the copy after truncation
        shutil.copyfile(env.log, env.log + ".1")
        os.truncate(env.log, 0)
        env.append(*lines.next(2))
        c = self.run_once(lines, 4)
        self.assertEqual(c["truncations"], 1)

    def test_start_at_applies_only_without_a_saved_position(self):
        env = self.env
        lines = Lines(5)
        env.append(*lines.next(3))          # already in the log before the first start
        env.write_config(start_at="beginning")
        self.run_once(lines, 3)
        # second start: the saved position wins over start_at = beginning
        env.append(*lines.next(1))
        self.run_once(lines, 1)

    def test_start_at_end_skips_what_is_there(self):
        env = self.env
        old = Lines(6)
        env.append(*old.next(3))
        env.append("Nov 30 10:00:01 mx postfix/smtpd[1]: a partial line without its newline")
        with open(env.log, "rb+") as f:     # drop the last newline: a line being written
            f.seek(-1, os.SEEK_END)
            f.truncate()
        env.start()
        lines = Lines(7)
        env.append(" ...and its end", *lines.next(2))
        c = self.run_once_running(lines)
        self.assertEqual(c["hits"], 2)
        self.assertEqual(c["lines"], 2, "the half line at the start is not a line of ours")
        for a in old.written:
            self.assertIsNone(env.postmap_q(a))

    def run_once_running(self, lines):
        env = self.env
        want = set(lines.written)
        wait_until(lambda: want <= block_keys(env.read_map() or ""), what="the bans")
        self.assertEqual(env.stop(), 0)
        return counters(env.stderr())

    def test_damaged_state_is_set_aside(self):
        env = self.env
        with open(env.state, "w") as f:
            f.write("postfix-autoblacklist-state 1\nposition 1 2 3\n")   # truncated
        lines = Lines(8)
        env.start()
        env.append(*lines.next(2))
        self.run_once_running(lines)
        self.assertIn("damaged", env.stderr())
        aside = [n for n in os.listdir(env.dir) if n.startswith("state.damaged-")]
        self.assertEqual(len(aside), 1, os.listdir(env.dir))
        with open(env.state) as f:
            self.assertTrue(f.read().startswith("postfix-autoblacklist-state 1\n"), "a fresh state is written")


if __name__ == "__main__":
    harness.main()
