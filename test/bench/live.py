#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The live daemon reading a whole log (start_at = beginning): lines per
second, CPU seconds and peak RSS (VmHWM), beside fail2ban-regex's peak RSS
on the same file in the same run.

    AUTOBLACKLISTD=build/daemon/autoblacklistd AUTOBLACKLISTCTL=build/daemon/autoblacklistctl \\
        test/bench/live.py [--lines 1000000] [--baseline OLD_AUTOBLACKLISTD] [--no-fail2ban]

The log is genlog.py's (the same file as throughput.py's, kept in
--workdir).  The daemon runs with the shipped rules, Debian's postmap and
a notify socket read as systemd would; the clock runs from its start until
`autoblacklistctl status` counts every line read.  --baseline runs another
build the same way first (for "no worse than before, side by side").
fail2ban-regex runs under GNU time -v, with its aggressive Postfix filter.
Target (issue 15): the daemon's peak RSS at most 1/30 of fail2ban-regex's.
Figures, not pass/fail.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402


def genlog(workdir, lines):
    """genlog.py's log of that many lines in workdir (made once): its path."""
    os.makedirs(workdir, exist_ok=True)
    log = os.path.join(workdir, "genlog-%d.log" % lines)
    if not os.path.exists(log + ".truth"):
        subprocess.run([sys.executable, os.path.join(HERE, "genlog.py"), "-n", str(lines), "-o", log,
                        "--truth", log + ".truth"], check=True)
    return log


def read_whole(daemon, log, total, timeout=600):
    """Start daemon on log (through a symlink) from its beginning; wait until it
    read `total` lines.  (seconds, own CPU s, postmap CPU s, VmHWM, RssAnon bytes)."""
    saved = harness.DAEMON
    harness.DAEMON = daemon
    env = harness.Env(prefix="bench-live-", start_at="beginning", debounce="250ms")
    os.symlink(os.path.abspath(log), env.log)   # log_file may be a symlink (logrotate's symlink scheme)
    try:
        t0 = time.monotonic()
        env.start(timeout=timeout)
        pid = env.proc.pid
        harness.wait_until(lambda: int(env.status()["lines read"].split()[0]) >= total, timeout=timeout,
                           interval=0.05, what="every line read")
        secs = time.monotonic() - t0
        own, children = benchlib.cpu(pid)
        hwm = benchlib.peak_rss(pid)
        anon = benchlib.status_field(pid, "RssAnon") * 1024
        env.stop(timeout=120)
        return secs, own, children, hwm, anon
    finally:
        env.close()
        harness.DAEMON = saved


def fail2ban_rss(log):
    """fail2ban-regex's (peak RSS bytes, wall seconds) on log, or None if not installed."""
    try:
        r = subprocess.run(["/usr/bin/time", "-v", "fail2ban-regex", log, "postfix[mode=aggressive]"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        return None
    if r.returncode != 0:
        if r.returncode == 127:
            return None
        raise SystemExit("fail2ban-regex failed: " + r.stderr[-2000:])
    return benchlib.time_v(r.stderr)


def report(label, lines, secs, own, children, hwm, anon, f2b):
    ratio = " = 1/%.0f of fail2ban-regex's" % (f2b / hwm) if f2b else ""
    label = label + " " if label else ""
    print("live daemon %s%d lines in %.2f s from its start, %.0f lines/s; CPU %.2f s (+%.2f s postmap); "
          "peak RSS %.1f MB%s; at the end %.1f MB of it anonymous (the rest is mapped libraries)"
          % (label, lines, secs, lines / secs, own, children, hwm / 1e6, ratio, anon / 1e6))
    benchlib.result("live daemon %s%d lines: lines/s, CPU" % (label, lines),
                    "%.0f lines/s, %.2f s CPU" % (lines / secs, own), "-")
    if f2b:
        benchlib.result("live daemon %s%d lines: peak RSS vs fail2ban-regex" % (label, lines),
                        "%.1f MB = 1/%.0f of %.0f MB" % (hwm / 1e6, f2b / hwm, f2b / 1e6), "<= 1/30")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=1000000)
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "abl-bench"))
    p.add_argument("--log", help="use this log instead of generating one")
    p.add_argument("--baseline", help="another autoblacklistd to measure the same way, first")
    p.add_argument("--no-fail2ban", action="store_true")
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    if not harness.CTL:
        harness.CTL = os.path.abspath("build/daemon/autoblacklistctl")
    harness.require_postmap()
    log = args.log or genlog(args.workdir, args.lines)
    with open(log, "rb") as f:
        total = sum(1 for _ in f)

    runs = []
    if args.baseline:
        runs.append(("baseline", read_whole(os.path.abspath(args.baseline), log, total)))
    runs.append(("new" if args.baseline else "", read_whole(harness.DAEMON, log, total)))
    f2b = None
    if not args.no_fail2ban:
        got = fail2ban_rss(log)
        if got:
            f2b = got[0]
            print("fail2ban-regex LOG 'postfix[mode=aggressive]' under time -v: peak RSS %.1f MB, %.1f s"
                  % (got[0] / 1e6, got[1]))
        else:
            print("fail2ban-regex: not installed (apt-get install fail2ban)")
    for label, r in runs:
        report(label or "", total, *r, f2b)
    if args.baseline:
        (_, b), (_, n) = runs
        print("live new / baseline: time %.2fx, CPU %.2fx, peak RSS %.2fx" % (n[0] / b[0], n[1] / b[1], n[3] / b[3]))


if __name__ == "__main__":
    main()
