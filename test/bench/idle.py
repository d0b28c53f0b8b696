#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wake-ups of an idle daemon: its context switches (voluntary and
involuntary, every thread, from /proc/PID/task/*/status) over --seconds
while nothing is written to the log, without a watchdog and with one.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/idle.py [--seconds 60] [--watchdog 10]

The daemon follows a file log (start_at = end), with the shipped rules,
its control socket and a notify socket that this script reads, as systemd
would.  The watchdog is systemd's protocol: WATCHDOG_USEC in the
environment (WatchdogSec=), and the daemon sends WATCHDOG=1 to the notify
socket; the pings received are counted beside the switches.  It first
waits --settle seconds, so the start's own timers (the first map write,
the state save, STATUS) are over.  Target (issue 15): 0 switches without a
watchdog; one per half watchdog period with one.  Figures, not pass/fail.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402


def measure(seconds, settle, watchdog):
    env = harness.Env(prefix="bench-idle-")
    try:
        open(env.log, "w").close()
        extra = {"WATCHDOG_USEC": str(int(watchdog * 1e6))} if watchdog else None
        env.start(env=extra)
        pid = env.proc.pid
        time.sleep(settle)
        env.read_notify()
        before = len(env.messages)
        c0 = benchlib.context_switches(pid)
        t0 = time.monotonic()
        time.sleep(seconds)
        c1 = benchlib.context_switches(pid)
        took = time.monotonic() - t0
        env.read_notify()
        got = env.messages[before:]
        pings = sum(1 for m in got if "WATCHDOG=1" in m.split("\n"))
        others = [m for m in got if "WATCHDOG=1" not in m.split("\n")]
        nthreads = benchlib.threads(pid)
        env.stop()
        return c1 - c0, took, pings, others, nthreads
    finally:
        env.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--settle", type=float, default=5)
    p.add_argument("--watchdog", type=float, default=10, help="WatchdogSec= in seconds")
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    harness.require_postmap()

    for wd in (0, args.watchdog):
        n, took, pings, others, nthreads = measure(args.seconds, args.settle, wd)
        target = int(args.seconds / (wd / 2)) if wd else 0
        what = "watchdog %gs" % wd if wd else "no watchdog"
        print("idle, %s: %d context switches in %.0f s (%d thread%s), %d WATCHDOG=1 received, "
              "other notify messages %d%s; target %d"
              % (what, n, took, nthreads, "" if nthreads == 1 else "s", pings, len(others),
                 (": " + "; ".join(m.replace("\n", " ")[:80] for m in others[:3])) if others else "", target))
        benchlib.result("idle %.0f s, %s: context switches" % (args.seconds, what),
                        "%d (%d pings)" % (n, pings) if wd else "%d" % n, "%d" % target)


if __name__ == "__main__":
    main()
