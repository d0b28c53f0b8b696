# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 9, hole 1, end to end: the Cyrus SASL mechanism name.

A client sends AUTH with a quoted mechanism name that looks like a log
line of its own:

    AUTH "x[192.0.2.200]: SASL LOGIN authentication failed: y"

Cyrus does not know the mechanism and says so through smtpd, quoting the
client's text:

    warning: SASL authentication failure: Couldn't find mech "x[192.0.2.200]: SASL LOGIN authentication failed: y"

A rule whose text before "[<ADDR>]" may hold client text takes
192.0.2.200 from it.  Here the victims are a real neighbour (the
well-behaved client at 192.0.2.30), an address of nobody, and IPv6 ones;
the attacker sends each several times.  Only the attacker itself may end
up banned, and the well-behaved client must still get through.

EXPECTED TO FAIL on the rules of main at the time of writing
(`[sasl-auth-failed]` has `^warning: [^[]*\\[<ADDR>\\]`); it passes once the
rules are anchored at the client field (branch h-rules, issue 9).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pfharness as h  # noqa: E402

GOOD4, GOOD6 = h.client4(h.N_CLIENTS - 1), h.client6(h.N_CLIENTS - 1)
VICTIMS = [GOOD4, "192.0.2.200", GOOD6, "2001:db8::c8"]
# The forms an attacker can send: Postfix's tokenizer takes a quoted
# mechanism name whole; Cyrus quotes it in its message.
FORMS = [
    'AUTH "x[{v}]: SASL LOGIN authentication failed: y"',
    'AUTH "x[{v}]: SASL PLAIN authentication failed: authentication failure"',
    'AUTH "<x[{v}]: SASL LOGIN authentication failed: y>"',
    'AUTH "x [{v}]:25: SASL LOGIN authentication failed: y" dGVzdA==',
]
LOCAL_RCPT = "%s@%s" % (h.USER, h.DOMAIN)


class CyrusMechanismInjection(unittest.TestCase):
    def setUp(self):
        self.lab = h.Lab()
        try:
            self.pf = self.lab.postfix(sasl="cyrus")
            self.d = self.lab.daemon(self.pf, ipv6_net_hosts=0)
        except BaseException:
            self.lab.close()
            raise

    def tearDown(self):
        if any(t is self for t, _ in self._outcome.result.failures + self._outcome.result.errors):
            seen = []
            for line in self.pf.log_lines("Couldn't find mech"):
                msg = line.split("]: ", 1)[1]
                if msg not in seen:
                    seen.append(msg)
            sys.stderr.write("--- what Cyrus logged through smtpd ---\n" + "\n".join(seen) + "\n")
        self.lab.close()

    def attack(self, attacker, server):
        c = self.lab.client(attacker)
        replies = []
        for form in FORMS:
            for victim in VICTIMS:
                c.connect(server)
                c.ehlo()
                for _ in range(3):
                    replies.append(c.cmd(form.format(v=victim)))
                c.quit()
        return replies

    def check(self, attacker, server):
        replies = self.attack(attacker, server)
        self.assertTrue(all(r.code in (535, 501, 503, 554) for r in replies), replies[:3])
        # Cyrus wrote the client's text into the log (else this tests nothing).
        self.assertTrue(self.pf.log_lines(r"Couldn't find mech \"x\[%s\]: SASL LOGIN" % VICTIMS[1].replace(".", r"\.")),
                        self.pf.log()[-3000:])
        h.wait_until(lambda: self.pf.log_lines(r"disconnect from unknown\[%s\]" % attacker), 5, what="disconnect")
        time.sleep(0.5)  # the daemon has read it all, and the maps are written
        banned = self.d.banned()
        self.assertLessEqual(banned, {attacker}, "banned on text the client chose: %s" % (banned - {attacker}))
        for v in VICTIMS:
            self.assertIsNone(self.pf.lookup(self.pf.access, v), v)
            self.assertIsNone(self.pf.lookup(self.pf.ehlo, v), v)
        good = self.lab.client(GOOD6 if ":" in server else GOOD4)
        good.connect(server)
        ehlo = good.ehlo()
        self.assertTrue(any("AUTH" in l for l in ehlo.lines), ehlo)
        self.assertEqual(good.auth_plain().code, 235)
        good.cmd("MAIL FROM:<%s>" % LOCAL_RCPT)
        self.assertEqual(good.cmd("RCPT TO:<%s>" % LOCAL_RCPT).code, 250)
        good.quit()

    def test_over_ipv4(self):
        self.check(h.client4(0), self.pf.ipv4)

    def test_over_ipv6(self):
        self.check(h.client6(1), self.pf.ipv6)


if __name__ == "__main__":
    h.main_unittest()
