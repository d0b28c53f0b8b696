# SPDX-License-Identifier: GPL-3.0-or-later
"""Time from the reply to the abusive command that crossed a threshold to
the first new connection that a real smtpd rejects, on the e2e harness
(test/e2e/pfharness.py): a real Postfix with Cyrus SASL, a client guessing
passwords over IPv4 and IPv6, the built daemon writing both maps.

    AUTOBLACKLISTD=build/daemon/autoblacklistd AUTOBLACKLISTCTL=build/daemon/autoblacklistctl \\
        test/bench/e2e_latency.py --trials 20 --debounce 100ms

Prints p50 and max, to the start of the first rejected session and to its
554 reply.  Root only (network namespaces).
"""

import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import pfharness as h  # noqa: E402
import test_scenarios as ts  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--debounce", default="100ms")
    ap.add_argument("--sasl", default="cyrus", choices=("cyrus", "dovecot"))
    args = ap.parse_args()
    h.require()
    ts.DEBOUNCE_MS = int(args.debounce.rstrip("ms")) if args.debounce.endswith("ms") else 1000 * int(args.debounce)
    case = ts.CyrusScenarios if args.sasl == "cyrus" else ts.Scenarios
    runs = []
    # One lab per batch of clients (each trial bans a fresh client address).
    per_lab = (h.N_CLIENTS - 1)
    while len(runs) < args.trials:
        case.setUpClass()
        try:
            t = case("test_sasl_guessing_ipv4")
            for i in range(min(per_lab, args.trials - len(runs))):
                runs.append(t.run_scenario(ts.sasl_guessing, v6=bool(i % 2)))
        finally:
            case.latencies = []
            case.lab.close()
    start = sorted(r[0] * 1000 for r in runs)
    reply = sorted(r[1] * 1000 for r in runs)
    print("e2e time to reject (%s SASL, %d trials, debounce %s, load %.1f): to the session's start p50 %.0f ms, "
          "max %.0f ms; to its 554 reply p50 %.0f ms, max %.0f ms"
          % (args.sasl, len(runs), args.debounce, os.getloadavg()[0], statistics.median(start), start[-1],
             statistics.median(reply), reply[-1]))


if __name__ == "__main__":
    main()
