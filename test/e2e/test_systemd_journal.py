# SPDX-License-Identifier: GPL-3.0-or-later
"""The journal source under a real systemd 252, with a real Postfix that
logs only to that journal (issue 13's last test).

One container (container.py) booted in the server namespace of a
pfharness.Lab, so that the Lab's clients, in the client namespace, reach
an smtpd inside the container.  In it, as on a fresh Debian 12 without
rsyslog:

- Postfix with Cyrus SASL (a sasldb) under Debian's own postfix@-.service,
  with no maillog_file: its syslog() goes to /dev/log, the container's
  journald;
- the daemon installed by `meson install` and enabled with the shipped
  config (log_source = auto, and no mail log file), under the shipped,
  hardened unit (ProtectSystem=strict, SupplementaryGroups=adm
  systemd-journal, ...).

Checked: the daemon picks the journal and says so (READY, `autoblacklistctl
status`); SASL failures of a real client are banned from smtpd's journal
entries (`postmap -q` REJECT, and the client's next connection is refused
AUTH and RCPT); a `logger -t postfix/smtpd` line naming another address is
refused as spoofed and bans nothing; and when journald's rate limit drops
Postfix's messages ("Suppressed N messages from postfix@-.service",
MESSAGE_ID a596d6fe..., N_DROPPED=N) the daemon counts N as lost input,
while the same for another unit whose name holds "postfix" (say
postfix-policyd.service) is not counted.

The tests run in order on one container.
"""

import json
import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import container  # noqa: E402
import pfharness as h  # noqa: E402
import test_systemd_unit as su  # noqa: E402  (install(), the unit's name)

UNIT = su.UNIT
POSTFIX_UNIT = "postfix@-.service"
ETC = "/etc/postfix"
MAP = ETC + "/access"
ATTACKER = h.client4(0)      # 192.0.2.2, a real SMTP client in the Lab
GOOD = h.client4(h.N_CLIENTS - 1)
FORGED = "198.51.100.23"     # the address a forged log line names
DROPPED_ID = "a596d6fe7bfa4994828e72309e95d61e"  # SD_MESSAGE_JOURNAL_DROPPED
LOCAL_RCPT = "%s@%s" % (h.USER, h.DOMAIN)


def postfix_files(lab):
    """main.cf and the other files of a Postfix in the container's /etc/postfix:
    pfharness's instance (its restrictions are the README's), with Debian's
    paths, Cyrus SASL, and no maillog_file, so that it logs to syslog."""
    pf = h.Postfix(lab, "pf-journal", sasl="cyrus")
    pf.conf, pf.queue, pf.data = ETC, "/var/spool/postfix", "/var/lib/postfix"
    pf.recipients = ETC + "/recipients"
    m = pf.main_cf()
    del m["maillog_file"], m["maillog_file_prefixes"]
    return "".join("%s = %s\n" % kv for kv in m.items())


