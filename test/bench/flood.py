#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Flood: abusive lines from many addresses appended as fast as possible to
the log the daemon follows, with the shipped rules and Debian's postmap.

    AUTOBLACKLISTD=build/daemon/autoblacklistd AUTOBLACKLISTCTL=build/daemon/autoblacklistctl \\
        test/bench/flood.py [--addresses 50000] [--debounce 250ms]

Each address sends two "Relay access denied" lines (the shipped relay-denied
rule bans at two), in blocks of 1,000 addresses whose lines are shuffled, so
bans start early and keep coming through the flood: 100,000 lines from
50,000 addresses by default.  Measured from the first byte appended: the
time until the map's text holds every ban, and until the database answers
REJECT for every one of them (`postmap -q -` for all 50,000 keys); the
number of map writes (autoblacklistctl status); the daemon's CPU seconds
(its own, and its postmap children's); its peak RSS (VmHWM); and what was
lost: an address that crossed its threshold but is not in the database.
Target (issue 15): nothing lost.  Figures, not pass/fail.
"""

import argparse
import os
import random
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402


def addr(i):
    return "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)


def answers(env, keys):
    """The keys the database answers REJECT for (one postmap -q - run)."""
    r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-q", "-", "hash:" + env.map],
                       input="".join(k + "\n" for k in keys), capture_output=True, text=True)
    return {line.split("\t", 1)[0] for line in r.stdout.splitlines() if "\tREJECT" in line}


def text_keys(env):
    text = env.read_map() or ""
    return {line.split(" ", 1)[0] for line in text.splitlines() if " REJECT " in line}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--addresses", type=int, default=50000)
    p.add_argument("--debounce", default="250ms")
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    if not harness.CTL:
        harness.CTL = os.path.abspath("build/daemon/autoblacklistctl")
    harness.require_postmap()

    n = args.addresses
    rng = random.Random(15)
    lines = []
    for start in range(0, n, 1000):
        block = [i for i in range(start, min(n, start + 1000)) for _ in (0, 1)]
        rng.shuffle(block)
        lines += [harness.relay_denied(addr(i)) + "\n" for i in block]
    want = {addr(i) for i in range(n)}

    env = harness.Env(prefix="bench-flood-", debounce=args.debounce, ban_time="1d",
                      max_tracked=str(max(200000, 2 * n)))
    try:
        open(env.log, "w").close()
        env.start()
        pid = env.proc.pid
        cpu0 = benchlib.cpu(pid)
        time.sleep(0.5)
        t0 = time.monotonic()
        with open(env.log, "a") as f:
            for i in range(0, len(lines), 10000):
                f.write("".join(lines[i:i + 10000]))
                f.flush()
        t_append = time.monotonic() - t0
        deadline = t0 + args.timeout
        while len(text_keys(env) & want) < n and time.monotonic() < deadline:
            env.read_notify()
            time.sleep(0.02)
        t_text = time.monotonic() - t0
        got = set()
        while time.monotonic() < deadline:
            got = answers(env, want)
            if got >= want:
                break
            time.sleep(0.02)
        t_db = time.monotonic() - t0
        time.sleep(1)
        st = env.status()
        own, children = (a - b for a, b in zip(benchlib.cpu(pid), cpu0))
        hwm = benchlib.peak_rss(pid)
        writes = int(re.search(r": (\d+) writes", st["map"]).group(1))
        auth = st.get("auth map", "")
        auth_writes = int(re.search(r": (\d+) writes", auth).group(1)) if auth else 0
        lines_read = int(st["lines read"].split()[0])
        lost = len(want - got)
        rc = env.stop(timeout=120)
        print("flood: %d lines from %d addresses appended in %.2f s (%.0f lines/s); debounce %s"
              % (len(lines), n, t_append, len(lines) / t_append, args.debounce))
        print("flood: every ban in the map's text after %.2f s, in the database (postmap -q) after %.2f s"
              % (t_text, t_db))
        print("flood: %d map writes (and %d of the auth map); daemon CPU %.2f s, its postmap children %.2f s; "
              "peak RSS %.1f MB; %d lines read; bans: %s" % (writes, auth_writes, own, children, hwm / 1e6,
                                                           lines_read, st["bans"].split(";")[0]))
        print("flood: lost %d of %d addresses that crossed their threshold (target 0); exit status %s"
              % (lost, n, rc))
        for a in sorted(want - got)[:5]:
            print("  lost:", a)
        label = "flood %d lines/%d addrs" % (len(lines), n)
        benchlib.result(label + ": all bans in the db", "%.2f s (text %.2f s)" % (t_db, t_text), "-")
        benchlib.result(label + ": map writes", "%d (auth map %d)" % (writes, auth_writes), "-")
        benchlib.result(label + ": CPU, peak RSS", "%.2f s (+%.2f s postmap), %.1f MB" % (own, children, hwm / 1e6),
                        "-")
        benchlib.result(label + ": lost", "%d" % lost, "0")
        return 1 if lines_read != len(lines) or rc != 0 else 0
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
