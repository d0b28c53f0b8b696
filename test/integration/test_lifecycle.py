# SPDX-License-Identifier: GPL-3.0-or-later
"""The life of a ban: expiry, repeat offenders, persistence across kill -9,
the never-ban list, IPv6 network bans, and autoblacklistctl on the running
daemon.  Every ban is checked where smtpd sees it: postmap -q on the map.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time

import harness
from harness import DaemonTest, sasl_fail, wait_until

ONE_HIT = ("[one-hit]\nprogram = postfix*/smtpd\n"
           "pattern = ^warning: [-._A-Za-z0-9]+\\[<ADDR>\\]: SASL \\S+ authentication failed\n"
           "max_hits = 1\n")


def access_lookups(addr):
    """The keys smtpd looks up for a client address in an indexed access table:
    the address, then with its last ':part' or '.part' cut off, again and again
    (check_addr_access() in smtpd_check.c).  addr is in compressed form."""
    delim = ":" if ":" in addr else "."
    keys = []
    while True:
        if addr:
            keys.append(addr)
        if delim not in addr:
            return keys
        addr = addr.rsplit(delim, 1)[0]


def smtpd_verdict(env, addr):
    """What smtpd's check_client_access would find for this client: the value
    of the first lookup key that the map has, or None."""
    for key in access_lookups(addr):
        v = env.postmap_q(key)
        if v is not None:
            return key, v
    return None, None


class Lifecycle(DaemonTest):

    def one_hit_rules(self, ban_time=None):
        path = os.path.join(self.env.dir, "one.rules")
        with open(path, "w") as f:
            f.write(ONE_HIT + ("ban_time = %s\n" % ban_time if ban_time else ""))
        self.env.write_config(rules=path)

    def ban_now(self, addr):
        self.env.append(sasl_fail(addr))
        wait_until(lambda: self.env.postmap_q(addr), what="the ban of " + addr)

    def test_expiry_on_the_real_clock(self):
        env = self.env
        self.one_hit_rules(ban_time="2s")
        env.write_config(ban_memory="0")
        env.start()
        t0 = time.time()
        self.ban_now("203.0.113.1")
        wait_until(lambda: env.postmap_q("203.0.113.1") is None, timeout=8, what="the expiry")
        # the ban runs from the line's stamp, which has whole seconds: floor(t0)
        took = time.time() - int(t0)
        self.assertGreater(took, 1.9, "not before its time")
        st = env.status()
        self.assertIn("1 expired", st["bans"])
        self.assertIn("0 active", st["bans"])

    def test_repeat_offender_gets_a_longer_ban(self):
        env = self.env
        self.one_hit_rules(ban_time="2s")
        env.write_config(ban_time_factor="3", ban_memory="1h", ban_time_max="1h")
        env.start()
        self.ban_now("203.0.113.2")
        wait_until(lambda: env.postmap_q("203.0.113.2") is None, timeout=8, what="the first expiry")
        self.ban_now("203.0.113.2")
        _, out, _ = env.ctl("list", "--json", check=0)
        ban = [b for b in json.loads(out) if b["address"] == "203.0.113.2"][0]
        self.assertEqual(ban["bans"], 2)
        length = (time_of(ban["expires"]) - time_of(ban["banned"]))
        self.assertTrue(5 <= length <= 7, "the second ban lasts 2s x 3: %s" % length)
        self.assertIn("repeat offender", env.stderr())

    def test_ctl_ban_unban_list_status(self):
        env = self.env
        env.write_map("# mine\n192.0.2.50 OK\n")
        env.start()
        env.ctl("ban", "203.0.113.3", check=0)
        env.ctl("ban", "2001:DB8:0:0::5", "10m", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.3") and env.postmap_q("2001:db8::5"), what="both in the map")
        self.assertIn("postfix-autoblacklist", env.postmap_q("2001:db8::5"))
        _, out, _ = env.ctl("list", check=0)
        self.assertRegex(out, r"203\.0\.113\.3 +manual ")
        self.assertRegex(out, r"2001:db8::5 +manual ")
        _, out, _ = env.ctl("list", "--json", check=0)
        bans = {b["address"]: b for b in json.loads(out)}
        self.assertEqual(set(bans), {"203.0.113.3", "2001:db8::5"})
        self.assertTrue(bans["2001:db8::5"]["manual"])
        self.assertAlmostEqual(time_of(bans["2001:db8::5"]["expires"]) - time_of(bans["2001:db8::5"]["banned"]),
                               600, delta=2)
        st = env.status()
        self.assertIn("2 active", st["bans"])
        self.assertIn("2 by hand", st["bans"])
        for key in ("uptime", "lines read", "hits", "tracked addresses", "last ban", "map", "memory"):
            self.assertIn(key, st)
        self.assertRegex(st["map"], r"\d+ writes, 0 postmap failures")
        # unban: out of the map, and out of the state file
        env.ctl("unban", "203.0.113.3", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.3") is None, what="the unban")
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")
        self.assertEqual(env.stop(), 0)
        with open(env.state) as f:
            state = f.read()
        self.assertNotIn("203.0.113.3", state)
        self.assertIn("ban 2001:db8::5/128 manual 1 1 ", state)

    def test_status_memory_per_entry_only_where_it_means_something(self):
        env = self.env
        env.start()
        env.append(sasl_fail("203.0.113.91"), sasl_fail("203.0.113.92"))
        wait_until(lambda: "2 tracked addresses" in env.status()["memory"], what="2 tracked addresses")
        mem = env.status()["memory"]
        self.assertRegex(mem, r"^\d+\.\d KiB for 2 tracked addresses, \d+\.\d KiB for 0 ban records$")
        self.assertNotIn("each", mem)  # the tables' fixed part is most of it

    def test_unban_forgets_hits(self):
        env = self.env
        env.start()
        env.append(sasl_fail("203.0.113.4"), sasl_fail("203.0.113.4"))
        wait_until(lambda: "hit 203.0.113.4: rule sasl-auth-failed (2/3)" in env.stderr(), what="two hits")
        rc, _, err = env.ctl("unban", "203.0.113.4")
        self.assertEqual(rc, 1)
        self.assertIn("203.0.113.4 is not banned", err)
        env.append(sasl_fail("203.0.113.4"), sasl_fail("203.0.113.4"))
        wait_until(lambda: env.stderr().count("hit 203.0.113.4: rule sasl-auth-failed (2/3)") == 2,
                   what="counting from zero again")
        self.assertIsNone(env.postmap_q("203.0.113.4"))
        env.append(sasl_fail("203.0.113.4"))
        wait_until(lambda: env.postmap_q("203.0.113.4"), what="the ban at the third new hit")

    def test_ctl_bad_input_gets_a_clear_error_and_the_daemon_keeps_serving(self):
        env = self.env
        env.start()
        cases = [
            (("ban", "203.0.113.999"), 1, "not an IPv4 or IPv6 address"),
            (("ban", "203.0.113.5", "soon"), 1, "is not a duration"),
            (("ban", "127.0.0.1"), 1, "never banned (loopback)"),
            (("ban", "203.0.113.5/25"), 1, "host bits are set"),
            (("ban", "203.0.113.0/25"), 1, "no access(5) key can match"),
            (("unban", "nonsense"), 1, "not an IPv4 or IPv6 address"),
            (("frobnicate",), 1, "unknown command"),
            (("list", "--yaml"), 1, "unknown command"),
            (("ban",) + ("203.0.113.5",) * 16, 1, "too many words"),
            (("flush",), 64, "flush --yes"),  # EX_USAGE
        ]
        for args, rc, msg in cases:
            got_rc, _, err = env.ctl(*args)
            self.assertEqual(got_rc, rc, args)
            self.assertIn(msg, err, args)
            self.assertTrue(err.endswith("\n") and not err.endswith("\n\n"), repr(err))
        # raw protocol abuse: an over-long line, a client that hangs up midway,
        # binary junk, a server-side refusal of a bare flush
        def raw(data, read=True):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(env.socket)
            s.sendall(data)
            if not read:
                s.close()
                return ""
            out = b""
            while True:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                out += chunk
            s.close()
            return out.decode(errors="replace")
        self.assertIn("ERROR: command line too long", raw(b"status " + b"x" * 10000))
        raw(b"stat", read=False)
        self.assertIn("ERROR: the command holds control characters", raw(b"st\x01atus\n"))
        self.assertIn("ERROR: flush lifts every ban", raw(b"flush\n"))
        self.assertTrue(raw(b"status\n").startswith("OK\n"))
        self.assertEqual(env.ctl("status")[0], 0)
        self.assertEqual(oct(os.stat(env.socket).st_mode & 0o777), "0o600")

    def test_kill_9_then_restart_keeps_the_bans(self):
        env = self.env
        env.write_config(ban_time="1h")
        env.start()
        for _ in range(3):
            env.append(sasl_fail("203.0.113.6"))
        env.ctl("ban", "2001:db8:6::6", "2h", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.6") and env.postmap_q("2001:db8:6::6"), what="the bans")
        _, before, _ = env.ctl("list", "--json", check=0)
        env.kill9()
        env.start()
        self.assertIn("REJECT", env.postmap_q("203.0.113.6") or "")
        self.assertIn("REJECT", env.postmap_q("2001:db8:6::6") or "")
        _, after, _ = env.ctl("list", "--json", check=0)
        self.assertEqual(json.loads(after), json.loads(before), "the same bans, the same expiries")
        self.assertIn("restored 2 bans", env.stderr())

    def test_garbage_state_file_means_a_warning_and_a_fresh_start(self):
        env = self.env
        with open(env.state, "wb") as f:
            f.write(os.urandom(3000))
        env.start()
        self.assertIn("damaged", env.stderr())
        self.assertTrue([n for n in os.listdir(env.dir) if n.startswith("state.damaged-")])
        for _ in range(3):
            env.append(sasl_fail("203.0.113.7"))
        wait_until(lambda: env.postmap_q("203.0.113.7"), what="a ban on the fresh start")

    def test_never_banned_however_many_hits(self):
        env = self.env
        pf = env.pfdir
        with open(os.path.join(pf, "main.cf"), "w") as f:
            f.write("mynetworks = 198.51.100.0/24 [2001:db8:77::]/48 127.0.0.0/8\n")
        os.utime(os.path.join(pf, "main.cf"), (0, 0))
        env.write_config(ignore="192.0.2.0/24", ignore_mynetworks="yes",
                         postconf="postconf -c %s" % pf)
        env.write_map("203.0.113.8 OK\n2001:db8:88 OK\n")
        own = local_address()
        env.start()
        never = ["127.0.0.1", "::1", "192.0.2.9", "198.51.100.9", "2001:db8:77:1::9", "203.0.113.8",
                 "2001:db8:88::9"] + ([own] if own else [])
        for _ in range(20):
            env.append(*[sasl_fail(a) for a in never])
        for _ in range(3):
            env.append(sasl_fail("203.0.113.9"))
        wait_until(lambda: env.postmap_q("203.0.113.9"), what="the control ban")
        for a in never:
            self.assertEqual(smtpd_verdict(env, a)[1] in (None, "OK"), True, a + " must never be banned")
        self.assertIn("networks from mynetworks are never banned", env.stderr())
        for a in ("192.0.2.9", "127.0.0.1"):
            rc, _, err = env.ctl("ban", a)
            self.assertEqual(rc, 1, a)
            self.assertIn("never banned", err)
        self.assertIn("never banned", env.status()["hits"])

    def test_reload_asks_postconf_without_stopping_the_loop(self):
        # postconf answers after 3 s at the reload: the daemon answers meanwhile,
        # keeps the old never-ban list, and applies the new one when it arrives
        env = self.env
        pf = env.pfdir
        maincf = os.path.join(pf, "main.cf")
        slow = os.path.join(env.dir, "slow")
        wrapper = os.path.join(env.dir, "postconf")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n[ -e %s ] && sleep 3\nexec postconf -c %s \"$@\"\n" % (slow, pf))
        os.chmod(wrapper, 0o755)
        with open(maincf, "w") as f:
            f.write("mynetworks = 127.0.0.0/8\n")
        os.utime(maincf, (0, 0))
        env.write_config(ignore_mynetworks="yes", postconf=wrapper)
        env.start()
        for _ in range(3):
            env.append(sasl_fail("198.51.100.9"))
        wait_until(lambda: env.postmap_q("198.51.100.9"), what="the ban")
        with open(maincf, "w") as f:
            f.write("mynetworks = 127.0.0.0/8 198.51.100.0/24\n")
        os.utime(maincf, (0, 0))
        open(slow, "w").close()
        t0 = time.monotonic()
        env.signal(signal.SIGHUP)
        time.sleep(0.2)
        env.ctl("status", check=0)
        self.assertLess(time.monotonic() - t0, 1.5, "status waited for postconf")
        self.assertEqual(env.postmap_q("198.51.100.9")[:6], "REJECT", "lifted before postconf answered")
        wait_until(lambda: env.postmap_q("198.51.100.9") is None, timeout=15, what="the lift")
        self.assertGreater(time.monotonic() - t0, 2.5, "lifted before postconf answered")
        self.assertIn("unban 198.51.100.9: never banned (mynetworks", env.stderr())

    def test_ok_set_after_the_ban_lifts_it(self):
        env = self.env
        env.start()
        for _ in range(3):
            env.append(sasl_fail("203.0.113.10"))
        # the text too: the database is renamed into place before it, and an
        # append to the text about to be replaced would be lost
        wait_until(lambda: env.postmap_q("203.0.113.10") and "203.0.113.10" in env.read_map(), what="the ban")
        with open(env.map, "a") as f:
            f.write("203.0.113.10 OK\n")
        env.ctl("ban", "203.0.113.11", check=0)      # any change makes a new write
        wait_until(lambda: "unban 203.0.113.10: never banned (accepted by the access map)" in env.stderr(),
                   what="the lift")
        wait_until(lambda: env.postmap_q("203.0.113.10") == "OK", what="only the admin's line")

    def test_ipv6_network_ban(self):
        env = self.env
        self.one_hit_rules()
        env.write_config(ipv6_net_hosts="3", ipv6_net_prefix="64")
        env.start()
        for a in ("2001:db8:1:2::a", "2001:db8:1:2::b"):
            self.ban_now(a)
        self.assertIsNone(env.postmap_q("2001:db8:1:2"), "two hosts: no network ban yet")
        self.ban_now_net = None
        env.append(sasl_fail("2001:db8:1:2:3:4:5:6"))
        wait_until(lambda: env.postmap_q("2001:db8:1:2"), what="the network key")
        text = env.read_map()
        self.assertIn("\n2001:db8:1:2 REJECT ", text)
        self.assertNotIn("2001:db8:1:2::a REJECT", text, "the hosts are covered by the network")
        # smtpd's own lookup sequence finds the network key for any address in it
        for a in ("2001:db8:1:2::99", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::", "2001:db8:1:2:0:1::"):
            key, value = smtpd_verdict(env, a)
            self.assertEqual(key, "2001:db8:1:2", a)
            self.assertIn("REJECT", value)
        for a in ("2001:db8:1:3::1", "2001:db8:1::2"):
            self.assertIsNone(smtpd_verdict(env, a)[1], a + " is outside the network")
        _, out, _ = env.ctl("list", "--json", check=0)
        nets = [b for b in json.loads(out) if b["network"]]
        self.assertEqual([b["address"] for b in nets], ["2001:db8:1:2::/64"])
        self.assertEqual(nets[0]["rule"], "ipv6-network")

    def test_ipv6_network_that_no_key_can_match_stays_host_by_host(self):
        env = self.env
        self.one_hit_rules()
        env.write_config(ipv6_net_hosts="2")
        env.start()
        # 2001:db8:5:0::/64 ends in a zero group: "2001:db8:5:0" is never looked up
        for a in ("2001:db8:5::1", "2001:db8:5::2"):
            self.ban_now(a)
        wait_until(lambda: "no access(5) key can match the whole network" in env.stderr(), what="the notice")
        self.assertIn("2001:db8:5::1 REJECT", env.read_map())

    def test_flush_removes_every_ban_and_our_block(self):
        env = self.env
        admin = "# my lines\n192.0.2.50 OK\n"
        env.write_map(admin)
        env.start()
        env.ctl("ban", "203.0.113.12", check=0)
        env.ctl("ban", "2001:db8:12::12", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.12"), what="the bans")
        rc, out, err = env.ctl("flush", "--yes")
        self.assertEqual(rc, 0, err)
        # the answer comes after the map is written: no waiting needed
        self.assertEqual(env.read_map(), admin)
        self.assertIsNone(env.postmap_q("203.0.113.12"))
        self.assertEqual(env.postmap_q("192.0.2.50"), "OK")
        self.assertIn("0 active", env.status()["bans"])
        self.assertEqual(env.stop(), 0)
        with open(env.state) as f:
            self.assertNotIn("\nban ", f.read())

    def test_tracker_cap_evicts_the_oldest(self):
        env = self.env
        env.write_config(max_tracked="100", max_hits="5")
        env.start()
        lines = [sasl_fail("10.77.%d.%d" % (i // 250, i % 250 + 1)) for i in range(150)]
        env.append(*lines)
        wait_until(lambda: "hits: 150 " in env.ctl("status")[1], what="all the hits")
        st = env.status()
        m = re.match(r"(\d+) \(at most 100; (\d+) evicted\)", st["tracked addresses"])
        self.assertTrue(m, st["tracked addresses"])
        self.assertLessEqual(int(m.group(1)), 100)
        self.assertGreaterEqual(int(m.group(2)), 50)

    # --- control and lifecycle (issue 10 items 11, 12, 15-17; issue 9 item 12) ---

    def raw_ctl(self, data):
        """Send raw bytes on the control socket; the whole answer, as text."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.env.socket)
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        s.close()
        return out.decode(errors="replace")

    def test_flush_that_timed_out_is_not_answered_through_a_freed_client(self):
        # The flush's client times out while the map write it waits for still
        # runs; the write's end must not write to that client (a use after
        # free: an ASan build aborts here on the old code).
        env = self.env
        env.write_config(postmap=env.slow_postmap(3), control_timeout="1s")
        env.start(timeout=15)
        env.ctl("ban", "203.0.113.40", check=0)
        t0 = time.monotonic()
        rc, _, err = env.ctl("flush", "--yes")
        self.assertEqual(rc, 1, err)
        self.assertIn("timed out waiting for the daemon", err)
        self.assertLess(time.monotonic() - t0, 2.5, "control_timeout bounds the wait")
        # the writes end (the flush's own included), the daemon lives on
        wait_until(lambda: "# BEGIN" not in (env.read_map() or "") and env.read_map() is not None,
                   timeout=15, what="the flushed map")
        self.assertEqual(env.ctl("status")[0], 0)
        self.assertEqual(env.stop(), 0)
        self.assertNotIn("AddressSanitizer", env.stderr())
        self.assertNotIn("runtime error", env.stderr())

    def test_flush_answers_only_once_the_map_shows_it(self):
        # A write is under way when the flush comes: its end shows the old bans,
        # so the answer must wait for the next write.
        env = self.env
        env.write_config(postmap=env.slow_postmap(1.5))
        env.start(timeout=15)
        env.ctl("ban", "203.0.113.41", check=0)
        time.sleep(0.5)  # the debounce is over: the write with the ban runs now
        rc, out, err = env.ctl("flush", "--yes")
        self.assertEqual(rc, 0, err)
        # right after the OK, smtpd no longer sees the ban, in either map
        self.assertIsNone(env.postmap_q("203.0.113.41"))
        self.assertNotIn("203.0.113.41", env.read_map())
        auth = os.path.join(env.dir, "autoblacklist-ehlo")
        r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-q", "203.0.113.41", "hash:" + auth],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0, "the auth map still closes AUTH after the flush: " + r.stdout)

    def test_flush_waits_for_the_auth_map_too(self):
        env = self.env
        slow = os.path.join(env.dir, "slow-auth-postmap")
        with open(slow, "w") as f:
            f.write('#!/bin/sh\ncase "$*" in *autoblacklist-ehlo*) sleep 2;; esac\nexec %s -c %s "$@"\n'
                    % (harness.POSTMAP, env.pfdir))
        os.chmod(slow, 0o755)
        env.write_config(postmap=slow)
        env.start(timeout=15)
        env.ctl("ban", "203.0.113.44", check=0)
        auth = "hash:" + os.path.join(env.dir, "autoblacklist-ehlo")
        q = lambda: subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-q", "203.0.113.44", auth],
                                   capture_output=True, text=True).returncode == 0
        wait_until(q, timeout=10, what="the ban in the auth map")
        rc, out, err = env.ctl("flush", "--yes")
        self.assertEqual(rc, 0, err)
        self.assertFalse(q(), "flush answered while the auth map still closes AUTH")

    def test_flush_over_a_half_closed_connection_is_answered(self):
        # `echo flush --yes | socat - UNIX:...` shuts its side down after the
        # line; it still reads, so the pending answer must still come.
        env = self.env
        env.start()
        env.ctl("ban", "203.0.113.47", check=0)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(env.socket)
        s.sendall(b"flush --yes\n")
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        s.close()
        self.assertTrue(out.startswith(b"OK\n"), out)
        self.assertIsNone(env.postmap_q("203.0.113.47"))

    def test_stop_right_after_a_move_still_cleans_the_old_map(self):
        """A write of the old map under way at the move still holds the bans: a
        stop then waits for the one after it, which removes our block."""
        env = self.env
        slow = os.path.join(env.dir, "slow-postmap")
        with open(slow, "w") as f:
            f.write("#!/bin/sh\nsleep 1.5\nexec %s -c %s \"$@\"\n" % (harness.POSTMAP, env.pfdir))
        os.chmod(slow, 0o755)
        env.write_config(postmap=slow)
        env.start()
        env.ctl("ban", "203.0.113.42", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.42"), timeout=10, what="the ban in the first map")
        env.ctl("ban", "203.0.113.43", check=0)
        time.sleep(0.5)  # its postmap runs now
        env.write_config(access_map="hash:" + os.path.join(env.dir, "access2"))
        env.ctl("reload", check=0)
        self.assertEqual(env.stop(timeout=40), 0)
        self.assertNotIn("BEGIN postfix-autoblacklist", env.read_map(), "our block stays in the old map")

    def test_access_map_moved_on_reload_leaves_the_old_map_clean(self):
        env = self.env
        admin = "# the admin's\n192.0.2.60 OK\n"
        env.write_map(admin)
        env.start()
        env.ctl("ban", "203.0.113.42", check=0)
        wait_until(lambda: env.postmap_q("203.0.113.42"), what="the ban in the first map")
        new_map = os.path.join(env.dir, "access2")
        env.write_config(access_map="hash:" + new_map)
        env.ctl("reload", check=0)

        def q(path, key):
            r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-q", key, "hash:" + path],
                               capture_output=True, text=True)
            return r.stdout.strip() if r.returncode == 0 else None
        wait_until(lambda: q(new_map, "203.0.113.42"), what="the ban in the new map")
        wait_until(lambda: env.read_map() == admin, what="the old map without our block")
        self.assertIsNone(env.postmap_q("203.0.113.42"), "the old map's database agrees")
        self.assertEqual(env.postmap_q("192.0.2.60"), "OK")
        self.assertIn("our block is removed", env.stderr())
        # later bans go to the new map only
        env.ctl("ban", "203.0.113.43", check=0)
        wait_until(lambda: q(new_map, "203.0.113.43"), what="a later ban")
        self.assertEqual(env.read_map(), admin)

    def test_access_map_changed_while_stopped_leaves_the_old_map_clean(self):
        env = self.env
        admin = "192.0.2.61 OK\n"
        env.write_map(admin)
        env.start()
        env.ctl("ban", "203.0.113.48", check=0)
        wait_until(lambda: "203.0.113.48" in env.read_map(), what="the ban in the first map")
        self.assertEqual(env.stop(), 0)
        new_map = os.path.join(env.dir, "access3")
        env.write_config(access_map="hash:" + new_map)
        env.start()
        wait_until(lambda: env.read_map() == admin, what="the old map without our block")
        self.assertIsNone(env.postmap_q("203.0.113.48"))
        r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-q", "203.0.113.48", "hash:" + new_map],
                           capture_output=True, text=True)
        self.assertIn("REJECT", r.stdout)

    def test_admin_ok_line_lifts_the_ban_at_once(self):
        # No other change comes: the edit alone must lift the ban, in the write that reads it,
        # so that the admin's own postmap finds no duplicate key.
        env = self.env
        env.start()
        env.ctl("ban", "203.0.113.44", check=0)
        # the text too: the database is renamed into place before it
        wait_until(lambda: env.postmap_q("203.0.113.44") and "203.0.113.44" in env.read_map(), what="the ban")
        writes = int(re.match(r".*: (\d+) writes", env.status()["map"]).group(1))
        with open(env.map, "a") as f:
            f.write("203.0.113.44 OK\n")
        wait_until(lambda: env.postmap_q("203.0.113.44") == "OK", timeout=3, what="the lift in the map")
        self.assertIn("unban 203.0.113.44: never banned (accepted by the access map)", env.stderr())
        self.assertEqual(env.read_map().count("203.0.113.44"), 1, env.read_map())
        r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "hash:" + env.map], capture_output=True, text=True)
        self.assertNotIn("duplicate", r.stderr)
        time.sleep(0.5)
        # The write that read the edit lifted it (above); the lift itself may
        # cost one more (the block's note line counts the bans), never more.
        got = int(re.match(r".*: (\d+) writes", env.status()["map"]).group(1))
        self.assertIn(got, (writes + 1, writes + 2), "writes after the edit")

    def test_network_not_banned_because_of_an_exempt_host_is_told_once(self):
        env = self.env
        self.one_hit_rules()
        env.write_config(ipv6_net_hosts="2", ignore="2001:db8:17:1::5")
        env.start()
        for a in ("2001:db8:17:1::a", "2001:db8:17:1::b", "2001:db8:17:1::c"):
            self.ban_now(a)
        self.assertIsNone(env.postmap_q("2001:db8:17:1"))
        told = [l for l in env.stderr().splitlines() if "2001:db8:17:1::/64" in l and "not banned as" in l]
        self.assertEqual(len(told), 1, told)
        self.assertNotIn("debug:", told[0])
        self.assertIn("ignore list", told[0])

    def test_nul_byte_in_a_control_line_is_refused(self):
        env = self.env
        env.start()
        out = self.raw_ctl(b"ban 203.0.113.45\x00 and more\n")
        self.assertTrue(out.startswith("ERROR: "), out)
        self.assertIn("NUL", out)
        self.assertNotIn("203.0.113.45", env.ctl("list", check=0)[1])

    def test_list_escapes_control_characters_of_rule_names_from_the_state(self):
        env = self.env
        now = int(time.time() * 1000)
        rule = "evil\x1b]2;owned\x07\x1b[2J"
        body = ("postfix-autoblacklist-state 1\n"
                "ban 203.0.113.46/32 %s 1 0 1 3 %d %d %d %d\n" % (rule, now, now, now, now + 3600000))
        h = 14695981039346656037
        for b in body.encode():
            h = ((h ^ b) * 1099511628211) & (2 ** 64 - 1)
        with open(env.state, "w") as f:
            f.write(body + "end 1 %016x\n" % h)
        env.start()
        self.assertIn("restored 1 bans", env.stderr())
        _, out, _ = env.ctl("list", check=0)
        self.assertIn("203.0.113.46", out)
        self.assertNotIn("\x1b", out)
        self.assertNotIn("\x07", out)
        self.assertIn("evil\\x1b]2;owned\\x07", out)

    def test_ctl_refused_by_the_daemon_reports_it(self):
        # 32 clients hold every slot; the daemon refuses the next one before
        # reading its command.  The old ctl died of SIGPIPE (exit 141) or
        # reported a reset instead of the daemon's answer.
        env = self.env
        env.start()
        held = []
        try:
            for _ in range(32):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(env.socket)
                held.append(s)
            time.sleep(0.3)
            for _ in range(10):
                rc, _, err = env.ctl("status")
                self.assertEqual(rc, 1, err)
                self.assertEqual(err, "autoblacklistctl: too many clients\n")
        finally:
            for s in held:
                s.close()
        wait_until(lambda: env.ctl("status")[0] == 0, what="service again")


def time_of(text):
    return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def local_address():
    """A non-loopback address of this host, or None."""
    try:
        out = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return None
    for m in re.finditer(r"inet6? ([0-9a-f.:]+)/\d+ .*scope global", out):
        return m.group(1)
    return None


if __name__ == "__main__":
    harness.main()
