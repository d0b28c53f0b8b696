#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Accuracy of `autoblacklistd --test LOG --replay` on a generated log with labels.

    test/bench/replay_accuracy.py --generator GEN.py [--lines 200000] [--rules rules]

GEN.py must write a log (-o), its truth (--truth: every attacker address with an
event line) and per-line labels (--labels: TSV line, event, kind, client, decoys),
with --timestamp rfc3339 and rfc3164, like gen_maillog.py.

The truth names attackers, not bans: an attacker with one failed login is not
banned by a threshold of three.  So the bans that the policy should make are
computed here, independently of the daemon's C code, from the labelled events:
each event line the generator attributes to a client (and that the rules count,
per `--test`: the rule of the line) is a hit at the line's own time; a rule bans
at max_hits hits within find_time, for ban_time, escalated for a repeat offender
(ban_time_factor, ban_time_max, ban_memory: the defaults); a banned address is
not counted until its ban ends.  IPv6 network bans are left out of both sides.

Reported: wrong (a ban of an address that is no attacker: must be 0), found
(expected bans that --replay made, must be >= 99%), and the bans that --replay
made beyond the expected ones.  The same log with RFC 3164 stamps (no year, a
year boundary) must give the same bans.

An attacker's own lines that the generator does not label as events but the
rules count (the "disconnect ... auth=0/1" of a failed login, counted by
auth-failed-session) are hits too: they are the same attacker's, not a decoy.
"""

import argparse
import collections
import datetime
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FACTOR, MAX_S, MEMORY_S = 2.0, 7 * 86400, 7 * 86400
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(v):
    v = v.strip()
    if v in ("0", "forever"):
        return 0
    return sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", v))


def load_rules(path):
    """{rule: (max_hits, find_time_s, ban_time_s)} from the rule files (defaults 5, 10m, 1h)."""
    files = [os.path.join(path, f) for f in sorted(os.listdir(path)) if f.endswith(".rules")] \
        if os.path.isdir(path) else [path]
    rules, cur = {}, None
    for fn in files:
        for line in open(fn):
            line = line.strip()
            m = re.match(r"^\[(.+)\]$", line)
            if m:
                cur = rules.setdefault(m.group(1), {"max_hits": "5", "find_time": "10m", "ban_time": "1h"})
            elif cur is not None and "=" in line and not line.startswith("#"):
                k, v = (x.strip() for x in line.split("=", 1))
                if k in cur:
                    cur[k] = v
    return {n: (int(r["max_hits"]), duration(r["find_time"]), duration(r["ban_time"])) for n, r in rules.items()}


def stamp_s(line):
    t = line.split(" ", 1)[0]
    return datetime.datetime.fromisoformat(t).timestamp()


def expected_bans(hits, rules):
    """hits: [(t, addr, rule)] in log order -> set of addresses the policy bans."""
    until, record, window, banned = {}, {}, collections.defaultdict(list), set()
    for t, a, rule in hits:
        if a in until and t < until[a]:
            continue
        max_hits, find_s, ban_s = rules[rule]
        w = [h for h in window[(a, rule)] if t - h < find_s] + [t]
        window[(a, rule)] = w
        if len(w) < max_hits:
            continue
        for k in [k for k in window if k[0] == a]:
            del window[k]
        prev = record.get(a)
        count = prev[0] + 1 if prev and prev[1] + MEMORY_S >= t else 1
        length = ban_s * FACTOR ** (count - 1) if ban_s else 0
        if ban_s and ban_s <= MAX_S:
            length = min(length, MAX_S)
        until[a] = t + length if length else float("inf")
        record[a] = (count, until[a])
        banned.add(a)
    return banned


def replay(daemon, rules, log):
    r = subprocess.run([daemon, "--rules", rules, "--test", log, "--replay"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, check=True)
    bans = [l.split("\t") for l in r.stdout.splitlines() if l.startswith("BAN\t")]
    return [b for b in bans if "/" not in b[2]]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", required=True)
    p.add_argument("--lines", type=int, default=200000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rules", default=os.path.join(ROOT, "rules"))
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "abl-replay"))
    p.add_argument("--min-found", type=float, default=0.99)
    args = p.parse_args()
    daemon = os.environ.get("AUTOBLACKLISTD") or os.path.join(ROOT, "build", "daemon", "autoblacklistd")
    os.makedirs(args.workdir, exist_ok=True)
    logs = {}
    for ts in ("rfc3339", "rfc3164"):
        base = os.path.join(args.workdir, "gen-%d-%d-%s" % (args.lines, args.seed, ts))
        logs[ts] = base + ".log"
        if not os.path.exists(base + ".labels"):
            subprocess.run([sys.executable, args.generator, "-n", str(args.lines), "--seed", str(args.seed),
                            "--timestamp", ts, "-o", base + ".log", "--truth", base + ".truth",
                            "--labels", base + ".labels", "--summary", base + ".summary"], check=True)
    base = logs["rfc3339"][:-4]
    truth = {l.strip() for l in open(base + ".truth") if l.strip()}
    labels = {}
    for l in open(base + ".labels"):
        if l.startswith("#"):
            continue
        f = l.rstrip("\n").split("\t")
        if f[1] == "1":
            labels[int(f[0])] = f[3]
    rules = load_rules(args.rules)
    # the rule of each counted line, from --test; only the generator's events are hits
    r = subprocess.run([daemon, "--rules", args.rules, "--test", logs["rfc3339"]], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, check=True)
    rule_of = {}
    for l in r.stdout.splitlines():
        n, a, rule = l.split("\t")
        rule_of[int(n)] = (a, rule)
    with open(logs["rfc3339"]) as f:
        lines = f.readlines()
    hits = []
    for n, (a, rule) in sorted(rule_of.items()):
        # an event of that client, or an attacker's own session line that the generator
        # does not label (the "disconnect ... auth=0/1" of a failed login)
        if labels.get(n) == a or (n not in labels and a in truth):
            hits.append((stamp_s(lines[n - 1]), a, rule))
    want = expected_bans(hits, rules)
    bans = replay(daemon, args.rules, logs["rfc3339"])
    got = {b[2] for b in bans}
    wrong = got - truth
    found = got & want
    extra = got - want
    share = len(found) / len(want) if want else 1.0
    print("log: %s, %d lines; %d attackers in the truth, %d event lines counted by the rules"
          % (logs["rfc3339"], len(lines), len(truth), len(hits)))
    print("expected bans (policy over the labelled events): %d addresses" % len(want))
    print("--replay: %d bans of %d addresses; wrong (not attackers) %d; found %d of %d expected (%.2f%%); "
          "%d beyond the expected" % (len(bans), len(got), len(wrong), len(found), len(want), 100 * share, len(extra)))
    for a in sorted(wrong)[:10]:
        print("  wrong:", a)
    for a in sorted(want - got)[:10]:
        print("  missed:", a)
    for a in sorted(extra)[:10]:
        print("  beyond:", a)
    bans_3164 = replay(daemon, args.rules, logs["rfc3164"])
    # the same bans; their order may differ where a stamp's second decides a window's edge
    same = sorted(b[2:] for b in bans) == sorted(b[2:] for b in bans_3164)
    print("the same log with RFC 3164 stamps: %d bans, %s" % (len(bans_3164), "the same" if same else "DIFFERENT"))
    ok = not wrong and share >= args.min_found and same
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