class JournalUnderSystemd(unittest.TestCase):
    c = None
    lab = None

    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        cls.lab = lab = h.Lab()
        try:
            cls.c = c = container.Container(binds=[su.SOURCE_ROOT], binds_rw=[su.BUILD_ROOT], netns=lab.srv)
            c.start()
            cls.boot_seconds = c.boot_seconds
            cls.sbindir, cls.confdir, _ = su.install(c)
            cls.setup_postfix()
            c.systemctl("daemon-reload")
            c.run(["journalctl", "--update-catalog"])
            cls.cursor0 = cls.cursor()
            cls.setup_seconds = time.monotonic() - t0
        except BaseException:
            cls.teardown_all()
            raise

    @classmethod
    def setup_postfix(cls):
        c = cls.c
        c.write(ETC + "/main.cf", postfix_files(cls.lab))
        c.write(ETC + "/master.cf", h.MASTER_CF)
        c.write(ETC + "/recipients", "%s OK\npostmaster@%s OK\n" % (LOCAL_RCPT, h.DOMAIN))
        c.run(["mkdir", "-p", "/var/spool/postfix", "/var/lib/postfix", ETC + "/sasl"])
        c.run(["chown", "postfix:postfix", "/var/lib/postfix"])
        for m in ("access", "autoblacklist-ehlo", "recipients"):
            c.run(["touch", ETC + "/" + m])
            c.run(["postmap", "hash:%s/%s" % (ETC, m)])
        db = ETC + "/sasl/sasldb2"
        c.write(ETC + "/sasl/smtpd.conf", "pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                "mech_list: PLAIN LOGIN\nsasldb_path: %s\n" % db)
        c.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", h.DOMAIN, h.USER], input=h.PASSWORD)
        c.run(["chown", "root:postfix", db])
        c.run(["chmod", "640", db])
        # postfix check creates the queue folders, as the package's postinst does
        c.run(["postfix", "check"], check=False)
        c.systemctl("start", POSTFIX_UNIT)
        c.wait_until(lambda: "192.0.2.1:25" in c.run(["ss", "-ltnH"]).stdout, timeout=20, what="smtpd listening")

    @classmethod
    def teardown_all(cls):
        if cls.c:
            cls.c.stop()
            cls.c = None
        if cls.lab:
            cls.lab.close()
            cls.lab = None

    @classmethod
    def tearDownClass(cls):
        t0 = time.monotonic()
        cls.teardown_all()
        print("container: boot %.2fs, setup %.2fs, halt and cleanup %.2fs"
              % (cls.boot_seconds, cls.setup_seconds, time.monotonic() - t0), file=sys.stderr)

    # --- helpers ---------------------------------------------------------

    @classmethod
    def cursor(cls):
        r = cls.c.run(["journalctl", "-n", "1", "-o", "json", "--no-pager"])
        return json.loads(r.stdout.splitlines()[-1])["__CURSOR"]

    def journal(self, after=None, **fields):
        """Entries since `after` whose fields have these values (matched here:
        journalctl 252 with --after-cursor and a match skips the first match)."""
        self.c.run(["journalctl", "--sync"])
        r = self.c.run(["journalctl", "-o", "json", "--no-pager", "--after-cursor=" + (after or self.cursor0)])
        out = []
        for line in r.stdout.splitlines():
            e = json.loads(line)
            if all(e.get(k) == v for k, v in fields.items()):
                out.append(e)
        return out

    def messages(self, after=None, **fields):
        return [e["MESSAGE"] for e in self.journal(after, **fields) if isinstance(e.get("MESSAGE"), str)]

    def postmap_q(self, key):
        r = self.c.run(["postmap", "-q", key, "hash:" + MAP], check=False)
        return r.stdout.strip() if r.returncode == 0 else None

    def ctl(self, *args, check=True):
        return self.c.run([os.path.join(self.sbindir, "autoblacklistctl")] + list(args), check=check)

    def status(self):
        return self.ctl("status").stdout

    def journal_counts(self):
        """The numbers of the status line "journal: N entries read, N of mail
        programs, N refused as spoofed..., N lost (...)"."""
        line = [l for l in self.status().splitlines() if l.startswith("journal: ")][0]
        m = re.match(r"journal: (\d+) entries read, (\d+) of mail programs, (\d+) refused as spoofed.*, "
                     r"(\d+) lost \(", line)
        self.assertTrue(m, line)
        return dict(entries=int(m.group(1)), records=int(m.group(2)), spoofed=int(m.group(3)),
                    lost=int(m.group(4)), line=line)

    def session_fails(self, addr, n):
        """One SMTP session from addr that fails AUTH n times; the replies."""
        cl = self.lab.client(addr)
        cl.connect(h.SERVER4)
        cl.ehlo()
        replies = [cl.auth_plain(password="wrong %d" % i) for i in range(n)]
        cl.quit()
        return replies

    # --- the tests, in order ---------------------------------------------

    def test_1_the_shipped_unit_picks_and_follows_the_journal(self):
        t0 = time.monotonic()
        self.c.systemctl("enable", "--now", UNIT)
        print("systemctl enable --now: %.2fs" % (time.monotonic() - t0), file=sys.stderr)
        self.assertEqual(self.c.systemctl("is-active", UNIT, check=False).stdout.strip(), "active")
        show = self.c.systemctl("show", UNIT, "-p", "ProtectSystem,SupplementaryGroups,StatusText").stdout
        self.assertIn("ProtectSystem=strict", show)
        self.assertIn("systemd-journal", show)
        self.assertFalse(self.c.exists("/var/log/maillog") or self.c.exists("/var/log/mail.log"))
        st = self.status()
        self.assertRegex(st, r"(?m)^source: journal \(", st)
        msgs = self.messages(_SYSTEMD_UNIT=UNIT)
        self.assertTrue(any(m.startswith("ready: ") and "journal" in m for m in msgs), msgs)
        # it reads: Postfix's own start-up entries are in the journal, and a
        # client's session adds smtpd entries that the daemon takes
        before = self.journal_counts()
        cl = self.lab.client(GOOD)
        self.assertEqual(cl.connect(h.SERVER4).code, 220)
        cl.ehlo()
        cl.quit()
        self.c.wait_until(lambda: self.journal_counts()["records"] >= before["records"] + 2, timeout=10,
                          what="smtpd's connect and disconnect through the journal source")
        self.assertEqual(self.journal_counts()["spoofed"], 0, "Postfix's own entries pass the trust check")

    def test_2_a_real_clients_sasl_failures_are_banned_from_the_journal(self):
        t0 = time.monotonic()
        replies = self.session_fails(ATTACKER, 6)
        self.assertTrue(all(r.code == 535 for r in replies), replies)
        self.c.wait_until(lambda: (self.postmap_q(ATTACKER) or "").startswith("REJECT"), timeout=15,
                          what="the ban of %s in the map" % ATTACKER)
        print("6 AUTH failures to REJECT in the map: %.2fs" % (time.monotonic() - t0), file=sys.stderr)
        # smtpd's entries, as journald recorded them, are what the ban came from
        fails = self.journal(SYSLOG_IDENTIFIER="postfix/smtpd", _COMM="smtpd")
        fails = [e for e in fails if "[%s]: SASL PLAIN authentication failed" % ATTACKER in e["MESSAGE"]]
        self.assertEqual(len(fails), 6, fails)
        self.assertEqual(fails[0]["_TRANSPORT"], "syslog")
        self.assertEqual(fails[0]["_SYSTEMD_UNIT"], POSTFIX_UNIT)
        bans = [e for e in self.journal(_SYSTEMD_UNIT=UNIT, AUTOBLACKLIST_EVENT="ban")]
        self.assertEqual([e["AUTOBLACKLIST_ADDRESS"] for e in bans], [ATTACKER], bans)
        # the next connection: no AUTH offered, RCPT TO refused
        cl = self.lab.client(ATTACKER)
        self.assertEqual(cl.connect(h.SERVER4).code, 220)
        ehlo = cl.ehlo()
        self.assertNotIn("AUTH", ehlo.text)
        self.assertEqual(cl.auth_plain().code, 503)
        cl.cmd("MAIL FROM:<x@example.org>")
        r = cl.cmd("RCPT TO:<%s>" % LOCAL_RCPT)
        self.assertEqual(r.code, 554, r)
        cl.quit()
        # a good client still gets in
        cl = self.lab.client(GOOD)
        cl.connect(h.SERVER4)
        self.assertIn("AUTH", cl.ehlo().text)
        self.assertEqual(cl.auth_plain().code, 235)
        cl.quit()

    def test_3_a_forged_postfix_line_is_refused(self):
        before = self.journal_counts()
        after = self.cursor()
        line = ("warning: unknown[%s]: SASL PLAIN authentication failed: authentication failure" % FORGED)
        for _ in range(8):
            self.c.run(["logger", "-t", "postfix/smtpd", "-p", "mail.warning", line])
        self.c.wait_until(lambda: self.journal_counts()["spoofed"] >= before["spoofed"] + 8, timeout=10,
                          what="8 refused entries")
        got = self.journal_counts()
        # logger may exit before journald reads its /proc entry: then _COMM is
        # missing, and the entry is refused all the same
        self.assertRegex(got["line"], r"_COMM=(logger|\?) ")
        warns = [m for m in self.messages(after, _SYSTEMD_UNIT=UNIT) if m.startswith("journal: refused")]
        self.assertTrue(warns and re.search(r"_COMM=(logger|\?) ", warns[0]), warns)
        time.sleep(1)  # a ban would be in the map a debounce after the hit
        self.assertIsNone(self.postmap_q(FORGED))
        self.assertNotIn(FORGED, self.ctl("list").stdout)

    def test_4_journald_drops_count_as_lost_input(self):
        """journald's "Suppressed N messages" for Postfix's unit is lost input;
        for another unit whose name holds "postfix" it is not."""
        base = self.journal_counts()["lost"]
        # A unit that is not Postfix's: postfix-policyd, flooding under a low limit
        after = self.cursor()
        self.c.run(["systemd-run", "--wait", "--unit=postfix-policyd", "-p", "LogRateLimitIntervalSec=2s",
                    "-p", "LogRateLimitBurst=5", "-p", "SyslogIdentifier=policyd-spf", "sh", "-c",
                    "i=0; while [ $i -lt 100 ]; do echo flood $i; i=$((i+1)); done; sleep 2.5; echo after"],
                   timeout=30)
        drops = self.journal(after, MESSAGE_ID=DROPPED_ID)
        self.assertEqual(len(drops), 1, drops)
        self.assertEqual(drops[0]["MESSAGE"], "Suppressed %s messages from postfix-policyd.service"
                         % drops[0]["N_DROPPED"])
        time.sleep(0.5)
        self.assertEqual(self.journal_counts()["lost"], base, "another unit's drops are not ours")

        # Postfix's own unit, with a low limit, flooded by real SMTP sessions
        dropin = "/etc/systemd/system/%s.d/abl-nsp-ratelimit.conf" % POSTFIX_UNIT
        self.c.run(["mkdir", "-p", os.path.dirname(dropin)])
        self.c.write(dropin, "[Service]\nLogRateLimitIntervalSec=2s\nLogRateLimitBurst=5\n")
        self.c.systemctl("daemon-reload")
        self.c.systemctl("restart", POSTFIX_UNIT)
        self.c.wait_until(lambda: "192.0.2.1:25" in self.c.run(["ss", "-ltnH"]).stdout, timeout=20,
                          what="smtpd listening")
        after = self.cursor()
        t_end = time.monotonic() + 1.5
        n = 0
        while time.monotonic() < t_end and n < 60:
            cl = self.lab.client(GOOD)
            cl.connect(h.SERVER4)
            cl.quit()
            n += 1
        time.sleep(2.5)  # the next window: journald writes what it dropped
        for _ in range(2):
            cl = self.lab.client(GOOD)
            cl.connect(h.SERVER4)
            cl.quit()
        self.c.wait_until(lambda: self.journal(after, MESSAGE_ID=DROPPED_ID), timeout=10,
                          what="journald's Suppressed message for Postfix")
        drops = self.journal(after, MESSAGE_ID=DROPPED_ID)
        print("%d sessions; journald: %s" % (n, [d["MESSAGE"] for d in drops]), file=sys.stderr)
        for d in drops:
            self.assertEqual(d["_TRANSPORT"], "driver")
            self.assertEqual(d["MESSAGE"], "Suppressed %s messages from %s" % (d["N_DROPPED"], POSTFIX_UNIT))
        dropped = sum(int(d["N_DROPPED"]) for d in drops)
        self.c.wait_until(lambda: self.journal_counts()["lost"] == base + dropped, timeout=10,
                          what="%d lost in status (%s)" % (dropped, self.journal_counts()["line"]))
        warns = [m for m in self.messages(after, _SYSTEMD_UNIT=UNIT) if "journald dropped" in m]
        self.assertTrue(warns, "the daemon says so in its journal")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    why = container.missing()
    if why:
        su.skip(why)
    if not su.BUILD_ROOT or not os.path.exists(os.path.join(su.BUILD_ROOT, "meson-private")):
        su.skip("BUILD_ROOT is not set to the meson build folder")
    h.require()
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
