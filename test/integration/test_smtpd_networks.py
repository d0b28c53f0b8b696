# SPDX-License-Identifier: GPL-3.0-or-later
"""A real smtpd rejects every address of a banned zero-group /64.

smtpd looks a client up in an access(5) table by its compressed address,
then cut at each ':' from the right (smtpd_check.c, check_addr_access()).
2001:db8:40::5 walks 2001:db8:40: then 2001:db8:40 (the /48), while
2001:db8:40:0:1::5 walks ... 2001:db8:40:0.  No one key covers the /64,
and a key ending in ':' gets postmap's "key: value" warning.  So network
bans go into a cidr: table (network_map), which smtpd matches for any
address of the network.

Here a real Postfix (postfix -c DIR start) listens in a network namespace
made for the test, with the README's restrictions plus the cidr table.
Clients in a second namespace connect from two addresses of the /64, one
of each text form, and from one address outside it.  The daemon bans the
/64 from SASL failures of rotating addresses (no address reaches its
threshold); the first two clients must then be rejected with our text and
the third accepted.  An smtpd left idle from before the ban must notice
the change (through the access map) and restart.  First, the best access
map key, 2001:db8:40:0, is shown to catch one text form and miss the other.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import Env, sasl_fail, wait_until

PREFIX = "abl-core-"
TAG = "%x" % (os.getpid() & 0xFFFFF)
SRV_NS, CLI_NS = PREFIX + "s" + TAG, PREFIX + "c" + TAG
SRV_IF, CLI_IF = PREFIX + "s" + TAG, PREFIX + "c" + TAG  # at most 15 characters
SERVER = "2001:db8:ff::1"
IN_COLON_COLON = "2001:db8:40::5"    # printed with '::' right after the prefix
IN_ZERO_GROUP = "2001:db8:40:0:1::5"  # printed with the zero group
OUTSIDE = "2001:db8:41::5"
DOMAIN = "mx.example.test"

MASTER_CF = """\
smtp      inet  n       -       n       -       -       smtpd
postlog   unix-dgram n  -       n       -       1       postlogd
anvil     unix  -       -       n       -       1       anvil
rewrite   unix  -       -       n       -       -       trivial-rewrite
proxymap  unix  -       -       n       -       -       proxymap
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
error     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
showq     unix  n       -       n       -       -       showq
"""

# One SMTP dialogue from a given source address, run in the client namespace:
# prints the reply to RCPT TO as "CODE TEXT".
CLIENT = r"""
import smtplib, sys
src, dst = sys.argv[1], sys.argv[2]
s = smtplib.SMTP(timeout=20, source_address=(src, 0))
s.connect(dst, 25)
s.ehlo("client.example.net")
s.mail("a@example.net")
code, text = s.rcpt("user@%s" % sys.argv[3])
print(code, text.decode(errors="replace").replace("\n", " "))
try:
    s.quit()
except Exception:
    pass
