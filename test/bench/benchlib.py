# SPDX-License-Identifier: GPL-3.0-or-later
"""What the benchmarks share: a running process's CPU time, peak memory and
context switches from /proc, and the one line per figure that
test/bench/run-all gathers into its table.

A benchmark prints its figures for people as it likes, and beside them one
line per figure for the runner:

    RESULT<TAB>benchmark<TAB>measured<TAB>target

The runner adds the command that produced it.  Figures, not pass/fail: the
machines these run on are shared and noisy, so a benchmark never fails for
a missed target, only for a broken run.
"""

import os

TICK = os.sysconf("SC_CLK_TCK")


def result(name, measured, target):
    print("RESULT\t%s\t%s\t%s" % (name, measured, target), flush=True)


def cpu(pid):
    """(own, children) CPU seconds (user + system) of a live process; children
    counts only the children it has waited for (postmap, for the daemon)."""
    with open("/proc/%d/stat" % pid) as f:
        # the command name is in parentheses and may hold spaces
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / TICK, (cutime + cstime) / TICK


def status_field(pid, name, task=None):
    path = "/proc/%d/task/%d/status" % (pid, task) if task else "/proc/%d/status" % pid
    with open(path) as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def peak_rss(pid):
    """VmHWM, the peak resident set size, in bytes."""
    return status_field(pid, "VmHWM") * 1024


def context_switches_split(pid):
    """(voluntary, involuntary) context switches of every live thread of pid.
    A voluntary one is a sleep (one per wake-up of an idle process); an
    involuntary one a preemption while it ran (more of them on a busy machine)."""
    vol = invol = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            vol += status_field(pid, "voluntary_ctxt_switches", int(t))
            invol += status_field(pid, "nonvoluntary_ctxt_switches", int(t))
        except FileNotFoundError:
            pass  # the thread ended
    return vol, invol


def context_switches(pid):
    """Voluntary + involuntary context switches of every live thread of pid."""
    return sum(context_switches_split(pid))


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def time_v(stderr):
    """Peak RSS in bytes and wall seconds from GNU time -v's report."""
    rss = wall = None
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("Maximum resident set size (kbytes):"):
            rss = int(line.rsplit(" ", 1)[1]) * 1024
        elif line.startswith("Elapsed (wall clock) time"):
            v = line.rsplit(" ", 1)[1].split(":")
            wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(v)))
    return rss, wall


def log_of_bans(env, n):
    """env's rules: one rule that bans at the first SASL failure; its log: n of them, from n addresses."""
    import harness  # the caller has test/integration on sys.path
    env.write_one_hit_rules()
    with open(env.log, "w") as f:
        for i in range(n):
            f.write(harness.sasl_fail("10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)) + "\n")
