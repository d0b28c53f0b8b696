#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak test of log following: one process writes the log fast while
another rotates it every second, cycling through every rotation scheme;
the daemon must see every line exactly once.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/soak.py [--seconds 60] [--rate 5000]

The writer behaves like a syslog daemon: it keeps the log open (O_APPEND)
and reopens it only when told, a little later, as after logrotate's
postrotate signal, so lines keep going to a renamed or deleted file for a
while.  Each line carries its own address and the rule bans at one hit, so
at the end the daemon's counters say how many lines it saw: a line seen
twice shows up as "already banned", a line never seen as a missing ban.

copytruncate loses, for every reader, the lines written between logrotate's
copy and its truncate (logrotate(8) says so).  That loss is logrotate's, not
the follower's, so the rotator holds the writer's lock across copy and
truncate, as if the copy were instantaneous; lines the daemon had not read
yet when the file was truncated are still only in the copy, and it must
find them there.

--no-bans takes the map out of it (a rule that bans at the second hit: the
map stays empty unless a line is read twice), so the follower is measured
alone; without it the map grows by every line, and a loop blocked by map
writes shows up as lost lines too.  If lines are lost, it says which (the ranges missing from the map) and the
rotation before each: where to look.
"""

import argparse
import fcntl
import gzip
import itertools
import multiprocessing
import os
import random
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402

KINDS = ("rename-create", "delaycompress", "rename-delete", "copytruncate", "delete-create", "symlink")


def addr(i):
    return "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)


def writer(log, lock_path, rate, seconds, count_path, ready):
    """Append `rate` lines a second for `seconds`; reopen on SIGUSR1, a little later."""
    reopen = {"asked": 0}
    signal.signal(signal.SIGUSR1, lambda *_: reopen.__setitem__("asked", reopen["asked"] + 1))
    lock = open(lock_path, "w")
    f = open(log, "a")
    tick = 0.005
    per_tick = max(1, int(rate * tick))
    n = 0
    seen_asks = 0
    delay_ticks = -1
    rng = random.Random(7)
    ready.set()
    t0 = time.monotonic()
    timeline = ["start %d %.6f" % (0, t0)]
    next_t = t0
    while time.monotonic() - t0 < seconds:
        if reopen["asked"] != seen_asks and delay_ticks < 0:
            seen_asks = reopen["asked"]
            delay_ticks = rng.randrange(0, 40)        # up to 200 ms of late writes
        if delay_ticks == 0:
            f.close()
            f = open(log, "a")
            timeline.append("reopen %d %.6f" % (n, time.monotonic()))
        if delay_ticks >= 0:
            delay_ticks -= 1
        stamp = time.strftime("%b %e %H:%M:%S")
        batch = "".join("%s mx postfix/smtpd[4242]: warning: unknown[%s]: SASL LOGIN authentication failed: "
                        "UGFzc3dvcmQ6, sasl_username=u%d\n" % (stamp, addr(i), i)
                        for i in range(n, n + per_tick))
        fcntl.flock(lock, fcntl.LOCK_EX)
        f.write(batch)
        f.flush()
        fcntl.flock(lock, fcntl.LOCK_UN)
        n += per_tick
        next_t += tick
        pause = next_t - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    f.close()
    with open(count_path + ".timeline", "w") as c:
        c.write("\n".join(timeline) + "\n")
    with open(count_path, "w") as c:
        c.write(str(n))


def rotator(env, lock_path, writer_pid, seconds, every, stats_path):
    """Rotate the log every `every` seconds, cycling through KINDS."""
    log = env.log
    logs_dir = os.path.join(env.dir, "targets")
    os.makedirs(logs_dir, exist_ok=True)
    lock = open(lock_path, "w")
    counts = dict.fromkeys(KINDS, 0)
    seq = itertools.count(1)
    rotated = []                      # (time, path) of files to delete later
    t0 = time.monotonic()
    kinds = itertools.cycle(KINDS)
    done = []
    time.sleep(every)
    while time.monotonic() - t0 < seconds - every / 2:
        kind = next(kinds)
        k = next(seq)
        old = "%s.%d" % (log, k)
        if kind in ("rename-create", "delaycompress", "rename-delete"):
            os.rename(log, old)
            open(log, "a").close()
            os.kill(writer_pid, signal.SIGUSR1)
            if kind == "delaycompress":
                prev = "%s.%d" % (log, k - 1)
                if os.path.exists(prev):
                    time.sleep(0.3)       # let the writer move on, as logrotate runs later
                    with open(prev, "rb") as src, gzip.open(prev + ".gz", "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    os.unlink(prev)
                    rotated.append((time.monotonic(), prev + ".gz"))
            if kind == "rename-delete":
                time.sleep(0.1)           # deleted while the daemon (and the writer) still have it open
                os.unlink(old)
            else:
                rotated.append((time.monotonic(), old))
        elif kind == "copytruncate":
            with open(lock_path, "w") as lk:
                fcntl.flock(lk, fcntl.LOCK_EX)
                shutil.copyfile(log, old)
                os.truncate(log, 0)
                fcntl.flock(lk, fcntl.LOCK_UN)
            rotated.append((time.monotonic(), old))
        elif kind == "delete-create":
            os.unlink(log)
            os.kill(writer_pid, signal.SIGUSR1)   # the writer's reopen creates the new file
        elif kind == "symlink":
            target = os.path.join(logs_dir, "mail-%d.log" % k)
            open(target, "a").close()
            tmp = log + ".newlink"
            os.symlink(target, tmp)
            os.rename(tmp, log)                     # atomic repoint (or replace a regular file)
            os.kill(writer_pid, signal.SIGUSR1)
        counts[kind] += 1
        done.append("%s %.6f" % (kind, time.monotonic()))
        # rotated files older than a few seconds are no longer needed by anyone
        now = time.monotonic()
        while rotated and now - rotated[0][0] > 6:
            try:
                os.unlink(rotated.pop(0)[1])
            except FileNotFoundError:
                pass
        pause = t0 + every * (k + 1) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    lock.close()
    with open(stats_path + ".timeline", "w") as f:
        f.write("\n".join(done) + "\n")
    with open(stats_path, "w") as f:
        f.write(" ".join("%s=%d" % kv for kv in counts.items()))


def explain_losses(env, written, rate, writer_timeline, rotator_timeline):
    """Which lines are missing from the map, as ranges, each beside the
    rotation before it: where to look."""
    text = env.read_map() or ""
    seen = set()
    for line in text.splitlines():
        if line.startswith("10."):
            a, b, c = (int(x) for x in line.split(" ", 1)[0].split(".")[1:])
            seen.add(a << 16 | b << 8 | c)
    with open(writer_timeline) as f:
        start = float(f.readline().split()[2])
    with open(rotator_timeline) as f:
        rotations = [(float(t) - start, kind) for kind, t in (line.split() for line in f if line.strip())]
    ranges, i = [], 0
    while i < written:
        if i in seen:
            i += 1
            continue
        j = i
        while j < written and j not in seen:
            j += 1
        ranges.append((i, j))
        i = j
    print("soak: %d lines missing from the map, in %d ranges (at most 10 shown):" % (written - len(seen & set(range(written))),
                                                                                   len(ranges)))
    for a, b in ranges[:10]:
        t = a / rate
        before = [r for r in rotations if r[0] <= t]
        rot = ("%.2f s after rotation %d (%s at %.2f s)" % (t - before[-1][0], len(before), before[-1][1], before[-1][0])
               if before else "before the first rotation")
        print("  lines %d-%d (%d), written from about %.2f s, %s" % (a, b - 1, b - a, t, rot))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--rate", type=int, default=5000, help="lines per second")
    p.add_argument("--every", type=float, default=1.0, help="seconds between rotations")
    p.add_argument("--no-bans", action="store_true",
                   help="a rule that bans at the second hit: the map stays empty unless a line is read twice, "
                        "so map writes do not load the daemon (the follower alone)")
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    harness.require_postmap()

    env = harness.Env(debounce="1s", ban_time="1d", rules=None,
                      max_tracked=str(int(args.rate * args.seconds * 1.2) + 1000))
    rules = os.path.join(env.dir, "one.rules")
    with open(rules, "w") as f:
        f.write("[one-hit]\nprogram = postfix*/smtpd\n"
                "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
                "max_hits = %d\nfind_time = 1d\n" % (2 if args.no_bans else 1))
    env.write_config(rules=rules)
    lock_path = os.path.join(env.dir, "writer.lock")
    count_path = os.path.join(env.dir, "written")
    stats_path = os.path.join(env.dir, "rotations")
    open(env.log, "w").close()
    try:
        env.start()
        ready = multiprocessing.Event()
        w = multiprocessing.Process(target=writer, args=(env.log, lock_path, args.rate, args.seconds,
                                                         count_path, ready))
        w.start()
        ready.wait()
        r = multiprocessing.Process(target=rotator, args=(env, lock_path, w.pid, args.seconds, args.every,
                                                          stats_path))
        t0 = time.monotonic()
        r.start()
        # Read the notify socket as systemd would: a full one blocks the daemon.
        while w.is_alive() or r.is_alive():
            env.read_notify()
            time.sleep(0.05)
        w.join()
        r.join()
        elapsed = time.monotonic() - t0
        for _ in range(60):                             # let the old files go quiet
            env.read_notify()
            time.sleep(0.05)
        rc = env.stop(timeout=120)
        with open(count_path) as f:
            written = int(f.read())
        with open(stats_path) as f:
            rotations = f.read()
        m = re.findall(r"stopped: (\d+) lines .*?, (\d+) hits, (\d+) bans, (\d+) already banned", env.stderr())
        if not m:
            print(env.stderr()[-3000:])
            raise SystemExit("the daemon did not report its counters (exit status %s)" % rc)
        lines, hits, bans, already = map(int, m[-1])
        seen = hits + already
        if args.no_bans:
            # a line read twice is a second hit (a ban), a third one "already banned"
            dup = bans + already
            lost = written - (seen - dup)
        else:
            dup = already
            lost = written - bans
        print("soak: %.0f s, %d lines written (%.0f/s), rotations: %s" % (elapsed, written, written / elapsed,
                                                                           rotations))
        print("soak: lines seen %d, lost %d, duplicated %d (daemon read %d lines, exit status %d)"
              % (seen, lost, dup, lines, rc))
        if lost > 0 and not args.no_bans:
            explain_losses(env, written, args.rate, count_path + ".timeline", stats_path + ".timeline")
        ok = lost == 0 and dup == 0 and lines == written and rc == 0
        benchlib.result("rotation soak %.0f s at %d lines/s%s: lost, duplicated"
                        % (args.seconds, args.rate, ", no bans" if args.no_bans else ""),
                        "%d, %d (%.0f lines/s written)" % (lost, dup, written / elapsed), "0, 0")
        print("soak: %s" % ("OK" if ok else "FAILED"))
        if not ok:
            sys.stderr.write(env.stderr()[-4000:])
        return 0 if ok else 1
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
