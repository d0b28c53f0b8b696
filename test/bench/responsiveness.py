#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""How long `status` on the control socket waits while the map is written,
on the built daemon with Debian's postmap.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/responsiveness.py [--bans 100000] [--trials 5]

Each trial bans one more address (a map write with every ban follows the
debounce) and asks `status` back to back for 1.5 s.  Prints the longest and
the median wait during the writes, beside the same while idle and a bare
postmap of the same map.  Target (issue 15): at most 50 ms at 100,000 and
1,000,000 bans.  postmap runs as a child; what the loop waits for is the
synchronous part of a write.

A last trial restarts the daemon and bans once more: the first save after a
start is a full snapshot of the state file (all bans), which the other
trials do not see; its longest wait counts in the figure too.

On a busy machine a wait is also the time the loop, or this client, waits
for a CPU (the children of a write compete for the same cores), so each wait
is also printed less the time both spent runnable but not running
(/proc/PID/schedstat), and the CPU time the daemon's own process (the loop,
not its children) spends per write.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402


def loop_cpu(pid):
    """CPU seconds of the daemon's own process so far (not of its children)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_delay(path):
    """Nanoseconds the task of this schedstat file waited on a run queue."""
    try:
        with open(path) as f:
            return int(f.read().split()[1])
    except OSError:
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bans", type=int, default=100000)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--debounce", default="250ms")
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    if not harness.CTL:
        harness.CTL = os.path.abspath("build/daemon/autoblacklistctl")
    harness.require_postmap()

    env = harness.Env(debounce=args.debounce, start_at="beginning")
    benchlib.log_of_bans(env, args.bans)

    mine = "/proc/self/task/%d/schedstat" % threading.get_native_id()
    adjusted = []  # the waits less the run-queue time of the loop and of this client
    worst_ask = [0.0, 0.0, 0.0]  # the longest wait, and the run-queue time of each in it

    def ask():
        theirs = "/proc/%d/schedstat" % env.proc.pid
        d0, c0 = run_delay(theirs), run_delay(mine)
        t0 = time.monotonic()
        s = socket.socket(socket.AF_UNIX)
        s.connect(env.socket)
        s.sendall(b"status\n")
        while s.recv(65536):
            pass
        s.close()
        t = time.monotonic() - t0
        dd, cd = (run_delay(theirs) - d0) / 1e9, (run_delay(mine) - c0) / 1e9
        adjusted.append(max(0.0, t - dd - cd))
        if t > worst_ask[0]:
            worst_ask[:] = [t, dd, cd]
        return t

    def trial(addr):
        env.ctl("ban", addr, check=0)
        waits = []
        end = time.monotonic() + 1.5 + bare
        while time.monotonic() < end:
            waits.append(ask())
        return waits

    try:
        env.start(timeout=600)
        harness.wait_until(lambda: (env.read_map() or "").count(" REJECT ") >= args.bans, timeout=600,
                           interval=0.5, what="every ban in the map")
        time.sleep(3)  # the state save that follows a batch of bans
        idle = [ask() for _ in range(50)]
        t0 = time.monotonic()
        subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + env.map], check=True)
        bare = time.monotonic() - t0
        worst, during = [], []
        del adjusted[:]
        worst_ask[:] = [0.0, 0.0, 0.0]
        for i in range(args.trials):
            waits = trial("203.0.113.%d" % (i + 1))
            worst.append(max(waits))
            during += waits
            time.sleep(2.5)  # past the state save that follows
        # The loop's own CPU per write, without status requests (which cost
        # CPU too), less what the same time costs while idle.
        span = 1.5 + bare + 1
        c0 = loop_cpu(env.proc.pid)
        time.sleep(span)
        idle_cpu = loop_cpu(env.proc.pid) - c0
        c0 = loop_cpu(env.proc.pid)
        for i in range(args.trials):
            env.ctl("ban", "203.0.113.%d" % (100 + i), check=0)
            time.sleep(span)
        cpu = (loop_cpu(env.proc.pid) - c0) / args.trials - idle_cpu
        # A restart, then a ban: its save is the first one, a full snapshot.
        env.stop(timeout=600)
        env.start(timeout=600)
        time.sleep(3)
        waits = trial("203.0.113.200")
        restart = max(waits)
        worst.append(restart)
        during += waits
        print("bans %d: status waits at most %.0f ms during a write (trials: %s; the last after a restart; "
              "median %.1f ms); in the longest the loop waited %.0f ms for a CPU, this client %.0f ms; "
              "less the CPU queueing of the loop and the client at most %.0f ms; "
              "idle at most %.1f ms; a bare postmap takes %.0f ms; target <= 50 ms; "
              "the loop's CPU per write %.0f ms"
              % (args.bans, max(worst) * 1000, ", ".join("%.0f" % (w * 1000) for w in worst),
                 statistics.median(during) * 1000, worst_ask[1] * 1000, worst_ask[2] * 1000,
                 max(adjusted) * 1000, max(idle) * 1000, bare * 1000,
                 max(0, cpu) * 1000))
        benchlib.result("status wait during a write of %d bans" % args.bans,
                        "%.0f ms max (%.0f ms less CPU queueing; after a restart %.0f ms; idle %.1f ms, "
                        "bare postmap %.0f ms)" % (max(worst) * 1000, max(adjusted) * 1000, restart * 1000,
                                                   max(idle) * 1000, bare * 1000), "<= 50 ms")
        benchlib.result("the loop's CPU per write of %d bans" % args.bans, "%.0f ms" % (max(0, cpu) * 1000), "-")
    finally:
        if os.environ.get("ABL_SHOW_STDERR"):
            print(env.stderr())
        env.close()


if __name__ == "__main__":
    main()