"""


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def run(*argv, check=True, timeout=60):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def require():
    if os.geteuid() != 0:
        harness.skip("needs root (network namespaces, postfix start)")
    for prog in ("ip", "postfix", "postmap", "ss"):
        if not shutil.which(prog, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            harness.skip("%s is not installed (test/install-deps installs it)" % prog)


class SmtpdNetworks(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not harness.DAEMON or not os.path.exists(harness.DAEMON):
            raise unittest.SkipTest("AUTOBLACKLISTD is not set to the built daemon")

    def setUp(self):
        self.pfdir = None
        self.env = None
        self.addCleanup(self.teardown_all)
        self.make_namespaces()

    # --- network ------------------------------------------------------------

    def make_namespaces(self):
        run("ip", "netns", "add", SRV_NS)
        run("ip", "netns", "add", CLI_NS)
        run("ip", "link", "add", SRV_IF, "netns", SRV_NS, "type", "veth", "peer", "name", CLI_IF, "netns", CLI_NS)
        s = ["ip", "-n", SRV_NS]
        c = ["ip", "-n", CLI_NS]
        for ns, dev in ((s, SRV_IF), (c, CLI_IF)):
            run(*ns, "link", "set", "lo", "up")
            run(*ns, "link", "set", dev, "up")
        run(*s, "addr", "add", SERVER + "/64", "dev", SRV_IF, "nodad")
        for a in (IN_COLON_COLON, IN_ZERO_GROUP, OUTSIDE):
            run(*c, "addr", "add", a + "/128", "dev", CLI_IF, "nodad")
        # both ends on one link: each reaches the other's networks directly
        run(*s, "-6", "route", "add", "2001:db8:40::/47", "dev", SRV_IF)
        run(*c, "-6", "route", "add", "2001:db8:ff::/64", "dev", CLI_IF)

    def teardown_all(self):
        if self.pfdir:
            run("ip", "netns", "exec", SRV_NS, "postfix", "-c", self.conf, "stop", check=False)
        r = run("ip", "netns", "pids", SRV_NS, check=False)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for ns in (SRV_NS, CLI_NS):
            run("ip", "netns", "del", ns, check=False)
        if self.env:
            if self._failed():
                sys.stderr.write("--- daemon stderr ---\n" + self.env.stderr())
                sys.stderr.write("--- maillog ---\n" + self.maillog())
            self.env.close()
        if self.pfdir and not os.environ.get("KEEP_TMP"):
            shutil.rmtree(self.pfdir, ignore_errors=True)

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return bool(result and any(t is self for t, _ in result.failures + result.errors))

    # --- Postfix ------------------------------------------------------------

    def configure_postfix(self, access, networks):
        self.pfdir = tempfile.mkdtemp(prefix=PREFIX)
        os.chmod(self.pfdir, 0o755)  # Postfix's own users walk into it
        self.conf = os.path.join(self.pfdir, "etc")
        queue, data = os.path.join(self.pfdir, "queue"), os.path.join(self.pfdir, "data")
        for d in (self.conf, queue, data):
            os.makedirs(d)
        pw = pwd.getpwnam("postfix")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        recipients = os.path.join(self.conf, "recipients")
        with open(recipients, "w") as f:
            f.write("user@%s OK\n" % DOMAIN)
        main = {
            "compatibility_level": "3.6",
            "queue_directory": queue,
            "data_directory": data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": DOMAIN,
            "mydestination": DOMAIN,
            "inet_interfaces": "[%s]" % SERVER,
            "inet_protocols": "ipv6",
            "mynetworks": "[::1]/128",
            "maillog_file": os.path.join(self.pfdir, "maillog"),
            "maillog_file_prefixes": self.pfdir,
            "smtpd_peername_lookup": "no",
            "smtp_dns_support_level": "disabled",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "hash:" + recipients,
            # The README's restrictions, and the network map after the access map.
            "smtpd_client_restrictions": "permit_mynetworks, permit_sasl_authenticated, "
                                         "check_client_access hash:%s, check_client_access cidr:%s"
                                         % (access, networks),
            "smtpd_error_sleep_time": "0",
            "smtpd_client_connection_rate_limit": "0",
        }
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        for p in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.conf, p), (0, 0))  # see harness.Env
        run("ip", "netns", "exec", SRV_NS, "postmap", "-c", self.conf, "hash:" + recipients)

    def start_postfix(self):
        out = os.path.join(self.pfdir, "postfix.out")
        with open(out, "a") as f:  # postfix start leaves the master behind: no pipe
            r = subprocess.run(["ip", "netns", "exec", SRV_NS, "postfix", "-c", self.conf, "start"],
                               stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=120)
        self.assertEqual(r.returncode, 0, read(out))
        wait_until(lambda: "[%s]:25" % SERVER in run("ip", "netns", "exec", SRV_NS, "ss", "-ltnH").stdout,
                   timeout=20, what="smtpd listening")

    def maillog(self):
        try:
            with open(os.path.join(self.pfdir, "maillog"), errors="replace") as f:
                return f.read()
        except (FileNotFoundError, TypeError):
            return ""

    def rcpt_reply(self, src):
        r = run("ip", "netns", "exec", CLI_NS, sys.executable, "-c", CLIENT, src, SERVER, DOMAIN)
        return r.stdout.strip()

    # --- the test -----------------------------------------------------------

    def test_zero_group_64_is_rejected_in_both_text_forms(self):
        env = self.env = Env(ban_private="yes")
        os.chmod(env.dir, 0o755)
        networks = os.path.join(env.dir, "networks.cidr")
        self.configure_postfix(env.map, networks)
        # postconf reads this Postfix's settings: the daemon checks that they name the network map
        env.write_config(network_map="cidr:" + networks, postconf="postconf -c " + self.conf)
        open(env.log, "w").close()
        env.start()  # its first write makes both maps, which smtpd must be able to open
        # Why not a key of the access map: the best one, 2001:db8:40:0, as an
        # admin line, catches one text form of the /64 and misses the other.
        clean = env.read_map()
        env.write_map(clean + "2001:db8:40:0 REJECT zero-group key\n")
        run("postmap", "-c", env.pfdir, "hash:" + env.map)
        self.start_postfix()
        reply = self.rcpt_reply(IN_ZERO_GROUP)
        self.assertTrue(reply.startswith("554") and "zero-group key" in reply, reply)
        self.assertTrue(self.rcpt_reply(IN_COLON_COLON).startswith("250"), "the key misses the '::' form")
        env.write_map(clean)
        run("postmap", "-c", env.pfdir, "hash:" + env.map)
        # smtpd sees a table change by its mtime, in whole seconds: a rebuild
        # within the second of the last one would go unseen by the idle smtpd
        later = time.time() + 2
        os.utime(env.map + ".db", (later, later))
        # and the key of the '::' form, 2001:db8:40:, is one that postmap warns about
        colon = os.path.join(env.dir, "colon-key")
        with open(colon, "w") as f:
            f.write("2001:db8:40: REJECT x\n")
        r = run("postmap", "-c", env.pfdir, "hash:" + colon)
        self.assertIn('record is in "key: value" format', r.stderr)

        # Before the ban: all three are accepted; the session leaves an idle smtpd
        # that has read the (empty) network map.
        for a in (IN_COLON_COLON, IN_ZERO_GROUP, OUTSIDE):
            self.assertTrue(self.rcpt_reply(a).startswith("250"), a)

        # Rotation through the /64: 10 addresses, one SASL failure each (max_hits 3,
        # ipv6_net_factor 3: 9 hits of the /64).
        env.append(*[sasl_fail("2001:db8:40::%x" % (0x100 + i)) for i in range(10)])
        wait_until(lambda: "2001:db8:40::/64 REJECT" in read(networks), what="the /64 in the cidr table")
        wait_until(lambda: "1 network ban in cidr:" in env.read_map(), what="the access map's note")
        time.sleep(0.5)

        for a in (IN_COLON_COLON, IN_ZERO_GROUP):
            reply = self.rcpt_reply(a)
            self.assertTrue(reply.startswith("554"), "%s: %s" % (a, reply))
            self.assertIn("Blocked by postfix-autoblacklist", reply)
        self.assertTrue(self.rcpt_reply(OUTSIDE).startswith("250"), OUTSIDE)

        log = self.maillog()
        for a in (IN_COLON_COLON, IN_ZERO_GROUP):
            self.assertIn("reject: RCPT from unknown[%s]: 554 5.7.1 <unknown[%s]>: Client host rejected: "
                          "Blocked by postfix-autoblacklist" % (a, a), log)
        self.assertNotIn("reject: RCPT from unknown[%s]" % OUTSIDE, log)
        # the idle smtpd saw the access map change and made way for one that read the new table
        self.assertGreaterEqual(log.count("has changed -- restarting"), 2)
        # no warning from postmap (relayed by the daemon) or from smtpd about the tables
        self.assertNotIn("warning", env.stderr())
        self.assertNotRegex(log, r"warning: .*(cidr|access|networks)")
        print("real smtpd: key 2001:db8:40:0 rejects %s only; the cidr table rejects %s and %s, and not %s"
              % (IN_ZERO_GROUP, IN_COLON_COLON, IN_ZERO_GROUP, OUTSIDE))


if __name__ == "__main__":
    if not harness.DAEMON or not os.path.exists(harness.DAEMON):
        harness.skip("AUTOBLACKLISTD is not set to the built daemon")
    harness.require_postmap()
    require()
    unittest.main(verbosity=2)
