# SPDX-License-Identifier: GPL-3.0-or-later
"""Detection that fits real logs, on the built daemon (issue 14): hits and
bans on the log's own time (a catch-up over hours), RFC 5424 lines, a
logged-in session's rejects, a health check from the LAN, a changed
timestamp format that must not pass in silence, and --test --replay.
Real postmap; the map is read back with postmap -q.
"""

import datetime
import json
import os
import subprocess
import time

import harness
from harness import DaemonTest, wait_until


def at(t):
    """An RFC 3164 stamp (local time, no year) for Unix time t."""
    return time.strftime("%b %e %H:%M:%S", time.localtime(t))


def sasl(t, addr, pid=4100):
    return ("%s mx postfix/smtpd[%d]: warning: unknown[%s]: SASL LOGIN authentication failed: "
            "UGFzc3dvcmQ6, sasl_username=admin" % (at(t), pid, addr))


def unknown_user(t, addr, rcpt, pid, qid="NOQUEUE", tag="postfix/submission/smtpd"):
    return ("%s mx %s[%d]: %s: reject: RCPT from pc.example.org[%s]: 550 5.1.1 <%s>: Recipient address "
            "rejected: User unknown in local recipient table; from=<ann@example.org> to=<%s> proto=ESMTP "
            "helo=<pc>" % (at(t), tag, pid, qid, addr, rcpt, rcpt))


def smtpd(t, pid, msg, tag="postfix/submission/smtpd"):
    return "%s mx %s[%d]: %s" % (at(t), tag, pid, msg)


def bans(env):
    _, out, _ = env.ctl("list", "--json", check=0)
    return {b["address"]: b for b in json.loads(out)}


