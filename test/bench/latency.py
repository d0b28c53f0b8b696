#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Latency from appending the line that crosses a threshold to `postmap -q`
answering REJECT, on the built daemon with Debian's postmap.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/latency.py [--trials 30] [--debounce 250ms]
        [--bans N] [--baseline OLD_AUTOBLACKLISTD]

Prints the median, 99th percentile and maximum, beside the debounce and
a bare postmap of the same map in the same run (the median of 5).  The
latency is the debounce delay plus one postmap run plus our poll
interval (5 ms).  Target (issue 15): p99 <= debounce + 2 x postmap, at
0, 10,000 and 100,000 bans (200 trials each: --trials 200).  --baseline
measures another build the same way first, in the same run, for "no worse
than before, side by side".
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


def measure(args):
    """(sorted latencies in ms, bare postmap ms) of harness.DAEMON."""
    env = harness.Env(prefix="bench-latency-", debounce=args.debounce, ban_time="1d")
    try:
        env.start()
        if args.bans:
            lines = []
            for i in range(args.bans):
                a = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
                lines += [harness.sasl_fail(a)] * 3
            env.append(*lines)
            harness.wait_until(lambda: env.postmap_q("10.%d.%d.%d" % ((args.bans - 1) >> 16 & 255,
                                                                         (args.bans - 1) >> 8 & 255,
                                                                         (args.bans - 1) & 255)),
                               timeout=120, what="the preloaded bans")
        times = []
        for i in range(args.trials):
            addr = "203.0.%d.%d" % (113 + i // 250, 1 + i % 250)
            env.append(harness.sasl_fail(addr), harness.sasl_fail(addr))
            time.sleep(0.05)
            t0 = time.monotonic()
            env.append(harness.sasl_fail(addr))  # the third hit bans
            harness.wait_until(lambda: env.postmap_q(addr), timeout=10, interval=0.005,
                               what="ban of " + addr)
            times.append((time.monotonic() - t0) * 1000)
            time.sleep(0.3)  # let the writer go idle, so each trial starts the same way
        times.sort()
        # a bare postmap of a copy of the map as it is now
        copy = os.path.join(env.dir, "bare")
        shutil.copyfile(env.map, copy)
        bare = []
        for _ in range(5):
            t0 = time.monotonic()
            subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + copy], check=True)
            bare.append((time.monotonic() - t0) * 1000)
        env.stop()
        return times, statistics.median(bare)
    finally:
        env.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--debounce", default="250ms")
    p.add_argument("--bans", type=int, default=0,
                   help="bans already in the map (a bigger map takes postmap longer)")
    p.add_argument("--baseline", help="another autoblacklistd to measure the same way, first")
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    harness.require_postmap()

    daemons = [("", harness.DAEMON)]
    if args.baseline:
        daemons = [("baseline ", os.path.abspath(args.baseline)), ("new ", harness.DAEMON)]
    debounce_ms = float(args.debounce[:-2]) if args.debounce.endswith("ms") else float(args.debounce) * 1000
    p99s = []
    for label, daemon in daemons:
        harness.DAEMON = daemon
        times, bare_ms = measure(args)
        p99 = times[max(0, int(len(times) * 0.99 + 0.5) - 1)]
        p99s.append(p99)
        target = debounce_ms + 2 * bare_ms
        print("%sdebounce %s, %d bans in the map, %d trials: append -> postmap -q REJECT "
              "median %.0f ms, p99 %.0f ms, max %.0f ms; bare postmap %.0f ms; target p99 <= %.0f ms "
              "(debounce + 2 x postmap): %s"
              % (label, args.debounce, args.bans, len(times), statistics.median(times), p99, times[-1], bare_ms,
                 target, "met" if p99 <= target else "NOT met"))
        benchlib.result("%sban latency, %d bans, %d trials: p50/p99/max" % (label, args.bans, len(times)),
                        "%.0f/%.0f/%.0f ms (bare postmap %.0f ms)" % (statistics.median(times), p99, times[-1],
                                                                      bare_ms),
                        "p99 <= %.0f ms" % target)
    if args.baseline:
        print("new / baseline p99: %.2fx" % (p99s[1] / p99s[0]))


if __name__ == "__main__":
    main()
