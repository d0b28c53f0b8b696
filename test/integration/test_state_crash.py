"""The state file under SIGKILL: bans stream in (new offenders in the
log, each banned at its first hit, and bans by hand, which no re-read
of the log could bring back) while the daemon is
killed at random moments, at least 100 times (ABL_STATE_KILLS).  The
saves under way at a kill are appends to the change log (each batch of
bans before the map shows it), or the full snapshot a start writes.
After each kill: the state loads (no "damaged", no "starting without
it"), and every ban that the map held at the kill is in the map again
after the restart.
"""

import os
import random
import threading
import time

import harness
from harness import DaemonTest, sasl_fail, wait_until

BEGIN = "# BEGIN postfix-autoblacklist"
END = "# END postfix-autoblacklist\n"


def block_keys(text):
    """The keys of our block, or None if the text is not a whole map."""
    if text is None or not text.startswith(BEGIN) or END not in text:
        return None
    block = text.partition(END)[0]
    return {line.split(" ", 1)[0] for line in block.splitlines()[1:] if line and not line.startswith("#")}


class StateCrashSafety(DaemonTest):

    KILLS = int(os.environ.get("ABL_STATE_KILLS", "100"))
    BANS = int(os.environ.get("ABL_STATE_BANS", "2000"))

    def test_sigkill_during_saves_loses_no_ban_the_map_had(self):
        env = self.env
        rules = os.path.join(env.dir, "one.rules")
        with open(rules, "w") as f:
            f.write("[any-sasl]\nprogram = postfix*/smtpd\n"
                    "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
                    "max_hits = 1\nban_time = 1d\n")
        env.write_config(rules=rules, start_at="beginning", debounce="0")
        # a map of some size first, so that the snapshot a start writes takes a while
        env.append(*[sasl_fail("100.64.%d.%d" % (i >> 8, i & 255)) for i in range(self.BANS)])
        env.start(timeout=60)
        wait_until(lambda: len(block_keys(env.read_map()) or ()) >= self.BANS, timeout=60, what="the first bans")

        stop = threading.Event()
        counter = [0]

        def offenders():
            while not stop.is_set():
                i = counter[0]
                counter[0] += 1
                env.append(sasl_fail("100.%d.%d.%d" % (96 + (i >> 16), (i >> 8) & 255, i & 255)))
                time.sleep(0.002)

        def by_hand():
            i = 0
            while not stop.is_set():
                i += 1
                env.ctl("ban", "100.%d.%d.%d" % (112 + (i >> 16), (i >> 8) & 255, i & 255))

        feeders = [threading.Thread(target=f, daemon=True) for f in (offenders, by_hand)]
        for t in feeders:
            t.start()
        rng = random.Random(int(os.environ.get("ABL_CRASH_SEED", "1")))
        logged = manual = 0
        try:
            for i in range(self.KILLS):
                time.sleep(rng.uniform(0, 0.15))
                env.kill9()
                had = block_keys(env.read_map())
                self.assertIsNotNone(had, "kill %d: the map is not whole" % i)
                log = env.state + ".log"
                if os.path.exists(log) and os.path.getsize(log) > 0:
                    logged += 1
                env.start(timeout=60)
                err = env.stderr()
                self.assertNotIn("damaged", err, "kill %d: the state was damaged" % i)
                self.assertNotIn("starting without it", err, "kill %d: the state did not load" % i)
                # the first write after a start shows the restored bans
                after = block_keys(env.read_map())
                lost = sorted(had - after)
                manual += len([k for k in had if k.startswith("100.11")])
                self.assertEqual(lost[:5], [], "kill %d: %d bans the map had are gone after the restart"
                                 % (i, len(lost)))
        finally:
            stop.set()
            for t in feeders:
                t.join()
        self.assertEqual(env.stop(), 0)
        # a clean stop leaves one whole snapshot
        self.assertFalse(os.path.exists(env.state + ".log"), "a change log after a clean stop")
        print("%d kills, %d offenders fed; the change log was in use at %d of them; %d bans by hand "
              "checked after the kills" % (self.KILLS, counter[0], logged, manual))
        self.assertGreater(manual, 0, "no ban by hand reached the map")
        self.assertGreater(logged, self.KILLS // 4, "the kills hardly ever met the change log")


if __name__ == "__main__":
    harness.main()
