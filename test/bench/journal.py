#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the journal source, on a journald of its own.

In a private mount namespace (as the journal tests), it writes N entries
of a realistic mail log (genlog.py) into a fresh journald, then measures,
in the same run:

- `--test --journal` over those entries, against `--test FILE` over the same
  messages as a file (lines per second, and the ratio);
- the latency from the entry that crosses a threshold (sent on journald's
  native socket) to `postmap -q` answering REJECT, over --trials runs;
- the daemon's context switches while idle for --idle seconds.

    AUTOBLACKLISTD=build/daemon/autoblacklistd test/bench/journal.py [--lines N]

Needs root (for the namespace).  Figures, not pass/fail.
"""

import argparse
import re
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402
import journalns  # noqa: E402

HEADER = re.compile(r"^\S+ +\d+ \S+ \S+ ([^\[: ]+)(?:\[\d+\])?: (.*)$")


def send_lines(path, limit):
    """Each line of the log file as a journal entry of its program; returns the count."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    n = 0
    with open(path, errors="replace") as f:
        for line in f:
            # "Mon DD HH:MM:SS host tag[pid]: message"
            m = HEADER.match(line)
            if not m:
                continue
            tag, msg = m.group(1), m.group(2)
            data = "SYSLOG_IDENTIFIER=%s\nSYSLOG_FACILITY=2\nMESSAGE=%s\n" % (tag, msg)
            while True:
                try:
                    s.sendto(data.encode(), journalns.SOCKET)
                    break
                except BlockingIOError:
                    time.sleep(0.001)
                except OSError:
                    time.sleep(0.001)
            n += 1
            if n >= limit:
                break
    return n


def count_entries():
    r = subprocess.run(["journalctl", "--no-pager", "-q", "-o", "cat", "SYSLOG_FACILITY=2"],
                       capture_output=True, text=True)
    return r.stdout.count("\n")


def run_test(args, what):
    t0 = time.monotonic()
    r = subprocess.run([harness.DAEMON] + args, capture_output=True, text=True)
    secs = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (what, r.stderr))
    return secs, r.stdout.count("\n")


def ctxt_switches(pid):
    with open("/proc/%d/status" % pid) as f:
        v = dict(line.split(":", 1) for line in f if ":" in line)
    return int(v["voluntary_ctxt_switches"]) + int(v["nonvoluntary_ctxt_switches"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1000000)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--idle", type=float, default=60.0)
    a = ap.parse_args()
    journalns.enter(__file__)
    journalns.mount_private()
    # the test entries come from this process, not Postfix: trust it by name
    journald = journalns.start()
    env = harness.Env(log_source="journal", log_file=None)
    # Entries from this process carry _COMM=smtpd and _UID=0, as a real
    # smtpd's would (root): the trust check takes them.
    import ctypes
    ctypes.CDLL(None).prctl(15, ctypes.c_char_p(b"smtpd"), 0, 0, 0)
    try:
        log = os.path.join(env.dir, "bench.log")
        subprocess.run([sys.executable, os.path.join(HERE, "genlog.py"), "--lines", str(a.lines), "--output", log],
                       check=True, stdout=subprocess.DEVNULL)
        t0 = time.monotonic()
        n = send_lines(log, a.lines)
        # wait until journald has written them all
        while count_entries() < n * 0.999 and time.monotonic() - t0 < 600:
            time.sleep(1)
        print("wrote %d entries into the journal in %.1f s" % (n, time.monotonic() - t0))

        jsecs, jout = run_test(["-c", env.conf, "--test", "--journal", "--since", "1d"], "--test --journal")
        fsecs, fout = run_test(["-c", env.conf, "--test", log], "--test FILE")
        print("--test --journal: %.3f s for %d entries, %.0f entries/s, %d lines counted"
              % (jsecs, n, n / jsecs, jout))
        print("--test FILE:      %.3f s for %d lines, %.0f lines/s, %d lines counted" % (fsecs, n, n / fsecs, fout))
        print("journal / file time: %.1fx" % (jsecs / fsecs))

        # latency, entry -> postmap -q REJECT
        env.start()
        lat = []
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        for i in range(a.trials):
            addr = "198.51.100.%d" % (i + 1)
            msg = ("warning: unknown[%s]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=u" % addr)
            data = ("SYSLOG_IDENTIFIER=postfix/smtpd\nSYSLOG_FACILITY=2\nMESSAGE=%s\n" % msg).encode()
            sock.sendto(data, journalns.SOCKET)
            sock.sendto(data, journalns.SOCKET)
            time.sleep(0.3)
            t0 = time.monotonic()
            sock.sendto(data, journalns.SOCKET)
            while not env.postmap_q(addr):
                if time.monotonic() - t0 > 10:
                    sys.exit("no ban for %s" % addr)
                time.sleep(0.002)
            lat.append((time.monotonic() - t0) * 1000)
            time.sleep(0.3)
        lat.sort()
        print("latency, sending the entry that crosses the threshold -> postmap -q REJECT: "
              "p50 %.0f ms, max %.0f ms over %d (debounce %s)"
              % (statistics.median(lat), lat[-1], len(lat), env.config["debounce"]))

        # idle wake-ups
        time.sleep(1)
        c0 = ctxt_switches(env.proc.pid)
        time.sleep(a.idle)
        c1 = ctxt_switches(env.proc.pid)
        print("idle: %d context switches in %.0f s (%.1f per minute), journal source, no watchdog"
              % (c1 - c0, a.idle, (c1 - c0) * 60 / a.idle))
        env.stop()
    finally:
        env.close()
        journald.terminate()
        journald.wait()


if __name__ == "__main__":
    main()