def iso(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class LogTime(DaemonTest):
    CONFIG = {"start_at": "beginning"}

    def test_catch_up_over_hours(self):
        """start_at = beginning over a log of the last five hours: three
        failures hours apart do not ban; three within find_time do, from
        the time of the third; three within find_time but long ago would
        be over by now and are not imposed."""
        env, now = self.env, time.time()
        env.append(
            sasl(now - 5 * 3600, "198.51.100.7"),
            sasl(now - 4 * 3600 + 60, "198.51.100.9"),   # three within a minute, four hours ago
            sasl(now - 4 * 3600 + 70, "198.51.100.9"),
            sasl(now - 4 * 3600 + 80, "198.51.100.9"),
            sasl(now - 3 * 3600, "198.51.100.7"),
            sasl(now - 1800, "198.51.100.8"),            # three within five minutes, half an hour ago
            sasl(now - 1700, "198.51.100.8"),
            sasl(now - 1500, "198.51.100.8"),
            sasl(now - 3600, "198.51.100.7"))
        env.start()
        wait_until(lambda: env.postmap_q("198.51.100.8"), what="198.51.100.8 in the map")
        wait_until(lambda: "not banning 198.51.100.9" in env.stderr(), what="the old burst told")
        b = bans(env)
        self.assertEqual(set(b), {"198.51.100.8"})
        self.assertIsNone(env.postmap_q("198.51.100.7"))
        self.assertIsNone(env.postmap_q("198.51.100.9"))
        # the ban counts from the third failure's time (1500 s ago), for 1 h
        banned = iso(b["198.51.100.8"]["banned"])
        self.assertLess(abs(banned - (now - 1500)), 3)
        self.assertLess(abs(iso(b["198.51.100.8"]["expires"]) - (now - 1500 + 3600)), 3)
        self.assertIn("not imposed (over by their log time)", env.status()["bans"])
        self.assertIn("1 not imposed", env.status()["bans"])

    def test_rfc5424_lines_ban(self):
        """rsyslog's RSYSLOG_SyslogProtocol23Format: parsed, timed, counted."""
        env = self.env
        env.start()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        env.append(*["<20>1 %s mx postfix/smtpd 4242 - - warning: unknown[198.51.100.30]: SASL LOGIN "
                     "authentication failed: UGFzc3dvcmQ6, sasl_username=x" % stamp] * 3)
        wait_until(lambda: env.postmap_q("198.51.100.30"), what="the RFC 5424 client in the map")


class Sessions(DaemonTest):

    def test_logged_in_session_rejects_do_not_count(self):
        """A mail client that logged in sends to twelve stale recipients
        (user-unknown bans at 10): never banned.  The same twelve rejects
        without a login ban; and once the session is over, the next one
        of the same smtpd process counts again."""
        env, now = self.env, time.time()
        env.start()
        office, other = "198.51.100.20", "198.51.100.21"
        lines = [smtpd(now, 3001, "connect from pc.example.org[%s]" % office),
                 smtpd(now, 3001, "4F1A2B3C4D: client=pc.example.org[%s], sasl_method=PLAIN, "
                                  "sasl_username=ann@example.org" % office)]
        lines += [unknown_user(now, office, "old%d@example.org" % i, 3001, qid="4F1A2B3C4D") for i in range(12)]
        lines += [smtpd(now, 3001, "disconnect from pc.example.org[%s] ehlo=1 auth=1 mail=1 rcpt=1/13 data=1 "
                                   "quit=1 commands=6/18" % office)]
        # the control: no login, the same rejects
        lines += [smtpd(now, 3002, "connect from pc.example.org[%s]" % other)]
        lines += [unknown_user(now, other, "old%d@example.org" % i, 3002) for i in range(12)]
        env.append(*lines)
        wait_until(lambda: env.postmap_q(other), what="the client that did not log in, in the map")
        self.assertIsNone(env.postmap_q(office))
        self.assertNotIn("ban %s" % office, env.stderr())
        st = env.status()
        self.assertIn("12 hits of theirs not counted", st.get("logged-in sessions", ""))
        self.assertIn("0 held", st["logged-in sessions"])
        # after the disconnect, the same process serves the office again without a login
        env.append(smtpd(now, 3001, "connect from pc.example.org[%s]" % office),
                   *[unknown_user(now, office, "new%d@example.org" % i, 3001) for i in range(10)])
        wait_until(lambda: env.postmap_q(office), what="the office, now without a login, in the map")

    def test_lost_connection_after_auth_counts_the_session_once(self):
        """A failed login, 'lost connection after AUTH' and its disconnect
        (auth=0/1): one sasl-auth-failed hit and one auth-failed-session
        hit; the lost connection is no third."""
        env, now = self.env, time.time()
        env.start()
        a = "198.51.100.40"
        env.append(smtpd(now, 3100, "connect from unknown[%s]" % a, tag="postfix/smtpd"),
                   sasl(now, a, pid=3100),
                   smtpd(now, 3100, "lost connection after AUTH from unknown[%s]" % a, tag="postfix/smtpd"),
                   smtpd(now, 3100, "disconnect from unknown[%s] ehlo=1 auth=0/1 commands=1/2" % a,
                         tag="postfix/smtpd"))
        wait_until(lambda: env.status()["hits"].startswith("2 "), what="two hits")
        time.sleep(0.3)
        self.assertTrue(env.status()["hits"].startswith("2 "), env.status()["hits"])
        self.assertIn("hit %s: rule sasl-auth-failed (1/3)" % a, env.stderr())
        self.assertIn("hit %s: rule auth-failed-session (1/3)" % a, env.stderr())


class LanHealthCheck(DaemonTest):
    # the shipped default: private space is never banned
    CONFIG = {"ban_private": None}

    def test_health_check_every_5s_for_a_minute_is_never_banned(self):
        """A load balancer's check from 10.0.0.5 every 5 s for a minute:
        connect, EHLO, QUIT before the reply, a hang-up.  Thirteen
        'lost connection after CONNECT' would ban (lost-connection: 5 in
        10 min) a public address; this one is never banned."""
        env = self.env
        with open(env.conf) as f:
            self.assertNotIn("ban_private", f.read())
        env.start()
        self.assertIn("private address space: never banned (ban_private = no)", env.stderr())
        now = time.time()
        for client in ("10.0.0.5", "198.51.100.5"):
            lines = []
            for i in range(13):
                t, pid = now - 60 + 5 * i, 5000 + i
                lines += [smtpd(t, pid, "connect from unknown[%s]" % client, tag="postfix/smtpd"),
                          smtpd(t, pid, "improper command pipelining after QUIT from unknown[%s]:" % client,
                                tag="postfix/smtpd"),
                          smtpd(t, pid, "lost connection after CONNECT from unknown[%s]" % client,
                                tag="postfix/smtpd"),
                          smtpd(t, pid, "disconnect from unknown[%s] ehlo=1 quit=1 commands=2" % client,
                                tag="postfix/smtpd")]
            env.append(*lines)
        # the public twin is banned: the lines do count ...
        wait_until(lambda: env.postmap_q("198.51.100.5"), what="the public twin in the map")
        wait_until(lambda: "13 never banned" in env.status()["hits"], what="the 13 checks read")
        # ... but never for 10.0.0.5
        self.assertIsNone(env.postmap_q("10.0.0.5"))
        self.assertNotIn("ban 10.0.0.5", env.stderr())
        self.assertNotIn("10.0.0.5", bans(env))
        self.assertIn("never banned (ban_private = no)", env.status()["private addresses"])


class LogHealth(DaemonTest):

    def test_changed_timestamp_format_is_said_once(self):
        """The syslog template changes to a stamp we cannot read: a warning
        (once), STATUS and status say so; when the format is back, a
        notice and status is ok again."""
        env, now = self.env, time.time()
        env.start()
        good = [smtpd(now, 6000 + i, "connect from mail.example.com[192.0.2.%d]" % (i % 200 + 1),
                      tag="postfix/smtpd") for i in range(300)]
        env.append(*good)
        wait_until(lambda: env.status()["lines read"].startswith("300 "), what="the good lines read")
        self.assertEqual(env.status()["log health"], "ok")
        stamp = time.strftime("%d/%m/%Y %H:%M:%S")
        bad = ["%s mx postfix/smtpd[%d]: connect from mail.example.com[192.0.2.1]" % (stamp, 7000 + i)
               for i in range(1000)]
        env.append(*bad)
        wait_until(lambda: "no syslog header we can read" in env.status()["log health"], what="status says it")
        wait_until(lambda: any("no syslog header we can read" in m for m in env.messages + env.read_notify()),
                   what="STATUS= says it")
        self.assertEqual(env.stderr().count("have no syslog header we can read"), 1, env.stderr())
        env.append(*good * 2)
        wait_until(lambda: env.status()["log health"] == "ok", what="status ok again")
        self.assertIn("the log lines have a readable syslog header again", env.stderr())
        self.assertEqual(env.stderr().count("have no syslog header we can read"), 1)


class SilentRules(DaemonTest):
    CONFIG = {"start_at": "beginning"}

    def test_smtpd_lines_for_hours_without_a_match_are_said_once(self):
        """Seven hours of smtpd lines (2,500) and not one match, as after
        an upgrade that changed the texts: a warning, once; status says
        it; the next match ends it."""
        env, now = self.env, time.time()
        env.append(*[smtpd(now - 7 * 3600 + 10 * i, 8000 + i, "connect from mail.example.com[192.0.2.%d]"
                           % (i % 200 + 1), tag="postfix/smtpd") for i in range(2500)])
        env.start()
        wait_until(lambda: "no rule has matched" in env.status()["log health"], what="status says it")
        self.assertEqual(env.stderr().count("no rule has matched"), 1, env.stderr())
        env.append(sasl(time.time(), "198.51.100.60"))
        wait_until(lambda: env.status()["log health"] == "ok", what="status ok after a match")
        self.assertIn("a rule matches again", env.stderr())


class Replay(DaemonTest):

    def replay(self, lines, *args):
        path = os.path.join(self.env.dir, "replay.log")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([harness.DAEMON, "--rules", harness.RULES] + list(args) + ["--test", path, "--replay"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [l.split("\t") for l in r.stdout.splitlines() if l.startswith("BAN\t")], r.stdout

    def test_replay_prints_the_bans_of_the_policy(self):
        t0 = time.time() - 86400
        hits = [(t0 + s, "198.51.100.50") for s in (0, 10, 20)]            # a ban (1 h)
        hits += [(t0 + 7200 + s, "198.51.100.50") for s in (0, 10, 20)]    # after it: a repeat offender
        hits += [(t0 + s, "198.51.100.51") for s in (1, 3600, 7201)]       # spread out: no ban, not close
        hits += [(t0 + 30 + s, "198.51.100.52") for s in (0, 10)]          # two of three: came close
        hits += [(t0 + 40 + s, "10.1.2.3") for s in (0, 10, 20)]           # private: never banned
        lines = [sasl(t, a) for t, a in sorted(hits)]
        got, out = self.replay(lines)
        self.assertEqual([g[2:] for g in got], [["198.51.100.50", "sasl-auth-failed", "3"]] * 2, out)
        self.assertEqual(got[0][1], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t0 + 20))))
        self.assertIn("of repeat offenders", out)
        self.assertIn("1 of repeat offenders", out)
        self.assertRegex(out, r"#   sasl-auth-failed +2\n")
        self.assertIn("#   198.51.100.52\tsasl-auth-failed\t2/3", out)
        self.assertNotIn("198.51.100.51\t", out.split("came close")[1])
        # the never-ban list of -c
        conf = os.path.join(self.env.dir, "replay.conf")
        with open(conf, "w") as f:
            f.write("ignore = 198.51.100.50\n")
        got, out = self.replay(lines, "-c", conf)
        self.assertEqual(got, [], out)

    def test_replay_bans_ipv6_networks_as_the_daemon_does(self):
        """Three banned hosts of one /64 ban the /64 (ipv6_net_hosts); nine
        failures spread over nine addresses of another /64 ban that one
        (max_hits 3 x ipv6_net_factor 3)."""
        t0 = time.time() - 3600
        hits = [(t0 + 10 * h + s, "2001:db8:1:2::%d" % (h + 1)) for h in range(3) for s in (0, 1, 2)]
        hits += [(t0 + 100 + i, "2001:db8:5:6::%x" % (i + 1)) for i in range(9)]
        got, out = self.replay([sasl(t, a) for t, a in sorted(hits)])
        self.assertEqual([g[2:] for g in got], [
            ["2001:db8:1:2::1", "sasl-auth-failed", "3"],
            ["2001:db8:1:2::2", "sasl-auth-failed", "3"],
            ["2001:db8:1:2::3", "sasl-auth-failed", "3"],
            ["2001:db8:1:2::/64", "ipv6-network", "3"],
            ["2001:db8:5:6::/64", "sasl-auth-failed", "9"]], out)


if __name__ == "__main__":
    harness.main()
