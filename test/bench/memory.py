#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Memory of the running daemon per tracked address and per ban, from its
resident set size (VmRSS) before and after it takes in N addresses.

    AUTOBLACKLISTD=build/daemon/autoblacklistd AUTOBLACKLISTCTL=build/daemon/autoblacklistctl \\
        test/bench/memory.py [--tracked 100000 1000000] [--bans 100000]

Tracked: each address fails SASL once, under a rule that bans at 1000
hits, so it stays in the tracker.  Bans: each address is banned at its
first hit, and the map is written with all of them.  The RSS difference
is divided by N; the daemon's own account of its structures (autoblacklistctl
status, "memory:") is printed beside it.
"""

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import benchlib  # noqa: E402
import harness  # noqa: E402

RULE = ("[bench]\nprogram = postfix*/smtpd\n"
        "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
        "max_hits = %d\nfind_time = 1d\nban_time = 1d\n")


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024


def addr(i):
    return "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255) if i < (1 << 24) else \
        "2001:db8:%x:%x::1" % (i >> 16, i & 0xffff)


def run(n, max_hits):
    env = harness.Env(debounce="1s", max_tracked=str(max(n + 1000, 100)), ipv6_net_hosts="0", log_target="stderr")
    rules = os.path.join(env.dir, "bench.rules")
    with open(rules, "w") as f:
        f.write(RULE % max_hits)
    env.write_config(rules=rules)
    open(env.log, "w").close()
    try:
        env.start()
        time.sleep(0.3)
        before = rss(env.proc.pid)
        stamp = harness.stamp()
        with open(env.log, "a") as f:
            for start in range(0, n, 10000):
                f.write("".join("%s mx postfix/smtpd[1]: warning: unknown[%s]: SASL LOGIN authentication failed: x\n"
                                % (stamp, addr(i)) for i in range(start, min(n, start + 10000))))
        field = "hits"
        harness.wait_until(lambda: re.match(r"%d " % n, env.status()[field]), timeout=600, interval=0.5,
                           what="%d hits" % n)
        if max_hits == 1:
            harness.wait_until(lambda: env.postmap_q(addr(n - 1)), timeout=600, interval=0.5, what="the map")
        time.sleep(1)
        after = rss(env.proc.pid)
        st = env.status()
        env.stop(timeout=300)
        return before, after, st
    finally:
        env.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracked", type=int, nargs="*", default=[100000, 1000000])
    p.add_argument("--bans", type=int, nargs="*", default=[100000])
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    if not harness.CTL:
        harness.CTL = os.path.abspath("build/daemon/autoblacklistctl")
    harness.require_postmap()
    for n in args.tracked:
        before, after, st = run(n, 1000)
        print("tracked %8d addresses: RSS %6.1f MB -> %6.1f MB, %5.1f bytes per tracked address "
              "(daemon's account: %s; %s)" % (n, before / 1e6, after / 1e6, (after - before) / n,
                                              st["memory"], st["tracked addresses"]))
        benchlib.result("memory per tracked address (%d)" % n, "%.0f bytes" % ((after - before) / n), "-")
    for n in args.bans:
        before, after, st = run(n, 1)
        print("bans    %8d:           RSS %6.1f MB -> %6.1f MB, %5.1f bytes per ban, map written "
              "(daemon's account: %s)" % (n, before / 1e6, after / 1e6, (after - before) / n, st["memory"]))
        benchlib.result("memory per ban (%d)" % n, "%.0f bytes" % ((after - before) / n), "-")


if __name__ == "__main__":
    main()
