"""The state file is written by a child (service/saver.c), never on the
loop: a save that hangs does not stop the daemon from answering, the bans
it does not hold yet stay out of the map until a save holds them, a save
that fails in the child is said once and retried until it works, and what
is on disk after a SIGKILL loads with every ban the map showed.  A
control connection that a child inherited at its fork still ends when the
daemon has answered (the child's copy does not hold it open).

The hang is real: the change log is replaced by a FIFO that nobody reads,
so the child's open() blocks, as a write to a hung disk would.  Once a
reader comes, the append fails (a FIFO cannot be fdatasync'ed), and the
retry, a full snapshot, removes the FIFO and succeeds.
"""

import os
import socket
import stat
import time

import harness
from harness import DaemonTest, wait_until


def status_wait(env):
    """Seconds that one `status` on the control socket takes."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(env.socket)
    s.sendall(b"status\n")
    while s.recv(65536):
        pass
    s.close()
    return time.monotonic() - t0


class Saver(DaemonTest):

    def test_a_hung_save_leaves_the_loop_answering_and_its_ban_out_of_the_map(self):
        env = self.env
        log = env.state + ".log"
        env.start()
        env.ctl("ban", "198.51.100.1", check=0)
        wait_until(lambda: env.postmap_q("198.51.100.1"), timeout=20, what="the first ban in the map")
        wait_until(lambda: os.path.exists(env.state), timeout=10, what="the first save")
        if os.path.exists(log):
            os.unlink(log)
        os.mkfifo(log, 0o600)

        # A connection open when the save forks: the stuck child holds a copy.
        held = socket.socket(socket.AF_UNIX)
        held.settimeout(5)
        held.connect(env.socket)
        env.ctl("ban", "198.51.100.2", check=0)
        time.sleep(0.5)
        t0 = time.monotonic()
        held.sendall(b"status\n")
        while held.recv(65536):
            pass
        held.close()
        self.assertLess(time.monotonic() - t0, 1.0, "the answer's end waited for a child holding the connection")
        # The save of that ban is stuck in open(); the loop answers all along,
        # and the map (written meanwhile for the ban) holds the ban back.
        worst = 0.0
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            worst = max(worst, status_wait(env))
            time.sleep(0.02)
        self.assertLess(worst, 1.0, "status waited %.2fs while a save hung" % worst)
        self.assertIsNone(env.postmap_q("198.51.100.2"), "a ban reached the map before a save held it")
        self.assertTrue(env.postmap_q("198.51.100.1"))
        self.assertTrue(stat.S_ISFIFO(os.stat(log).st_mode))

        # A reader: the child's append goes through, its fdatasync fails.
        fd = os.open(log, os.O_RDONLY | os.O_NONBLOCK)
        try:
            wait_until(lambda: "cannot save the state" in env.stderr(), timeout=20, what="the failed save said")
        finally:
            os.close(fd)
        self.assertIn("not saved", env.status()["state"])
        # The retry writes a whole snapshot (the FIFO goes), and the ban follows.
        wait_until(lambda: env.postmap_q("198.51.100.2"), timeout=30, what="the held-back ban in the map")
        wait_until(lambda: "the state is saved again" in env.stderr(), timeout=10, what="the recovery said")
        self.assertEqual(env.stderr().count("cannot save the state"), 1, env.stderr())
        self.assertNotIn("not saved", env.status()["state"])
        self.assertFalse(os.path.exists(log) and stat.S_ISFIFO(os.stat(log).st_mode))

        # What is on disk holds both, whatever the kill interrupts.
        env.kill9()
        env.start()
        self.assertNotIn("damaged", env.stderr())
        self.assertTrue(env.postmap_q("198.51.100.1"))
        self.assertTrue(env.postmap_q("198.51.100.2"))
        self.assertIn("restored 2 bans", env.stderr())

    def test_a_stop_during_a_hung_save_saves_in_the_process(self):
        env = self.env
        log = env.state + ".log"
        env.start()
        env.ctl("ban", "198.51.100.7", check=0)
        wait_until(lambda: env.postmap_q("198.51.100.7"), timeout=20, what="the first ban in the map")
        wait_until(lambda: os.path.exists(env.state), timeout=10, what="the first save")
        if os.path.exists(log):
            os.unlink(log)
        os.mkfifo(log, 0o600)
        env.ctl("ban", "198.51.100.8", check=0)
        time.sleep(1.0)  # the child is in open() by now
        # The stop kills the stuck child and writes one whole file itself.
        self.assertEqual(env.stop(timeout=20), 0)
        self.assertFalse(os.path.exists(log), "the stop left the change log (a FIFO) behind")
        with open(env.state) as f:
            text = f.read()
        self.assertIn("ban 198.51.100.7/32 ", text)
        self.assertIn("ban 198.51.100.8/32 ", text)
        self.assertEqual([p for p in os.listdir(env.dir) if "tmp" in p], [])


if __name__ == "__main__":
    harness.main()
