# SPDX-License-Identifier: GPL-3.0-or-later
"""The auth map (smtpd_discard_ehlo_keyword_address_maps) on a real smtpd:
what it closes, and its documented limit.

- Without it (auth_map empty), a banned client still logs in with the
  right password: the bug of issue 11, shown on the real smtpd.
- A host ban closes AUTH (no AUTH in EHLO, 503 5.5.1 for AUTH).
- smtpd looks this map up with the exact client address only
  (maps_find(ehlo_discard_maps, state->addr, 0) in smtpd.c; no network
  walk as for check_client_access), so a network ban rejects the whole
  network at RCPT, but closes AUTH only for the hosts banned one by one
  inside it.  That is the limit the README states; this test holds it, and
  that a host there that fails AUTH is still counted and banned on its own.
- The admin's own lines in the auth map are kept, and unban/flush take
  our entries out again.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfharness as h  # noqa: E402

LOCAL_RCPT = "%s@%s" % (h.USER, h.DOMAIN)
NET = "2001:db8:1:2"  # a /64 of clients away from the server's 2001:db8::/64


def session(lab, addr, server):
    """(AUTH offered, AUTH reply code, RCPT reply code) for one session."""
    c = lab.client(addr)
    c.connect(server)
    ehlo = c.ehlo()
    offered = any("AUTH" in line for line in ehlo.lines)
    auth = c.auth_plain()
    c.cmd("MAIL FROM:<%s>" % LOCAL_RCPT)
    rcpt = c.cmd("RCPT TO:<%s>" % LOCAL_RCPT)
    c.quit()
    return offered, auth.code, rcpt.code


class AuthMap(unittest.TestCase):
    def setUp(self):
        self.lab = h.Lab()
        # Clients in another /64, routed over the same veth.
        vc, vs = h.PREFIX + "c" + self.lab.tag, h.PREFIX + "s" + self.lab.tag
        for i in (5, 6):
            h.run("ip", "-n", self.lab.cli, "addr", "add", "%s::%d/64" % (NET, i), "dev", vc, "nodad")
        h.run("ip", "-n", self.lab.srv, "-6", "route", "add", NET + "::/64", "dev", vs)

    def tearDown(self):
        self.lab.close()

    def start(self, **config):
        self.pf = self.lab.postfix(sasl="cyrus")
        self.d = self.lab.daemon(self.pf, **config)

    def wait_written(self, path, text, present=True):
        def ok():
            try:
                with open(path) as f:
                    return (text in f.read()) == present
            except FileNotFoundError:
                return not present
        h.wait_until(ok, 5, what="%r %s %s" % (text, "in" if present else "not in", path))
        time.sleep(0.05)

    def test_runs_the_readme_configuration(self):
        """The restrictions smtpd runs here are the README's, in its order."""
        self.start()
        want = h.readme_main_cf()
        self.assertEqual([x.strip() for x in want["smtpd_client_restrictions"].split(",")],
                         ["permit_mynetworks", "permit_sasl_authenticated",
                          "check_client_access hash:/etc/postfix/access"])
        for k, v in want.items():
            self.assertEqual(self.pf.postconf(k), v.replace("/etc/postfix/", self.pf.conf + "/"), k)

    def test_without_auth_map_a_banned_client_logs_in(self):
        """The bug, on a real smtpd: with the access map alone, the ban is
        only seen at RCPT."""
        self.start(auth_map="")
        a = h.client4(0)
        self.d.ctl("ban", a, check=0)
        self.wait_written(self.pf.access, a)
        offered, auth, rcpt = session(self.lab, a, self.pf.ipv4)
        # it logs in, and permit_sasl_authenticated (before check_client_access)
        # lets its RCPT through as well
        self.assertEqual((offered, auth, rcpt), (True, 235, 250))
        self.assertFalse(os.path.exists(self.pf.ehlo + ".db") and os.path.getsize(self.pf.ehlo) > 0)

    def test_host_ban_closes_auth(self):
        self.start()
        a, good = h.client4(0), h.client4(1)
        self.d.ctl("ban", a, check=0)
        self.wait_written(self.pf.ehlo, a + " silent-discard, auth")
        self.assertEqual(self.pf.lookup(self.pf.ehlo, a), "silent-discard, auth")
        self.assertEqual(session(self.lab, a, self.pf.ipv4), (False, 503, 554))
        self.assertEqual(session(self.lab, good, self.pf.ipv4), (True, 235, 250))
        # unban opens it again
        self.d.ctl("unban", a, check=0)
        self.wait_written(self.pf.ehlo, a + " ", present=False)
        h.wait_until(lambda: session(self.lab, a, self.pf.ipv4) == (True, 235, 250), 5, what="unbanned")

    def test_network_ban_is_rcpt_only_unless_host_banned(self):
        """The documented limit: a network ban does not close AUTH for a
        host in it that was not banned one by one."""
        self.start()
        self.d.ctl("ban", NET + "::/64", check=0)
        self.d.ctl("ban", NET + "::6", check=0)
        self.wait_written(self.pf.access, NET + " REJECT")
        self.wait_written(self.pf.ehlo, NET + "::6 silent-discard, auth")
        with open(self.pf.ehlo) as f:
            self.assertNotIn(NET + " ", f.read(), "a network key in the auth map would never match")
        # ::5, only under the network ban: AUTH still open, and once logged in
        # permit_sasl_authenticated lets it through (as for a real user there).
        self.assertEqual(session(self.lab, NET + "::5", self.pf.ipv6), (True, 235, 250))
        c = self.lab.client(NET + "::5")
        c.connect(self.pf.ipv6)
        c.ehlo()
        c.cmd("MAIL FROM:<a@example.org>")
        self.assertEqual(c.cmd("RCPT TO:<%s>" % LOCAL_RCPT).code, 554, "not rejected without AUTH")
        c.quit()
        # But if ::5 guesses passwords, its failures count (its own AUTH is
        # open), and its own ban closes AUTH to it.
        c.connect(self.pf.ipv6)
        c.ehlo()
        for i in range(3):
            self.assertEqual(c.auth_plain(password="guess%d" % i).code, 535)
        c.quit()
        self.wait_written(self.pf.ehlo, NET + "::5 silent-discard, auth")
        self.assertEqual(self.d.bans()[NET + "::5"]["rule"], "sasl-auth-failed")
        self.assertEqual(session(self.lab, NET + "::5", self.pf.ipv6), (False, 503, 554))
        with open(self.pf.access) as f:
            self.assertNotIn(NET + "::5 ", f.read(), "the network's key already rejects ::5 in the access map")
        # ::6, banned as a host too: AUTH closed.
        self.assertEqual(session(self.lab, NET + "::6", self.pf.ipv6), (False, 503, 554))

    def test_open_session_keeps_old_maps_until_error_limit(self):
        """What the README says of a session open when the ban lands: it
        keeps the old maps (AUTH still offered and tried), bounded by
        smtpd_hard_error_limit (20 here, Postfix's default); new sessions
        see the ban."""
        self.start()
        a = h.client4(0)
        old = self.lab.client(a)
        old.connect(self.pf.ipv4)
        self.assertTrue(any("AUTH" in l for l in old.ehlo().lines))
        self.d.ctl("ban", a, check=0)
        self.wait_written(self.pf.ehlo, a + " silent-discard, auth")
        self.wait_written(self.pf.access, a + " REJECT")
        self.assertEqual(session(self.lab, a, self.pf.ipv4), (False, 503, 554))
        codes = []
        for i in range(25):
            try:
                codes.append(old.auth_plain(password="guess%d" % i).code)
            except OSError:  # smtpd hung up
                break
            if codes[-1] in (421, -1):
                break
        old.close()
        self.assertEqual(codes[:19], [535] * 19, codes)  # the old session: AUTH still there
        self.assertIn(421, codes, "smtpd_hard_error_limit did not end the session: %s" % codes)
        self.assertLessEqual(codes.index(421), 20, codes)
        h.wait_until(lambda: self.pf.log_lines(r"too many errors after AUTH from unknown\[%s\]" % a.replace(".", r"\.")),
                     5, what="smtpd's 'too many errors' line")

    def test_admin_lines_kept_and_flush(self):
        admin = "# the admin's own\n%s silent-discard, pipelining\n" % h.client4(5)
        self.start()
        # READY follows the access map's first write; the auth map's may still
        # be under way, and an edit that lands between its check and its
        # rename is lost (as with any editor racing a writer): let it end.
        self.wait_written(self.pf.ehlo, "# BEGIN postfix-autoblacklist")
        # The admin writes a line of their own (the daemon keeps it).
        with open(self.pf.ehlo, "a") as f:
            f.write(admin)
        self.d.ctl("ban", h.client4(0), check=0)
        self.wait_written(self.pf.ehlo, h.client4(0) + " silent-discard, auth")
        with open(self.pf.ehlo) as f:
            text = f.read()
        self.assertIn(admin, text)
        self.assertLess(text.index("# BEGIN postfix-autoblacklist"), text.index(admin))
        self.assertEqual(self.pf.lookup(self.pf.ehlo, h.client4(5)), "silent-discard, pipelining")
        self.d.ctl("flush", "--yes", check=0)
        self.wait_written(self.pf.ehlo, "# BEGIN postfix-autoblacklist", present=False)
        with open(self.pf.ehlo) as f:
            self.assertEqual(f.read(), admin)
        self.assertEqual(session(self.lab, h.client4(0), self.pf.ipv4), (True, 235, 250))


if __name__ == "__main__":
    h.main_unittest()
