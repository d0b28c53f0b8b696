#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a map rewrite costs, as a ratio to a bare postmap of the same file,
on the built daemon with Debian's postmap.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/rewrite.py [--bans 100000] [--trials 5]

The daemon holds --bans bans (debounce 0, no auth map, so that one write
runs at a time).  Each trial bans one more address with autoblacklistctl
and times until the map's database is replaced (its inode changes: the
rename that ends a write), then times a bare `postmap` of a copy of the
text as it is now.  The two alternate, so that both see the same load.
Prints the median of each and the median of the ratios.  A write whose
changes are few updates a copy of the database (postmap -i / -d); --full
has the admin change their part of the map before each trial, so that
every trial builds in full, as the first write after a start does.  Target (issue
15): a rewrite costs at most 1.5 x a bare postmap, at 100,000 and
1,000,000 bans.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402


def inode(path):
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bans", type=int, default=100000)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--full", action="store_true",
                   help="before each trial, change the admin's part of the map (a comment line), so that "
                        "the write must build the database in full rather than update a copy")
    p.add_argument("--stages", action="store_true",
                   help="run the daemon at log_level debug and print the stage times of each write it logs")
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    if not harness.CTL:
        harness.CTL = os.path.abspath("build/daemon/autoblacklistctl")
    harness.require_postmap()

    env = harness.Env(debounce="0ms", start_at="beginning", auth_map="", postmap_timeout="10m",
                      log_level="debug" if args.stages else None)
    benchlib.log_of_bans(env, args.bans)
    db = env.map + ".db"
    copy = os.path.join(env.dir, "bare")

    try:
        env.start(timeout=600)
        harness.wait_until(lambda: (env.read_map() or "").count(" REJECT ") >= args.bans, timeout=1200,
                           interval=0.5, what="every ban in the map")
        time.sleep(3)  # the state save that follows a batch of bans
        writes, bares, ratios = [], [], []
        for i in range(args.trials):
            if args.full:
                with open(env.map, "a") as f:
                    f.write("# the admin's edit %d\n" % i)
                time.sleep(1)
            before = inode(db)
            t0 = time.monotonic()
            env.ctl("ban", "203.0.113.%d" % (i + 1), check=0)
            while inode(db) == before:
                time.sleep(0.002)
            write = time.monotonic() - t0
            time.sleep(1)
            shutil.copyfile(env.map, copy)
            t0 = time.monotonic()
            subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + copy], check=True)
            bare = time.monotonic() - t0
            writes.append(write)
            bares.append(bare)
            ratios.append(write / bare)
            time.sleep(1)
        print("bans %d%s, %d trials: a rewrite takes %.0f ms (median), a bare postmap of the same file %.0f ms; "
              "ratio %.2f (median; trials: %s); target <= 1.5"
              % (args.bans, " (full builds)" if args.full else "", args.trials, statistics.median(writes) * 1000,
                 statistics.median(bares) * 1000,
                 statistics.median(ratios), ", ".join("%.2f" % r for r in ratios)))
        benchlib.result("map rewrite of %d bans%s / a bare postmap" % (args.bans, " (full build)" if args.full else ""),
                        "%.2f x (%.0f ms / %.0f ms)" % (statistics.median(ratios), statistics.median(writes) * 1000,
                                                        statistics.median(bares) * 1000), "<= 1.5 x")
        if args.stages:
            # the writer's own account of its last writes (the trials'): render, postmap, fsync and rename
            stages = [line.split("debug: ", 1)[-1] for line in env.stderr().splitlines()
                      if " ms: render " in line]
            print("\n".join(stages[-args.trials:]))
    finally:
        if os.environ.get("ABL_SHOW_STDERR"):
            print(env.stderr())
        env.close()


if __name__ == "__main__":
    main()
