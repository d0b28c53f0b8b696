#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput and accuracy of the shipped rules, with `autoblacklistd --test`
on a realistic log, against `grep -c ''` and fail2ban-regex on the same file
in the same run.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/throughput.py [--lines 1000000]

The log comes from test/bench/genlog.py (made once and kept in --workdir),
or from --log/--truth (for instance a log of another generator).  Times are
medians of --runs runs on a warm page cache, wall clock and CPU (user +
system, which a loaded machine disturbs less); fail2ban-regex runs
once (it is slow) with its aggressive Postfix filter, if it is installed.
Accuracy compares the addresses --test prints with the ground truth: found,
missed, and wrongly flagged (addresses that should never be banned).
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def cpu_children():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd, stdout=subprocess.DEVNULL):
    """Wall time and the result; the CPU time of the run goes to timed.cpu."""
    c0, t0 = cpu_children(), time.monotonic()
    r = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    timed.cpu = cpu_children() - c0
    if r.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (cmd[0], r.returncode, r.stderr[-2000:]))
    return time.monotonic() - t0, r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=1000000)
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "abl-bench"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--log", help="use this log instead of generating one")
    p.add_argument("--truth", help="the ground truth of --log (addresses that should be banned)")
    p.add_argument("--no-fail2ban", action="store_true")
    args = p.parse_args()
    daemon = os.environ.get("AUTOBLACKLISTD") or os.path.join(ROOT, "build", "daemon", "autoblacklistd")
    os.makedirs(args.workdir, exist_ok=True)

    log, truth = args.log, args.truth
    if not log:
        log = os.path.join(args.workdir, "genlog-%d.log" % args.lines)
        truth = log + ".truth"
        if not os.path.exists(truth):
            subprocess.run([sys.executable, os.path.join(HERE, "genlog.py"), "-n", str(args.lines), "-o", log,
                            "--truth", truth], check=True)
    with open(log, "rb") as f:
        lines = sum(1 for _ in f)
    size = os.path.getsize(log)
    conf = os.path.join(args.workdir, "bench.conf")
    with open(conf, "w") as f:
        f.write("rules = %s\naccess_map = hash:%s/no-such-map\n" % (os.path.join(ROOT, "rules"), args.workdir))

    out = os.path.join(args.workdir, "test.out")
    ours, grep, wc = [], [], []
    cpu = {"ours": [], "grep": [], "wc": []}
    for _ in range(args.runs):  # interleaved, so that the machine's load falls on all alike
        with open(out, "w") as o:
            ours.append(timed([daemon, "-c", conf, "--test", log], stdout=o)[0])
        cpu["ours"].append(timed.cpu)
        # to a pipe, not /dev/null: GNU grep stops at the first match when output goes nowhere
        grep.append(timed(["grep", "-c", "", log], stdout=subprocess.PIPE)[0])
        cpu["grep"].append(timed.cpu)
        wc.append(timed(["wc", "-l", log], stdout=subprocess.PIPE)[0])
        cpu["wc"].append(timed.cpu)
    t_ours, t_grep = statistics.median(ours), statistics.median(grep)
    c_ours, c_grep, c_wc = (statistics.median(cpu[k]) for k in ("ours", "grep", "wc"))
    print("log: %s, %d lines, %.0f MB" % (log, lines, size / 1e6))
    print("autoblacklistd --test: %.3f s median of %d, %.0f lines/s" % (t_ours, args.runs, lines / t_ours))
    print("grep -c '':            %.3f s median of %d, %.0f lines/s (autoblacklistd takes %.1fx as long)"
          % (t_grep, args.runs, lines / t_grep, t_ours / t_grep))
    print("wc -l:                 %.3f s median of %d (autoblacklistd takes %.1fx as long)"
          % (statistics.median(wc), args.runs, t_ours / statistics.median(wc)))
    print("CPU (user+sys) medians: autoblacklistd %.3f s, grep -c '' %.3f s, wc -l %.3f s: %.1fx grep, %.1fx wc "
          "(target: within 3x)" % (c_ours, c_grep, c_wc, c_ours / c_grep, c_ours / c_wc))

    if not args.no_fail2ban:
        try:
            t_f2b, r = timed(["fail2ban-regex", log, "postfix[mode=aggressive]"], stdout=subprocess.PIPE)
            matched = [l for l in r.stdout.splitlines() if l.startswith("Lines:")]
            print("fail2ban-regex LOG 'postfix[mode=aggressive]': %.1f s, %.0f lines/s; autoblacklistd is %.0fx "
                  "faster  (%s)" % (t_f2b, lines / t_f2b, t_f2b / t_ours, matched[0] if matched else ""))
            print("fail2ban-regex CPU %.1f s: autoblacklistd is %.0fx faster in CPU (target: 200x)"
                  % (timed.cpu, timed.cpu / c_ours))
        except FileNotFoundError:
            print("fail2ban-regex: not installed (apt-get install fail2ban)")

    with open(out) as f:
        found = {l.split("\t")[1] for l in f if l.strip()}
    if truth:
        with open(truth) as f:
            want = {l.strip() for l in f if l.strip()}
        print("accuracy against %d addresses to ban: found %d, missed %d, wrongly flagged %d"
              % (len(want), len(found & want), len(want - found), len(found - want)))
        for a in sorted(found - want)[:10]:
            print("  wrongly flagged:", a)


if __name__ == "__main__":
    main()
