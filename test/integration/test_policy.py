# SPDX-License-Identifier: GPL-3.0-or-later
"""The ban policy on the built daemon: IPv6 networks counted as a whole,
the network map, private address space, the admin's accepting actions,
keys that two address families reach, and a state file with times out of
range.  Real postmap, real files; the map is read back with postmap -q.
"""

import os
import time

import harness
from harness import DaemonTest, sasl_fail, wait_until


def fnv1a(data):
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def read(path):
    with open(path) as f:
        return f.read()


def state_file(bans):
    """A state file (format 1) with these 'ban ...' records, hashed as state.c does."""
    text = "postfix-autoblacklist-state 1\n" + "".join("ban %s\n" % b for b in bans)
    return text + "end %d %016x\n" % (len(bans), fnv1a(text.encode()))


class Policy(DaemonTest):

    def test_ipv6_rotation_through_a_64_bans_the_64(self):
        """200 addresses of one /64 with 2 SASL failures each: no address
        reaches max_hits (3), the /64 reaches 3 x ipv6_net_factor (3)."""
        env = self.env
        env.start()
        lines = [sasl_fail("2001:db8:5:6::%x" % (i + 1)) for i in range(200) for _ in range(2)]
        env.append(*lines)
        # a host outside the /64 with 2 failures: not banned, in no network
        env.append(sasl_fail("2001:db8:5:7::1"), sasl_fail("2001:db8:5:7::1"))
        wait_until(lambda: env.postmap_q("2001:db8:5:6"), what="the /64 in the map")
        self.assertIn("REJECT", env.postmap_q("2001:db8:5:6"))
        self.assertIn("ban 2001:db8:5:6::/64: its addresses have 9 hits of rule sasl-auth-failed (3 x 3)",
                      env.stderr())
        self.assertIsNone(env.postmap_q("2001:db8:5:7"))
        self.assertIsNone(env.postmap_q("2001:db8:5:7::1"))
        _, out, _ = env.ctl("list", check=0)
        self.assertIn("2001:db8:5:6::/64", out)
        # once the /64 is banned its hosts' hits still count (the auth map
        # closes AUTH host by host, see README), and none of them has 3
        def read():
            h = env.status().get("hits", "")
            return int(h.split()[0]) + int(h.split("and ")[1].split()[0]) >= 402
        wait_until(read, what="the rest of the /64's lines read")
        self.assertIsNone(env.postmap_q("2001:db8:5:6::1"))

    def test_ipv6_net_factor_0_turns_it_off(self):
        env = self.env
        env.write_config(ipv6_net_factor="0")
        env.start()
        env.append(*[sasl_fail("2001:db8:5:6::%x" % (i + 1)) for i in range(50) for _ in range(2)])
        for _ in range(3):
            env.append(sasl_fail("203.0.113.9"))
        wait_until(lambda: env.postmap_q("203.0.113.9"), what="the control ban")
        self.assertIsNone(env.postmap_q("2001:db8:5:6"))

    def test_zero_group_64_goes_into_the_network_map(self):
        """2001:db8:40::/64 has no access(5) key that smtpd matches without a
        postmap warning; with network_map it is banned in a cidr: table."""
        env = self.env
        nets = os.path.join(env.dir, "networks.cidr")
        maincf = os.path.join(env.pfdir, "main.cf")
        with open(maincf, "w") as f:
            f.write("smtpd_client_restrictions = check_client_access hash:%s,\n"
                    "    check_client_access cidr:%s\n" % (env.map, nets))
        os.utime(maincf, (0, 0))
        env.write_config(network_map="cidr:" + nets, postconf="postconf -c " + env.pfdir)
        env.start()
        self.assertNotIn("network_map:", env.stderr(), "Postfix is pointed at the network map")
        # the first write makes the (empty) table, so that smtpd can open it
        self.assertNotIn("REJECT", read(nets))
        before = env.read_map()
        env.append(*[sasl_fail("2001:db8:40::%x" % (i + 1)) for i in range(10)])
        env.append(*[sasl_fail("2001:db8:40:0:1::%x" % (i + 1)) for i in range(10)])
        wait_until(lambda: "2001:db8:40::/64 REJECT" in read(nets), what="the /64 in the cidr table")
        # the access map changes with it, so that idle smtpd processes restart
        wait_until(lambda: env.read_map() != before and "1 network ban in cidr:" in env.read_map(),
                   what="the access map's note of the network map")
        self.assertNotIn("2001:db8:40:", env.read_map().replace("cidr:", ""))
        # by hand too, any prefix length
        env.ctl("ban", "198.51.100.128/25", check=0)
        wait_until(lambda: "198.51.100.128/25 REJECT" in read(nets), what="the /25 in the cidr table")
        env.ctl("unban", "2001:db8:40::/64", check=0)
        wait_until(lambda: "2001:db8:40::/64" not in read(nets), what="the unban in the cidr table")
        self.assertEqual(oct(os.stat(nets).st_mode & 0o777), "0o644")
        # a network map given up is emptied, or its bans would never end
        env.ctl("ban", "2001:db8:77::/64", check=0)
        wait_until(lambda: "2001:db8:77::/64 REJECT" in read(nets), what="the /64 in the cidr table")
        env.write_config(network_map=None)
        env.ctl("reload", check=0)
        self.assertNotIn("REJECT", read(nets))
        self.assertIn("no longer the network map; emptied", env.stderr())

    def test_network_map_that_postfix_does_not_use_is_reported(self):
        env = self.env
        env.write_config(network_map="cidr:" + os.path.join(env.dir, "nets"), postconf="postconf -c " + env.pfdir)
        env.start()
        self.assertIn("network_map: Postfix's settings do not name cidr:%s/nets; network bans have no effect"
                      % env.dir, env.stderr())

    def test_zero_group_64_without_network_map_is_explained(self):
        env = self.env
        env.start()
        env.append(*[sasl_fail("2001:db8:40::%x" % (i + 1)) for i in range(10)])
        wait_until(lambda: "set network_map = cidr:... to ban it" in env.stderr(), what="the notice")
        rc, _, err = env.ctl("ban", "2001:db8:40::/64")
        self.assertNotEqual(rc, 0)
        self.assertIn("network_map", err)

    def test_private_address_space_is_not_banned_by_default(self):
        env = self.env
        env.write_config(ban_private=None)
        env.start()
        private = ["10.0.0.5", "172.17.0.1", "192.168.1.7", "100.64.3.4", "169.254.0.9", "fd00::5", "fe80::1"]
        for _ in range(5):
            env.append(*[sasl_fail(a) for a in private])
        for _ in range(3):
            env.append(sasl_fail("203.0.113.11"))
        wait_until(lambda: env.postmap_q("203.0.113.11"), what="the control ban")
        for a in private:
            self.assertIsNone(env.postmap_q(a), a + " is private address space")
        self.assertIn("private address space: never banned (ban_private = no)", env.stderr())
        self.assertTrue(env.status()["private addresses"].startswith("never banned (ban_private = no)"))
        rc, _, err = env.ctl("ban", "172.17.0.1")
        self.assertNotEqual(rc, 0)
        self.assertIn("private address space", err)

    def test_ban_private_yes_bans_it(self):
        env = self.env
        env.write_config(ban_private="yes")
        env.start()
        for _ in range(3):
            env.append(sasl_fail("172.17.0.1"))
        wait_until(lambda: env.postmap_q("172.17.0.1"), what="the ban of 172.17.0.1")
        self.assertIn("private address space: may be banned (ban_private = yes)", env.stderr())
        self.assertEqual(env.status()["private addresses"], "may be banned (ban_private = yes)")

    def test_every_accepting_action_exempts(self):
        env = self.env
        env.write_map("198.18.0 permit\n"
                      "192.0.2.20 PERMIT_SASL_AUTHENTICATED\n"
                      "192.0.2.21 check_helo_access hash:/x, permit_mynetworks\n"
                      "192.0.2.22 Relay\n"
                      "192.0.2 DUNNO\n"
                      "203.0.113 550 go away\n")
        env.start()
        exempt = ["198.18.0.9", "192.0.2.20", "192.0.2.21", "192.0.2.22"]
        banned = ["192.0.2.23", "203.0.113.5"]
        for _ in range(4):
            env.append(*[sasl_fail(a) for a in exempt + banned])
        for a in banned:
            wait_until(lambda: env.postmap_q(a) and "autoblacklist" in env.postmap_q(a), what="the ban of " + a)
        for a in exempt:
            self.assertNotIn("autoblacklist", env.postmap_q(a) or "", a + " is accepted by the admin")
        rc, _, err = env.ctl("ban", "198.18.0.10")
        self.assertNotEqual(rc, 0)
        self.assertIn("accepted by the access map", err)

    def test_ipv6_keys_that_ipv4_lookups_reach_are_refused(self):
        env = self.env
        env.start()
        for net in ("127::/16", "192::/16", "198::/16"):
            rc, _, err = env.ctl("ban", net)
            self.assertNotEqual(rc, 0, net)
        env.ctl("ban", "2002::/16", check=0)
        wait_until(lambda: env.postmap_q("2002"), what="the /16")
        for key in ("127", "192", "198"):
            self.assertIsNone(env.postmap_q(key))
        # an IPv4 /8 whose key 127 is also loopback's
        rc, _, err = env.ctl("ban", "127.0.0.0/8")
        self.assertNotEqual(rc, 0)
        self.assertIn("loopback", err)

    def test_ipv6_key_reaching_ipv4_loopback_in_the_state_is_not_written(self):
        """A state file from an older version with 127::/16: never in the map."""
        env = self.env
        now = int(time.time() * 1000)
        with open(env.state, "w") as f:
            f.write(state_file(["127::/16 manual 1 1 1 0 0 0 %d 0" % now]))
        env.start()
        time.sleep(0.3)
        self.assertIsNone(env.postmap_q("127"))

    def test_state_with_huge_times(self):
        """expires_ms near INT64_MAX: the forget time used to overflow (UBSan)."""
        env = self.env
        now = int(time.time() * 1000)
        big = 9223372036854775000
        with open(env.state, "w") as f:
            f.write(state_file([
                "203.0.113.50/32 sasl-auth-failed 1 0 1 3 %d %d %d %d" % (now, now, now, big),
                "203.0.113.51/32 sasl-auth-failed 0 0 1 3 %d %d %d %d" % (now, now, now, big),
                "203.0.113.52/32 sasl-auth-failed 0 0 1 3 %d %d %d %d" % (now, now, big, 0),
            ]))
        env.start()
        self.assertIn("REJECT", env.postmap_q("203.0.113.50") or "")
        self.assertIsNone(env.postmap_q("203.0.113.51"))
        _, out, _ = env.ctl("list", check=0)
        self.assertIn("203.0.113.50", out)
        # a remembered one that offends again is a repeat offender, without overflow
        for _ in range(3):
            env.append(sasl_fail("203.0.113.51"), sasl_fail("203.0.113.52"))
        wait_until(lambda: env.postmap_q("203.0.113.51") and env.postmap_q("203.0.113.52"),
                   what="the new bans")
        self.assertIn("ban 203.0.113.51: 3 hits of rule sasl-auth-failed, for 2h (a repeat offender)", env.stderr())
        self.assertEqual(env.stop(), 0)


if __name__ == "__main__":
    harness.main()
