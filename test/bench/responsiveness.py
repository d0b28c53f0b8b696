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

The asking is done by a single-threaded process of its own.  On a busy
machine a wait is also the time the loop, or the asker, waits for a CPU (the
children of a write compete for the same cores), so each wait is also
printed less the time both spent runnable but not running
(/proc/PID/schedstat); for the longest wait, the loop's own time on a CPU and
its page faults (copy-on-write after a fork) are printed too, and so is the
CPU time the daemon's own process (the loop, not its children) spends per
write.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402


def loop_cpu(pid):
    """CPU seconds of the daemon's own process so far (not of its children)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The asker: a process of its own with one thread, so that its waits are not
# those of this script's threads (the harness drains the notify socket in
# one; a thread that holds the GIL and waits for a CPU stalls the others,
# unseen in their own run-queue time).  Around each `status` it reads the
# run-queue time of the daemon's loop and of itself, the loop's time on a
# CPU, and the loop's page faults (copy-on-write after a fork among them).
ASKER = r"""
import json, socket, sys, time
sock, pid, seconds, count = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
theirs = "/proc/%d/schedstat" % pid

def sched(path):
    with open(path) as f:
        w = f.read().split()
    return int(w[0]), int(w[1])

def faults():
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])

def where():
    # what the loop is doing: the system call it sleeps in (and where), or "running"
    try:
        with open("/proc/%d/syscall" % pid) as f:
            w = f.read().split()
        with open("/proc/%d/wchan" % pid) as f:
            chan = f.read().strip()
    except OSError:
        return "?"
    return "running" if w[0] == "running" else "syscall %s in %s" % (w[0], chan or "-")

out = []
end = time.monotonic() + seconds
while time.monotonic() < end or len(out) < count:
    (r0, d0), (_, c0), f0 = sched(theirs), sched("/proc/self/schedstat"), faults()
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"status\n")
    sent = time.monotonic() - t0
    s.settimeout(0.02)
    seen = {}
    first = None
    while True:
        try:
            if not s.recv(65536):
                break
            if first is None:
                first = time.monotonic() - t0
        except socket.timeout:
            w = where()  # a wait longer than 20 ms: sample the loop
            seen[w] = seen.get(w, 0) + 1
    s.close()
    t = time.monotonic() - t0
    (r1, d1), (_, c1) = sched(theirs), sched("/proc/self/schedstat")
    seen = ", ".join("%s x%d" % kv for kv in sorted(seen.items(), key=lambda kv: -kv[1]))
    out.append((t, (d1 - d0) / 1e9, (c1 - c0) / 1e9, (r1 - r0) / 1e9, faults() - f0,
                "sent after %.0f ms, first byte after %.0f ms; %s" % (sent * 1000, (first or t) * 1000, seen or "-")))
json.dump(out, sys.stdout)
"""


def asks(env, seconds, count=0):
    """Ask `status` back to back for seconds (and at least count times): a list of
    (wait, the loop's run-queue time, the asker's, the loop's CPU time, its page faults,
    where the loop was when sampled during the wait)."""
    r = subprocess.run([sys.executable, "-c", ASKER, env.socket, str(env.proc.pid), str(seconds), str(count)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("the asker failed:\n%s\nthe daemon (%s) said:\n%s"
                             % (r.stderr, "running" if env.proc.poll() is None else "exit %s" % env.proc.returncode,
                                env.stderr()[-3000:]))
    return json.loads(r.stdout)


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

    adjusted = []  # the waits less the run-queue time of the loop and of the asker
    worst_ask = [[0.0, 0.0, 0.0, 0.0, 0, ""]]  # the longest ask, as asks() gives it

    def trial(addr):
        env.ctl("ban", addr, check=0)
        got = asks(env, 1.5 + bare)
        adjusted.extend(max(0.0, a[0] - a[1] - a[2]) for a in got)
        worst_ask[0] = max(worst_ask[0], max(got))
        return [a[0] for a in got]

    try:
        env.start(timeout=600)
        harness.wait_until(lambda: (env.read_map() or "").count(" REJECT ") >= args.bans, timeout=600,
                           interval=0.5, what="every ban in the map")
        time.sleep(3)  # the state save that follows a batch of bans
        idle = [a[0] for a in asks(env, 0, 50)]
        t0 = time.monotonic()
        subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + env.map], check=True)
        bare = time.monotonic() - t0
        worst, during = [], []
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
              "median %.1f ms); in the longest the loop waited %.0f ms for a CPU, the asker %.0f ms, "
              "the loop ran %.0f ms (%d page faults), sampled every 20 ms: %s; "
              "less the CPU queueing of the loop and the asker at most %.0f ms; "
              "idle at most %.1f ms; a bare postmap takes %.0f ms; target <= 50 ms; "
              "the loop's CPU per write %.0f ms"
              % (args.bans, max(worst) * 1000, ", ".join("%.0f" % (w * 1000) for w in worst),
                 statistics.median(during) * 1000, worst_ask[0][1] * 1000, worst_ask[0][2] * 1000,
                 worst_ask[0][3] * 1000, worst_ask[0][4], worst_ask[0][5] or "-",
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
