#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Latency from appending the line that crosses a threshold to `postmap -q`
answering REJECT, on the built daemon with Debian's postmap.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/latency.py [--trials 30] [--debounce 250ms]

Prints the median, 90th percentile and maximum.  The latency is the
debounce delay plus one postmap run plus our poll interval (5 ms).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--debounce", default="250ms")
    p.add_argument("--bans", type=int, default=0,
                   help="bans already in the map (a bigger map takes postmap longer)")
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    harness.require_postmap()

    env = harness.Env(debounce=args.debounce, ban_time="1d")
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
        print("debounce %s, %d bans in the map, %d trials: append -> postmap -q REJECT "
              "median %.0f ms, p90 %.0f ms, max %.0f ms"
              % (args.debounce, args.bans, len(times), statistics.median(times),
                 times[int(len(times) * 0.9) - 1], times[-1]))
        env.stop()
    finally:
        env.close()


if __name__ == "__main__":
    main()
