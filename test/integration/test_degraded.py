# SPDX-License-Identifier: GPL-3.0-or-later
"""The daemon when the disk says no: a full state folder (a size-limited
tmpfs) and a read-only map folder (a read-only bind mount), each in a mount
namespace of this test's own, with kill -9 and restarts.  What smtpd sees
is checked with postmap -q on the real map."""

import os
import subprocess
import time
import unittest

import harness
from harness import DaemonTest, sasl_fail, wait_until

PRIVATE = False  # set in main(): mounts are possible


def fill(folder):
    """Fill the file system of folder to the last byte; the filler's path."""
    path = os.path.join(folder, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return path


class Degraded(DaemonTest):

    def setUp(self):
        if not PRIVATE:
            raise unittest.SkipTest("needs root and a mount namespace of its own")
        super().setUp()
        self.mounts = []

    def tearDown(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m])
        super().tearDown()

    def mount(self, *args):
        subprocess.run(["mount"] + list(args), check=True)
        self.mounts.append(args[-1])

    def in_map(self, addr):
        return bool(self.env.postmap_q(addr))

    def test_full_state_folder_holds_new_bans_out_of_the_map(self):
        # The invariant: a ban is in the map only once the state file holds it,
        # so after kill -9 and a restart a ban is either never in the map or
        # still there.
        env = self.env
        folder = os.path.join(env.dir, "statedir")
        os.mkdir(folder)
        self.mount("-t", "tmpfs", "-o", "size=64k,mode=0700", "abl-ctl-state", folder)
        env.write_config(state_file=os.path.join(folder, "state"))
        env.start()
        env.ctl("ban", "203.0.113.50", check=0)
        wait_until(lambda: self.in_map("203.0.113.50"), what="a ban while the disk has room")

        filler = fill(folder)
        env.ctl("ban", "203.0.113.51", check=0)
        wait_until(lambda: "cannot save the state" in env.stderr(), what="the failed save")
        time.sleep(1.5)  # debounce and more: the write would have been done
        self.assertFalse(self.in_map("203.0.113.51"), "not in the map before it is in the state")
        self.assertIn("not saved", env.status()["state"])
        self.assertIn("No space left on device", env.status()["state"])
        env.kill9()
        os.unlink(filler)
        env.start()
        self.assertTrue(self.in_map("203.0.113.50"))
        self.assertFalse(self.in_map("203.0.113.51"), "never in the map: the state never had it")

        # Now the space comes back while the daemon runs: the retried save
        # lets the ban through, and a kill -9 keeps it.
        filler = fill(folder)
        env.ctl("ban", "203.0.113.52", check=0)
        time.sleep(1.0)
        self.assertFalse(self.in_map("203.0.113.52"))
        os.unlink(filler)
        wait_until(lambda: self.in_map("203.0.113.52"), timeout=10, what="the ban after the retried save")
        self.assertIn("the state is saved again", env.stderr())
        self.assertEqual(env.stderr().count("cannot save the state"), 2, "said once a failure (two runs)")
        env.kill9()
        env.start()
        self.assertTrue(self.in_map("203.0.113.52"), "still there after the restart")

    def small_state_folder(self):
        folder = os.path.join(self.env.dir, "statedir")
        os.mkdir(folder)
        self.mount("-t", "tmpfs", "-o", "size=64k,mode=0700", "abl-it-state", folder)
        return folder

    def test_network_ban_held_back_from_the_network_map_too(self):
        """The cidr: network map follows the state-before-map rule as the access map does."""
        env = self.env
        folder = self.small_state_folder()
        nets = os.path.join(env.dir, "networks.cidr")
        env.write_config(state_file=os.path.join(folder, "state"), network_map="cidr:" + nets)
        env.start()
        env.ctl("ban", "203.0.113.50", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.50"), what="a ban while the disk has room")
        fill(folder)
        env.ctl("ban", "2001:db8:77::/48", check=0)
        wait_until(lambda: "cannot save the state" in env.stderr(), what="the failed save")
        wait_until(lambda: "held back" in env.ctl("status")[1], what="the status saying bans are held back")
        time.sleep(1.0)  # a render has run with the network ban held back
        with open(nets) as f:
            self.assertNotIn("2001:db8:77::/48", f.read(), "a network ban in the cidr map before the state holds it")

    def test_saved_host_ban_stays_when_its_network_ban_is_held_back(self):
        """A host ban is left out under a network ban only if that network ban is written."""
        env = self.env
        folder = self.small_state_folder()
        env.write_config(state_file=os.path.join(folder, "state"))
        env.start()
        env.ctl("ban", "2001:db8:1:2::5", check=0)
        wait_until(lambda: env.postmap_q("2001:db8:1:2::5"), what="the host ban")
        fill(folder)
        env.ctl("ban", "2001:db8:1:2::/64", check=0)
        wait_until(lambda: "cannot save the state" in env.stderr(), what="the failed save")
        time.sleep(1.0)  # a render has run with the network ban held back
        self.assertTrue(env.postmap_q("2001:db8:1:2::5"), "a saved host ban dropped from the map")

    def test_read_only_map_folder_ready_and_banning_in_memory(self):
        env = self.env
        folder = os.path.join(env.dir, "mapdir")
        os.mkdir(folder)
        env.map = os.path.join(folder, "access")
        env.write_map("192.0.2.70 OK\n")
        subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + env.map], check=True)
        env.write_config(access_map="hash:" + env.map)
        self.mount("--bind", folder, folder)
        subprocess.run(["mount", "-o", "remount,bind,ro", folder], check=True)
        env.start(wait_ready=False)
        i = env.wait_notify("READY=1", timeout=8)
        self.assertIn("Read-only file system", env.messages[i])
        env.append(*[sasl_fail("203.0.113.53")] * 5)
        wait_until(lambda: "203.0.113.53" in env.ctl("list")[1], what="the ban in memory")
        self.assertEqual(env.postmap_q("192.0.2.70"), "OK", "the old map keeps working")
        subprocess.run(["mount", "-o", "remount,bind,rw", folder], check=True)
        wait_until(lambda: self.in_map("203.0.113.53"), timeout=40, what="the ban once the folder is writable")


def main():
    global PRIVATE
    PRIVATE = harness.private_mounts()
    harness.main()


if __name__ == "__main__":
    main()
