#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput and accuracy of the shipped rules, with `autoblacklistd --test`
on a realistic log, against `grep -c ''` and fail2ban-regex on the same file
in the same run.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/throughput.py [--lines 1000000]
        [--baseline OLD_AUTOBLACKLISTD] [--live]

The log comes from test/bench/genlog.py (made once and kept in --workdir),
or from --log/--truth (for instance a log of another generator).  Times are
medians of --runs runs on a warm page cache, wall clock and CPU (user +
system, which a loaded machine disturbs less); fail2ban-regex runs
once (it is slow) with its aggressive Postfix filter, if it is installed.
Accuracy compares the addresses --test prints with the ground truth: found,
missed, and wrongly flagged (addresses that should never be banned).

--baseline runs another build's --test on the same file, its runs
alternating with ours, for "no worse than before, side by side".  --live
also runs the live daemon over the same file (live.py) and puts its peak
RSS beside fail2ban-regex's, which runs under GNU time -v.  Targets (issue
15): at least 200x fail2ban-regex, within 3x of grep -c ''; the live
daemon's peak RSS at most 1/30 of fail2ban-regex's.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
import live

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
    p.add_argument("--baseline", help="another autoblacklistd whose --test runs beside ours")
    p.add_argument("--live", action="store_true", help="the live daemon on the same file too (live.py)")
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
    ours, base, grep, wc = [], [], [], []
    cpu = {"ours": [], "base": [], "grep": [], "wc": []}
    for _ in range(args.runs):  # interleaved, so that the machine's load falls on all alike
        with open(out, "w") as o:
            ours.append(timed([daemon, "-c", conf, "--test", log], stdout=o)[0])
        cpu["ours"].append(timed.cpu)
        if args.baseline:
            base.append(timed([args.baseline, "-c", conf, "--test", log], stdout=subprocess.DEVNULL)[0])
            cpu["base"].append(timed.cpu)
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
    benchlib.result("--test %d lines vs grep -c ''" % lines, "%.1fx as long (%.0f lines/s); CPU %.1fx grep, %.1fx wc -l"
                    % (t_ours / t_grep, lines / t_ours, c_ours / c_grep, c_ours / c_wc), "<= 3x")
    if args.baseline:
        t_base, c_base = statistics.median(base), statistics.median(cpu["base"])
        print("baseline %s --test: %.3f s median of %d, %.0f lines/s; new / baseline time: %.2fx, CPU %.2fx"
              % (args.baseline, t_base, args.runs, lines / t_base, t_ours / t_base, c_ours / c_base))
        print("baseline CPU: %.3f s, %.1fx grep, %.1fx wc (new: %.1fx grep, %.1fx wc)"
              % (c_base, c_base / c_grep, c_base / c_wc, c_ours / c_grep, c_ours / c_wc))
        benchlib.result("--test %d lines, new vs baseline" % lines,
                        "%.2fx the time, %.2fx the CPU (%.3f s vs %.3f s)" % (t_ours / t_base, c_ours / c_base,
                                                                            c_ours, c_base), "<= 1x")

    f2b_rss = None
    if not args.no_fail2ban:
        try:
            c0, t0 = cpu_children(), time.monotonic()
            r = subprocess.run(["/usr/bin/time", "-v", "fail2ban-regex", log, "postfix[mode=aggressive]"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            t_f2b = time.monotonic() - t0
            if r.returncode == 127:
                raise FileNotFoundError
            if r.returncode != 0:
                raise SystemExit("fail2ban-regex failed (%d): %s" % (r.returncode, r.stderr[-2000:]))
            f2b_rss = benchlib.time_v(r.stderr)[0]
            matched = [l for l in r.stdout.splitlines() if l.startswith("Lines:")]
            c_f2b = cpu_children() - c0
            print("fail2ban-regex LOG 'postfix[mode=aggressive]': %.1f s, %.0f lines/s, peak RSS %.0f MB; "
                  "autoblacklistd is %.0fx faster  (%s)" % (t_f2b, lines / t_f2b, f2b_rss / 1e6, t_f2b / t_ours,
                                                           matched[0] if matched else ""))
            print("fail2ban-regex CPU %.1f s: autoblacklistd is %.0fx faster in CPU (target: 200x)"
                  % (c_f2b, c_f2b / c_ours))
            if args.baseline:
                print("baseline against fail2ban-regex: %.0fx faster, %.0fx in CPU"
                      % (t_f2b / statistics.median(base), c_f2b / statistics.median(cpu["base"])))
            benchlib.result("--test %d lines vs fail2ban-regex" % lines, "%.0fx faster, %.0fx in CPU"
                            % (t_f2b / t_ours, c_f2b / c_ours), ">= 200x")
        except FileNotFoundError:
            print("fail2ban-regex: not installed (apt-get install fail2ban)")

    if args.live:
        live.harness.require_postmap()
        if not live.harness.CTL:
            live.harness.CTL = os.path.join(ROOT, "build", "daemon", "autoblacklistctl")
        runs = []
        if args.baseline:
            runs.append(("baseline", live.read_whole(os.path.abspath(args.baseline), log, lines)))
        runs.append(("new" if args.baseline else "", live.read_whole(daemon, log, lines)))
        for label, got in runs:
            live.report(label, lines, *got, f2b_rss)

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
