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


class OneHit(DaemonTest):
    """The one-hit rule, and a check that every line written was read once."""

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

    def wait_banned(self, n):
        wait_until(lambda: set(self.lines.written[:n]) <= block_keys(self.env.read_map() or ""),
                   what="the first %d addresses in the map" % n)

    def log_status(self):
        """What `autoblacklistctl status` says about the log, after its path."""
        return self.env.status()["log"]

    def wait_log_status(self, text, timeout=5):
        wait_until(lambda: text in self.log_status(), timeout=timeout,
                   what="status saying %r about the log (it says %r)" % (text, self.log_status()))

    def wait_notify_status(self, text, timeout=5):
        """A STATUS= datagram for systemd that contains text."""
        env = self.env

        def seen():
            env.read_notify()
            return any(line.startswith("STATUS=") and text in line
                       for m in env.messages for line in m.split("\n"))
        wait_until(seen, timeout=timeout, what="STATUS= with %r (got %r)" % (text, env.messages))


class Rotation(OneHit):

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

    def test_old_file_moved_back_is_read_on_not_again(self):
        """The path moves away, a new file appears, the old file comes back
        under the name: it is the same file (device, inode, first bytes), read
        on from where we were, not from 0."""
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(5))
        self.wait_banned(5)
        os.rename(env.log, env.log + ".x")
        w2 = Writer(env.log)
        w2.write(self.lines.next(3))
        self.wait_banned(8)
        os.rename(env.log + ".x", env.log)  # back, over the new one
        w.write(self.lines.next(3))
        w.close()
        w2.close()
        self.finish()

    def test_old_file_moved_back_after_it_was_closed(self):
        """The same, once the old file was quiet long enough to be closed: its
        position is remembered."""
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(5))
        self.wait_banned(5)
        os.rename(env.log, env.log + ".x")
        w2 = Writer(env.log)
        w2.write(self.lines.next(3))
        self.wait_banned(8)
        time.sleep(3)                       # past the grace period: .x is closed
        os.rename(env.log + ".x", env.log)
        w.write(self.lines.next(3))
        w.close()
        w2.close()
        self.finish()

    def test_two_rotations_while_the_daemon_is_busy(self):
        """A file that had the log's name only while the daemon was not
        looking (busy, here stopped) is still read: the folder's events say
        where it went."""
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        self.wait_banned(3)
        env.signal(signal.SIGSTOP)
        try:
            os.rename(env.log, env.log + ".1")
            w.reopen()                      # B, the log for a while
            w.write(self.lines.next(3))
            os.rename(env.log + ".1", env.log + ".2")
            os.rename(env.log, env.log + ".1")
            w.reopen()                      # C, the log now
            w.write(self.lines.next(3))
        finally:
            env.signal(signal.SIGCONT)
        w.close()
        self.finish()

    def test_log_deleted_and_not_recreated_is_reported(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        self.wait_banned(3)
        self.assertTrue(self.log_status().endswith("(open)"), self.log_status())
        os.unlink(env.log)
        self.wait_log_status("deleted")
        self.wait_notify_status("deleted")
        w.write(self.lines.next(2))         # the writer has not reopened: still read
        w.close()
        self.finish()

    def test_log_replaced_by_a_directory(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        self.wait_banned(3)
        w.close()
        os.unlink(env.log)
        os.mkdir(env.log)
        self.wait_log_status("not a regular file")
        for i in range(3):                  # wake-ups while it is a directory
            open(os.path.join(env.dir, "other%d" % i), "w").close()
            time.sleep(0.05)
        self.assertEqual(env.stderr().count("not a regular file"), 1, "said once per episode")
        self.assertIsNone(env.proc.poll(), "the daemon keeps running")
        os.rmdir(env.log)
        w = Writer(env.log)
        w.write(self.lines.next(3))
        w.close()
        self.wait_all_banned()
        self.assertTrue(self.log_status().endswith("(open)"), self.log_status())
        self.finish()

    def test_long_binary_and_nul_lines_are_skipped_safely(self):
        env = self.env
        env.start()
        junk = [b"x" * 200000 + b"\n",                    # over the 64 KiB bound: cut
                b"\x00\x01\x02 binary \xff\xfe garbage\n",
                # a current stamp: a ban from a stamp older than its ban_time is over and not imposed
                harness.stamp().encode() + b" mx postfix/smtpd[1]: warning: unknown[10.9.9.9\x00]: SASL LOGIN "
                b"authentication failed: x\n",
                # (a client name is a host name, so the odd bytes are elsewhere)
                (harness.stamp() + " mx postfix/smtpd[1]: warning: unknown[10.9.9.8]: "
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


NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


class Unreadable(OneHit):
    """A log that exists but cannot be read (EACCES) is not a missing one.
    The tests run as root, for whom permissions do not apply: the daemon runs
    under setpriv without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, so a
    mode-000 file is as unreadable to it as to any user."""

    def setUp(self):
        super().setUp()
        if not shutil.which("setpriv"):
            self.skipTest("setpriv (util-linux) is not installed")
        self.env.wrapper = NO_DAC

    def test_unreadable_at_start_keeps_the_position(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        self.wait_banned(3)
        self.assertEqual(env.stop(), 0)
        os.chmod(env.log, 0)
        w.write(self.lines.next(2))         # written while it cannot be read
        env.start()
        self.wait_log_status("cannot read it: Permission denied")
        self.wait_notify_status("cannot read it: Permission denied")
        self.assertNotIn("does not exist", env.stderr())
        self.assertNotIn("is gone", env.stderr())
        # stopped while it cannot be read: the position stays in the state file
        self.assertEqual(env.stop(), 0)
        self.assertEqual(counters(env.stderr())["lines"], 0)
        env.start()
        self.wait_log_status("cannot read it")
        os.chmod(env.log, 0o640)            # IN_ATTRIB in the folder
        self.wait_log_status("(open)")
        w.write(self.lines.next(1))
        w.close()
        self.wait_all_banned()
        self.assertEqual(env.stop(), 0)
        c = counters(env.stderr())
        self.assertEqual(c["lines"], 3, "only what was written after the saved position: %s" % c)
        self.assertEqual(c["already"], 0, c)

    def test_new_log_unreadable_until_chmod(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        self.wait_banned(3)
        os.rename(env.log, env.log + ".1")
        os.close(os.open(env.log, os.O_CREAT | os.O_WRONLY, 0))
        w.reopen()
        w.write(self.lines.next(3))
        self.wait_log_status("cannot read it: Permission denied")
        self.wait_notify_status("cannot read it")
        os.chmod(env.log, 0o644)
        self.wait_all_banned()
        self.wait_log_status("(open)")
        w.close()
        self.assertEqual(env.stderr().count("Permission denied"), 1, "said once, not at every wake-up")
        self.finish()

    def test_folder_above_made_unsearchable(self):
        """A permission change of a folder above the log's is not seen by
        inotify: a retry timer notices it (backing off, only while it lasts)."""
        env = self.env
        top = os.path.join(env.dir, "top")
        os.makedirs(os.path.join(top, "logs"))
        env.log = os.path.join(top, "logs", "maillog")
        env.write_config(log_file=env.log)
        os.chmod(top, 0)
        env.start()
        self.wait_log_status("Permission denied")
        self.assertIsNone(env.proc.poll(), "the daemon keeps running")
        os.chmod(top, 0o755)
        w = Writer(env.log)
        w.write(self.lines.next(3))
        w.close()
        self.wait_all_banned(timeout=10)
        self.wait_log_status("(open)")
        self.finish()

    def test_reload_looks_again_at_once(self):
        """The same, with a reload after the fix: no wait for the retry timer."""
        env = self.env
        top = os.path.join(env.dir, "top")
        os.makedirs(os.path.join(top, "logs"))
        env.log = os.path.join(top, "logs", "maillog")
        env.write_config(log_file=env.log)
        os.chmod(top, 0)
        env.start()
        self.wait_log_status("Permission denied")
        time.sleep(4)                       # the retry timer backs off past 2 s
        os.chmod(top, 0o755)
        env.ctl("reload", check=0)
        self.assertEqual(self.log_status(), env.log + " (not there yet)")
        w = Writer(env.log)
        w.write(self.lines.next(3))
        w.close()
        self.finish()


class Folder(OneHit):
    """The log's folder deleted, renamed, or missing at start."""

    def setUp(self):
        super().setUp()
        env = self.env
        self.logs = os.path.join(env.dir, "logs")
        os.mkdir(self.logs)
        env.log = os.path.join(self.logs, "maillog")
        env.write_config(log_file=env.log)

    def test_folder_deleted_and_made_again(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        self.wait_banned(3)
        w.close()
        shutil.rmtree(self.logs)
        self.wait_log_status("its folder %s does not exist" % self.logs)
        self.wait_notify_status("does not exist")
        os.mkdir(self.logs)
        w = Writer(env.log)
        w.write(self.lines.next(3))
        w.close()
        self.wait_all_banned()
        self.wait_log_status("(open)")
        self.finish()

    def test_folder_renamed_and_made_again(self):
        env = self.env
        w = Writer(env.log)
        env.start()
        w.write(self.lines.next(3))
        self.wait_banned(3)
        os.rename(self.logs, self.logs + ".old")
        w.write(self.lines.next(2))         # to the open file, now in logs.old
        self.wait_log_status("does not exist")
        os.mkdir(self.logs)
        w.reopen()
        w.write(self.lines.next(3))
        w.close()
        self.wait_all_banned()
        self.finish()

    def test_folder_missing_at_start(self):
        env = self.env
        shutil.rmtree(self.logs)
        deep = os.path.join(self.logs, "a", "b")
        env.log = os.path.join(deep, "maillog")
        env.write_config(log_file=env.log)
        env.start()                         # ready, waiting for the folder
        self.wait_log_status("does not exist")
        os.makedirs(deep)                   # the watch moves down level by level
        w = Writer(env.log)
        w.write(self.lines.next(3))
        w.close()
        self.finish()


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

    def test_state_file_of_an_older_version_resumes(self):
        """A state file written before the log sources had their own position
        string ("log PATH", "position DEV INO OFFSET HEAD_LEN HASH [skip]")
        still resumes where it stopped, and is saved in the new form."""
        env = self.env
        lines = Lines(11)
        env.start()
        env.append(*lines.next(3))
        wait_until(lambda: len(block_keys(env.read_map() or "")) == 3, what="the first run's bans")
        self.assertEqual(env.stop(), 0)
        with open(env.state) as f:
            text = f.read()
        m = re.search(r"^source file ((?:pos=\S+ )*)log=(.*)$", text, re.M)
        self.assertTrue(m and m.group(1), text)
        old = ["log " + m.group(2)]
        for p in m.group(1).split():
            w = p[len("pos="):].split(",")
            old.append("position " + " ".join(w))
        body = text[:m.start()] + "\n".join(old) + text[m.end():text.index("\nend ") + 1]
        records = len(body.splitlines()) - 1
        h = 14695981039346656037
        for b in body.encode():
            h = ((h ^ b) * 1099511628211) % (1 << 64)
        with open(env.state, "w") as f:
            f.write(body + "end %d %016x\n" % (records, h))
        self.assertFalse(os.path.exists(env.state + ".log"))
        env.append(*lines.next(2))          # written while the daemon is down
        self.run_once(lines, 2)
        self.assertNotIn("damaged", env.stderr())
        with open(env.state) as f:
            self.assertRegex(f.read(), r"\nsource file pos=\S+ log=%s\n" % re.escape(env.log))

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

    def test_restart_inside_an_over_long_line(self):
        """Stopped while dropping an over-long line: its rest is not a line."""
        env = self.env
        lines = Lines(9)
        env.start()
        env.append(*lines.next(2))
        with open(env.log, "a") as f:
            f.write("x" * 100000)           # no newline yet: still being written
        size = os.path.getsize(env.log)
        wait_until(lambda: "%d bytes, 1 cut" % size in env.status()["lines read"], what="the long line read")
        wait_until(lambda: len(block_keys(env.read_map() or "")) == 2, what="the first run's bans")
        self.assertEqual(env.stop(), 0)
        with open(env.log, "a") as f:       # its rest looks like a line of its own
            f.write(sasl_fail("10.99.0.1") + "\n")
        env.append(*lines.next(2))
        self.run_once(lines, 2)
        self.assertIsNone(env.postmap_q("10.99.0.1"))

    def test_restart_before_the_partial_line_at_the_start_ends(self):
        env = self.env
        env.append("Nov 30 10:00:01 mx postfix/smtpd[1]: a partial line without its newline")
        with open(env.log, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            f.truncate()
        env.start()                         # start_at = end: the half line is not ours
        self.assertEqual(env.stop(), 0)
        lines = Lines(10)
        env.append(" ...and its end", *lines.next(2))
        self.run_once(lines, 2)

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
