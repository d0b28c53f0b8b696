#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet mode figures, against a real PostgreSQL cluster of the test's own
(see test/integration/test_fleet.py) and daemons on temporary folders.

    AUTOBLACKLISTD=build/daemon/autoblacklistd AUTOBLACKLISTCTL=build/daemon/autoblacklistctl \\
        test/bench/fleet.py [--trials 200] [--rate 10000] [--seconds 5] [--shared 100000]

latency: `autoblacklistctl ban` on A -> `postmap -q` on B answers REJECT,
    p50/p99 over --trials bans (B's debounce is 100 ms, as in the tests).
ingest: A bans --rate addresses a second for --seconds (from its log,
    a rule that bans at the first hit) while B and C import them: the
    time until the table and both maps hold them all, and the CPU the
    receivers spent (import and map writes), with their postmap runs.
shared: --shared bans put into the table at once (one INSERT, as a host
    of the fleet would after a long outage): B's resident memory before
    and after, its map write time with all of them; then a late daemon
    catches all of them up from the table.
"""

import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
import test_fleet  # noqa: E402

RULE = ("[bench]\nprogram = postfix*/smtpd\n"
        "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
        "max_hits = 1\nfind_time = 1d\nban_time = 1d\n")


def addr(i, base=0):
    i += base
    return "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024


def cpu(pid):
    """User + system CPU seconds of pid (and its waited-for children: postmap)."""
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(v[11]) + int(v[12]) + int(v[13]) + int(v[14])) / tick


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


class Hosts:
    def __init__(self, pg, db):
        self.pg, self.db, self.envs = pg, db, []
        pg.sql("CREATE DATABASE %s" % db)

    def host(self, name, start=True, **config):
        env = harness.Env(fleet=self.pg.conninfo(self.db), fleet_name=name, ipv6_net_hosts="0",
                          max_tracked="500000", **config)
        # postmap, timed: one line "start end" a run
        timed = os.path.join(env.dir, "timed-postmap")
        with open(timed, "w") as f:
            f.write("#!/bin/sh\ns=$(date +%%s.%%N)\n%s -c %s \"$@\"\nr=$?\necho \"$s $(date +%%s.%%N)\" >> %s/postmap.times\n"
                    "exit $r\n" % (harness.POSTMAP, env.pfdir, env.dir))
        os.chmod(timed, 0o755)
        rules = os.path.join(env.dir, "bench.rules")
        with open(rules, "w") as f:
            f.write(RULE)
        env.write_config(postmap=timed, rules=rules)
        self.envs.append(env)
        if start:
            self.start(env)
        return env

    def start(self, env, timeout=60):
        env.start(timeout=timeout)
        harness.wait_until(lambda: env.status()["fleet"].startswith("connected"), timeout=timeout,
                           what="connected")

    def close(self):
        for e in self.envs:
            try:
                e.stop(timeout=120)
            except AssertionError:
                pass
            e.close()


def postmap_runs(env):
    try:
        with open(os.path.join(env.dir, "postmap.times")) as f:
            return [tuple(map(float, l.split())) for l in f if l.strip()]
    except FileNotFoundError:
        return []


def remote_bans(env):
    return int(re.search(r" (\d+) remote bans", env.status()["fleet changes"]).group(1))


def latency(pg, trials):
    h = Hosts(pg, "bench_latency")
    try:
        a, b = h.host("mx-a"), h.host("mx-b")
        took = []
        for i in range(trials):
            x = "198.18.%d.%d" % (i >> 8, i & 255)
            t0 = time.monotonic()
            a.ctl("ban", x, check=0)
            harness.wait_until(lambda: (b.postmap_q(x) or "").startswith("REJECT"), timeout=10, interval=0.002,
                               what="B's map")
            took.append(time.monotonic() - t0)
        print("latency: ban on A -> postmap -q REJECT on B, %d bans: p50 %.0f ms, p99 %.0f ms, max %.0f ms"
              % (trials, pct(took, 50) * 1000, pct(took, 99) * 1000, max(took) * 1000))
    finally:
        h.close()


def ingest(pg, rate, seconds):
    h = Hosts(pg, "bench_ingest")
    n = rate * seconds
    try:
        a = h.host("mx-a", debounce="250ms")
        b, c = h.host("mx-b", debounce="250ms"), h.host("mx-c", debounce="250ms")
        open(a.log, "a").close()
        time.sleep(0.5)
        cpu0 = {e.config["fleet_name"]: cpu(e.proc.pid) for e in (a, b, c)}
        runs0 = {e.config["fleet_name"]: len(postmap_runs(e)) for e in (b, c)}
        stamp = harness.stamp()
        t0 = time.monotonic()
        step = rate // 10
        for k in range(seconds * 10):
            with open(a.log, "a") as f:
                f.write("".join("%s mx postfix/smtpd[1]: warning: unknown[%s]: SASL LOGIN authentication failed: x\n"
                                % (stamp, addr(i)) for i in range(k * step, (k + 1) * step)))
            delay = t0 + (k + 1) / 10 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        wrote = time.monotonic() - t0
        banned = in_table = None
        while in_table is None:
            now = time.monotonic() - t0
            if banned is None and int(a.status()["bans"].split()[0]) >= n:
                banned = now
            if int(pg.sql("SELECT count(*) FROM bans", "bench_ingest")) >= n:
                in_table = now
            if now > 600:
                raise AssertionError("not in the table")
            time.sleep(0.05)
        if banned is None:
            banned = in_table
        harness.wait_until(lambda: remote_bans(b) >= n and remote_bans(c) >= n, timeout=600, interval=0.2,
                           what="both receivers")
        for e in (b, c):
            harness.wait_until(lambda: (e.postmap_q(addr(n - 1)) or "").startswith("REJECT"), timeout=600,
                               interval=0.1, what="the last ban in the map")
        in_maps = time.monotonic() - t0
        print("ingest: %d log lines written to A in %.1f s (%d/s, each a ban); A had banned them all after %.1f s, "
              "all in the table after %.1f s (%.0f rows/s), in both receivers' maps after %.1f s"
              % (n, wrote, rate, banned, in_table, n / in_table, in_maps))
        for e in (a, b, c):
            name = e.config["fleet_name"]
            used = cpu(e.proc.pid) - cpu0[name]
            line = "  %s: %.2f CPU s (%.0f us per ban)" % (name, used, used / n * 1e6)
            if e is not a:
                runs = postmap_runs(e)[runs0[name]:]
                d = [y - x for x, y in runs]
                line += ", %d map writes, postmap %.0f ms median, %.0f ms the largest" % (
                    len(runs), pct(d, 50) * 1000 if d else 0, max(d) * 1000 if d else 0)
            print(line)
        st = a.status()
        print("  A: %s" % st["fleet changes"])
    finally:
        h.close()


def shared(pg, n):
    h = Hosts(pg, "bench_shared")
    try:
        b = h.host("mx-b", debounce="250ms")
        time.sleep(0.5)
        before = rss(b.proc.pid)
        runs0 = len(postmap_runs(b))
        cpu0 = cpu(b.proc.pid)
        t0 = time.monotonic()
        pg.sql("INSERT INTO bans (network, rule, origin, expires_at) SELECT ('10.0.0.0'::inet + i)::cidr, "
               "'bench', 'mx-sql', now() + interval '1 day' FROM generate_series(1, %d) i" % n, "bench_shared")
        inserted = time.monotonic() - t0
        harness.wait_until(lambda: (b.postmap_q(addr(n)) or "").startswith("REJECT"), timeout=600, interval=0.2,
                           what="the map with all of them")
        harness.wait_until(lambda: remote_bans(b) >= n, timeout=60, what="all imported")
        took = time.monotonic() - t0
        time.sleep(1)
        after = rss(b.proc.pid)
        runs = postmap_runs(b)[runs0:]
        last = runs[-1][1] - runs[-1][0] if runs else 0
        print("shared: %d bans inserted into the table in %.1f s; B has them all in its map %.1f s after the "
              "INSERT began (%.2f CPU s), %d map writes, the last (all %d) postmap %.0f ms; B's RSS %.1f -> %.1f MB "
              "(%.0f bytes per remote ban)" % (n, inserted, took, cpu(b.proc.pid) - cpu0, len(runs), n, last * 1000,
                                              before / 1e6, after / 1e6, (after - before) / n))
        # a full rewrite with all of them: one more ban
        t0 = time.monotonic()
        b.ctl("ban", "198.18.0.1", check=0)
        harness.wait_until(lambda: (b.postmap_q("198.18.0.1") or "").startswith("REJECT"), timeout=120,
                           interval=0.05, what="one more ban")
        print("  one more ban with %d in the map: in the map after %.0f ms" % (n, (time.monotonic() - t0) * 1000))
        # a late host catches up all of them
        c = h.host("mx-late", debounce="250ms", start=False)
        t0 = time.monotonic()
        h.start(c, timeout=300)
        harness.wait_until(lambda: (c.postmap_q(addr(n)) or "").startswith("REJECT"), timeout=600, interval=0.2,
                           what="the late host's map")
        took = time.monotonic() - t0
        print("  a late daemon: started, caught up %d bans and wrote its map in %.1f s; RSS %.1f MB; %s"
              % (remote_bans(c), took, rss(c.proc.pid) / 1e6, c.status()["fleet changes"]))
    finally:
        h.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--rate", type=int, default=10000)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--shared", type=int, default=100000)
    p.add_argument("--only", choices=["latency", "ingest", "shared"])
    args = p.parse_args()
    if not harness.DAEMON:
        harness.DAEMON = os.path.abspath("build/daemon/autoblacklistd")
    if not harness.CTL:
        harness.CTL = os.path.abspath("build/daemon/autoblacklistctl")
    harness.require_postmap()
    if not test_fleet.pg_bin():
        harness.skip("PostgreSQL (Debian's postgresql package) is not installed")
    pg = test_fleet.Postgres()
    try:
        if args.only in (None, "latency"):
            latency(pg, args.trials)
        if args.only in (None, "ingest"):
            ingest(pg, args.rate, args.seconds)
        if args.only in (None, "shared"):
            shared(pg, args.shared)
    finally:
        pg.close()


if __name__ == "__main__":
    main()
