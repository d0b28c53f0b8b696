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
the state save, STATUS) are over.  The two daemons idle side by side, over the
same seconds.  Target (issue 15): 0 switches without a
watchdog; one per half watchdog period with one.  Figures, not pass/fail.

libev wakes every 59.743 s (MAX_BLOCKTIME in ev.c) to look for clock jumps
unless it has a timerfd for that, which libev 4.33 makes at the first
ev_periodic_start; the daemon starts its expiry periodic once at the start
for that reason (daemon_watch_clock() in daemon.c), so without a watchdog
an idle daemon sleeps in one epoll_wait (strace shows a timeout of
1500001070 ms, MAX_BLOCKTIME2).  On a busy machine a wake-up may also be
preempted (an involuntary switch).
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402


def start(watchdog):
    env = harness.Env(prefix="bench-idle-")
    open(env.log, "w").close()
    env.start(env={"WATCHDOG_USEC": str(int(watchdog * 1e6))} if watchdog else None)
    return env


def measure(seconds, settle, watchdogs):
    """Both daemons idle side by side over the same seconds (they do not wake
    each other: nothing is shared but the machine).  Per daemon: (context
    switches, seconds, WATCHDOG=1 received, other notify messages, threads)."""
    envs = []
    try:
        for wd in watchdogs:
            envs.append(start(wd))
        time.sleep(settle)
        before, c0 = [], []
        for env in envs:
            env.read_notify()
            before.append(len(env.messages))
            c0.append(benchlib.context_switches_split(env.proc.pid))
        t0 = time.monotonic()
        time.sleep(seconds)
        c1 = [benchlib.context_switches_split(env.proc.pid) for env in envs]
        took = time.monotonic() - t0
        out = []
        for env, b, a, z in zip(envs, before, c0, c1):
            env.read_notify()
            got = env.messages[b:]
            pings = sum(1 for m in got if "WATCHDOG=1" in m.split("\n"))
            others = [m for m in got if "WATCHDOG=1" not in m.split("\n")]
            out.append(((z[0] - a[0], z[1] - a[1]), took, pings, others, benchlib.threads(env.proc.pid)))
            env.stop()
        return out
    finally:
        for env in envs:
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

    for wd, (n, took, pings, others, nthreads) in zip((0, args.watchdog),
                                                      measure(args.seconds, args.settle, (0, args.watchdog))):
        target = int(args.seconds / (wd / 2)) if wd else 0
        what = "watchdog %gs" % wd if wd else "no watchdog"
        print("idle, %s: %d context switches in %.0f s (%d voluntary, %d involuntary; %d thread%s), "
              "%d WATCHDOG=1 received, other notify messages %d%s; target %d"
              % (what, sum(n), took, n[0], n[1], nthreads, "" if nthreads == 1 else "s", pings, len(others),
                 (": " + "; ".join(m.replace("\n", " ")[:80] for m in others[:3])) if others else "", target))
        benchlib.result("idle %.0f s, %s: context switches" % (args.seconds, what),
                        "%d (%d voluntary; %d pings)" % (sum(n), n[0], pings) if wd else
                        "%d (%d voluntary)" % (sum(n), n[0]), "%d" % target)


if __name__ == "__main__":
    main()
