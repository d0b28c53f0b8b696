#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate a realistic, deterministic Postfix + Dovecot maillog, and the
set of client addresses that should be banned (the ground truth).

    test/bench/genlog.py -n 1000000 -o /tmp/mail.log --truth /tmp/mail.truth

Lines come from sessions that interleave as on a busy server (about 20 at
once).  Most sessions are normal mail: inbound delivery through postscreen
and smtpd, authenticated submission with outbound delivery, local mail,
IMAP and POP3 logins, greylisted first attempts.  About --abuse of the
lines are abuse *events*, each naming the client that committed it: SASL
password guessing, relay probing, dictionary attacks, bad HELO names,
unknown senders, clients without reverse DNS, blocklisted clients, command
pipelining, non-SMTP commands, lost connections, rate limits, postscreen
verdicts, FCrDNS failures, and Dovecot login failures.

Traps are benign lines with the same keywords: a remote server's "User
unknown" about OUR outbound mail, greylisting, a dry-run reject_warning, a
lost connection after DATA, our resolver's temporary DNS failure.  In
--decoys of the sessions, a field the client writes (HELO name, sender,
recipient, SASL user name, command text, Subject header, Message-ID)
carries a decoy address: from documentation ranges, a benign client, the
server itself, or loopback.  A decoy is never the client of an event, so
banning one is always a false positive.

The truth is every attacker address that has at least one event line in
the output.  Attacker, benign and decoy pools are disjoint (benign clients
may appear as decoys, to frame real customers).  Same arguments, same
output.
"""

import argparse
import datetime
import ipaddress
import random
import sys

SERVER_V4, SERVER_V6 = "192.0.2.25", "2001:db8:25::25"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
RESERVED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/3")]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "info", "sales"]
GUESSES = ["admin", "info", "test", "user", "sales", "contact", "postmaster", "root", "webmaster",
           "office", "support", "info@example.org", "admin@example.org", "test@example.org"]
DICT = ["jdoe", "a.smith", "michael", "sarah", "finance", "hr", "ceo", "kontakt", "ventas", "test1"]
DOMAINS = ["example.com", "example.net", "mail.example.com", "lists.example.org", "shop.example",
           "bank.example", "partner.test", "news.example.net"]
BLOCKLISTS = ["zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "psbl.surriel.com"]


class Gen:
    def __init__(self, a):
        self.a = a
        self.r = random.Random(a.seed)
        self.used = set()
        self.pid = 1000
        self.attackers = [self.ip(6 if i % 4 == 3 else 4) for i in range(a.attackers)]
        self.benign = [self.ip(6 if i % 5 == 4 else 4) for i in range(a.clients)]
        self.names = {}
        self.pf = a.syslog_name
        self.events = {}          # attacker -> event lines written
        self.kinds = {}

    # --- identities --------------------------------------------------------
    def ip(self, v):
        r = self.r
        while True:
            if v == 4:
                a = ipaddress.IPv4Address(r.getrandbits(32))
                if any(a in n for n in RESERVED):
                    continue
            else:
                a = ipaddress.IPv6Address((r.choice([0x2001, 0x2400, 0x2600, 0x2a00, 0x2a01, 0x2c0f]) << 112)
                                          | (r.getrandbits(48) << 64)
                                          | (r.getrandbits(64) if r.random() < 0.5 else r.randrange(1, 300)))
                if a in ipaddress.ip_network("2001:db8::/32"):
                    continue
            s = str(a)
            if s not in self.used:
                self.used.add(s)
                return s

    def name(self, ip, attacker):
        n = self.names.get(ip)
        if n is None:
            r = self.r
            if r.random() < (0.6 if attacker else 0.05):
                n = "unknown"
            else:
                base = ip.replace(".", "-").replace(":", "-")
                n = ("%s.dyn.isp.example" % base) if attacker else r.choice(
                    ["mail%d.example.com" % r.randrange(99), "mx%d.example.net" % r.randrange(9),
                     "out%d.partner.test" % r.randrange(50), "%s.cable.example" % base])
            self.names[ip] = n
        return n

    def client(self, ip, attacker):
        c = "%s[%s]" % (self.name(ip, attacker), ip)
        if self.a.port_logging:
            c += ":%d" % self.r.randrange(1024, 65536)
        return c

    def npid(self):
        self.pid = self.pid + 1 + self.r.randrange(30)
        return self.pid

    def qid(self):
        return "%010X" % self.r.getrandbits(40)

    def decoy(self):
        r = self.r.random()
        if r < 0.4:
            return self.r.choice(["192.0.2.", "198.51.100.", "203.0.113."]) + str(self.r.randrange(1, 255))
        if r < 0.55:
            return "2001:db8:%x::%x" % (self.r.randrange(65536), self.r.randrange(1, 65536))
        if r < 0.85:
            return self.r.choice(self.benign)
        if r < 0.95:
            return self.r.choice([SERVER_V4, SERVER_V6])
        return self.r.choice(["127.0.0.1", "::1"])

    def decoy_text(self, where):
        d = self.decoy()
        lit = "[IPv6:%s]" % d if ":" in d else "[%s]" % d
        return self.r.choice({
            "helo": ["[%s]" % d, "unknown[%s]" % d, "from unknown[%s]" % d, lit,
                     "x]: SASL LOGIN authentication failed: from unknown[%s]" % d],
            "addr": ["spam@%s" % lit, '"unknown[%s]"@example.com' % d, '"[%s]"@example.org' % d,
                     '"lost connection after AUTH from unknown[%s]"@example.net' % d],
            "user": ["unknown[%s]" % d, "[%s]" % d, "from unknown[%s]" % d, "admin@%s" % lit],
            "cmd": ["EHLO [%s]\\r\\n" % d, "HELO unknown[%s]\\r\\n" % d, "GET http://%s/ HTTP/1.1" % d,
                    "from unknown[%s]" % d],
            "subject": ["Relay access denied from unknown[%s]" % d,
                        "warning: unknown[%s]: SASL LOGIN authentication failed" % d,
                        "NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 Relay access denied" % d],
        }[where])

    # --- sessions ------------------------------------------------------------
    # A session is a list of (tag, message, event client or None).
    def smtpd_tag(self, port=25):
        svc = {25: "smtpd", 587: "submission/smtpd", 465: "submissions/smtpd"}[port]
        return "%s/%s[%d]" % (self.pf, svc, self.npid())

    def ps(self, ip, lines, ok=True):
        tag = "%s/postscreen[%d]" % (self.pf, 900)
        port = self.r.randrange(1024, 65536)
        lines.append((tag, "CONNECT from [%s]:%d to [%s]:25" % (ip, port, SERVER_V6 if ":" in ip else SERVER_V4), None))
        if ok:
            lines.append((tag, "PASS %s [%s]:%d" % (self.r.choice(["OLD", "OLD", "NEW"]), ip, port), None))
        return tag, port

    def benign_session(self):
        r, ip = self.r, self.r.choice(self.benign)
        adv = r.random() < self.a.decoys
        kind = r.choices(["inbound", "submission", "imap", "local", "greylist", "after_data", "dns_trouble",
                          "warn_only", "our_dns_450", "health_check"], [40, 15, 15, 5, 4, 2, 1, 1, 1, 1])[0]
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        c, L = self.client(ip, False), []
        qid = self.qid()
        if kind == "imap":
            proto = r.choice(["imap", "imap", "pop3"])
            L.append(("dovecot", "%s-login: Login: user=<%s@example.org>, method=PLAIN, rip=%s, lip=%s, mpid=%d, TLS, "
                      "session=<%x>" % (proto, r.choice(USERS), ip, SERVER_V4, self.npid(), r.getrandbits(48)), None))
            L.append(("dovecot", "%s(%s@example.org)<%d><%x>: Logged out in=%d out=%d" % (
                proto, r.choice(USERS), self.pid, r.getrandbits(48), r.randrange(999), r.randrange(99999)), None))
            return L
        if kind == "local":
            L.append(("%s/pickup[901]" % self.pf, "%s: uid=0 from=<root>" % qid, None))
            L.append(("%s/cleanup[%d]" % (self.pf, self.npid()), "%s: message-id=<%s@mx.example.org>" % (qid, qid), None))
            L.append(("%s/qmgr[902]" % self.pf, "%s: from=<root@mx.example.org>, size=%d, nrcpt=1 (queue active)" % (qid, r.randrange(500, 9000)), None))
            L.append(("%s/local[%d]" % (self.pf, self.npid()), "%s: to=<root@mx.example.org>, orig_to=<root>, relay=local, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)" % qid, None))
            L.append(("%s/qmgr[902]" % self.pf, "%s: removed" % qid, None))
            return L
        if kind == "dns_trouble":
            tag = self.smtpd_tag()
            L.append((tag, "warning: hostname %s does not resolve to address %s: Temporary failure in name resolution"
                      % (self.name(ip, False).replace("unknown", "mail.example.com"), ip), None))
            L.append((tag, "connect from unknown[%s]" % ip, None))
            L.append((tag, "disconnect from unknown[%s] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5" % ip, None))
            return L
        port = 587 if kind == "submission" else 25
        if port == 25 and self.a.postscreen:
            self.ps(ip, L)
        tag = self.smtpd_tag(port)
        helo = self.name(ip, False) if self.name(ip, False) != "unknown" else "mail.example.com"
        sender = "%s@%s" % (r.choice(USERS + DICT), r.choice(DOMAINS))
        if adv and r.random() < 0.5:
            helo = self.decoy_text("helo")
        elif adv:
            sender = self.decoy_text("addr")
        rcpt = "%s@example.org" % r.choice(USERS)
        L.append((tag, "connect from %s" % c, None))
        L.append((tag, "Anonymous TLS connection established from %s: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" % c, None))
        if kind == "greylist":
            L.append((tag, "NOQUEUE: reject: RCPT from %s: 450 4.2.0 <%s>: Recipient address rejected: Greylisted, see "
                      "https://postgrey.schweikert.ch/help/example.org.html; from=<%s> to=<%s> proto=ESMTP helo=<%s>"
                      % (c, rcpt, sender, rcpt, helo), None))
            L.append((tag, "disconnect from %s ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4" % c, None))
            return L
        if kind == "our_dns_450":
            # our resolver failing: smtpd answers 450 to a real sender, which retries later
            L.append((tag, "NOQUEUE: reject: RCPT from unknown[%s]: 450 4.7.25 Client host rejected: cannot find your "
                      "hostname, [%s]; from=<%s> to=<%s> proto=ESMTP helo=<%s>" % (ip, ip, sender, rcpt, helo), None))
            L.append((tag, "disconnect from unknown[%s] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4" % ip, None))
            return L
        if kind == "health_check":
            # a monitoring check: EHLO, QUIT and a hang-up before the reply
            L.append((tag, "improper command pipelining after QUIT from %s:" % c, None))
            L.append((tag, "disconnect from %s ehlo=1 quit=1 commands=2" % c, None))
            return L
        if kind == "warn_only":
            L.append((tag, "NOQUEUE: reject_warning: RCPT from %s: 450 4.7.25 Client host rejected: cannot find your hostname, "
                      "[%s]; from=<%s> to=<%s> proto=ESMTP helo=<%s>" % (c, ip, sender, rcpt, helo), None))
        extra = ", sasl_method=PLAIN, sasl_username=%s@example.org" % r.choice(USERS) if kind == "submission" else ""
        L.append((tag, "%s: client=%s%s" % (qid, c, extra), None))
        if kind == "submission" and r.random() < 0.2:
            # a logged-in user's mail client with stale recipients: a real user, never an event
            for _ in range(r.randrange(1, 13)):
                stale = "%s@example.org" % r.choice(DICT)
                L.append((tag, "%s: reject: RCPT from %s: 550 5.1.1 <%s>: Recipient address rejected: User unknown "
                          "in local recipient table; from=<%s> to=<%s> proto=ESMTP helo=<%s>"
                          % (qid, c, stale, sender, stale, helo), None))
        msgid = "<%x@%s>" % (r.getrandbits(64), r.choice(DOMAINS))
        if adv and r.random() < 0.3:
            msgid = "<%s>" % self.decoy_text("user")
        ctag = "%s/cleanup[%d]" % (self.pf, self.npid())
        L.append((ctag, "%s: message-id=%s" % (qid, msgid), None))
        subject = "Invoice %d" % r.randrange(9999) if not (adv and r.random() < 0.5) else self.decoy_text("subject")
        L.append((ctag, "%s: info: header Subject: %s from %s; from=<%s> to=<%s> proto=ESMTP helo=<%s>"
                  % (qid, subject, c, sender, rcpt, helo), None))
        L.append(("%s/qmgr[902]" % self.pf, "%s: from=<%s>, size=%d, nrcpt=1 (queue active)" % (qid, sender, r.randrange(900, 90000)), None))
        if kind == "after_data":
            L.append((tag, "lost connection after DATA (%d bytes) from %s" % (r.randrange(99999), c), None))
            L.append((tag, "disconnect from %s ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4" % c, None))
            return L
        auth = " auth=1" if kind == "submission" else ""
        L.append((tag, "disconnect from %s ehlo=1%s mail=1 rcpt=1 data=1 quit=1 commands=%d" % (c, auth, 5 + bool(auth)), None))
        if kind == "submission":
            mx = r.choice(self.benign)
            stag = "%s/smtp[%d]" % (self.pf, self.npid())
            x = r.random()
            if x < 0.9:
                L.append((stag, "%s: to=<%s@%s>, relay=mx.%s[%s]:25, delay=1.1, delays=0.1/0/0.4/0.6, dsn=2.0.0, status=sent (250 2.0.0 OK)"
                          % (qid, r.choice(DICT), r.choice(DOMAINS), r.choice(DOMAINS), mx), None))
            elif x < 0.95:   # trap: a remote server's "User unknown" about our mail
                to = "%s@%s" % (r.choice(DICT), r.choice(DOMAINS))
                L.append((stag, "%s: to=<%s>, relay=mx.example.net[%s]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.1.1, status=bounced "
                          "(host mx.example.net[%s] said: 550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual "
                          "mailbox table (in reply to RCPT TO command))" % (qid, to, mx, mx, to), None))
            else:            # trap: a remote server cannot resolve US
                L.append((stag, "%s: to=<x@example.net>, relay=mx.example.net[%s]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=4.7.1, "
                          "status=deferred (host mx.example.net[%s] said: 450 4.7.1 Client host rejected: cannot find your "
                          "hostname, [%s] (in reply to RCPT TO command))" % (qid, mx, mx, SERVER_V4), None))
        else:
            L.append(("%s/lmtp[%d]" % (self.pf, self.npid()), "%s: to=<%s>, relay=mx[private/dovecot-lmtp], delay=0.1, delays=0.05/0/0/0.05, dsn=2.0.0, status=sent (250 2.0.0 <%s> Saved)" % (qid, rcpt, rcpt), None))
            L.append(("dovecot", "lmtp(%s)<%d><%x>: msgid=%s: saved mail to INBOX" % (rcpt, self.npid(), r.getrandbits(48), msgid), None))
        L.append(("%s/qmgr[902]" % self.pf, "%s: removed" % qid, None))
        return L

    def abuse_session(self):
        r = self.r
        ip = r.choice(self.attackers) if r.random() < 0.5 else self.attackers[self.n_abuse % len(self.attackers)]
        self.n_abuse += 1
        adv = r.random() < self.a.decoys
        kind = r.choices(["sasl", "relay", "user_unknown", "no_hostname", "fcrdns", "helo", "lost", "pipelining",
                          "non_smtp", "pregreet", "dnsbl", "ps_other", "dovecot", "rate", "sender", "rbl", "no_rcpt"],
                         [30, 10, 9, 7, 4, 6, 12, 5, 4, 5, 6, 3, 6, 2, 3, 2, 2])[0]
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        c, L = self.client(ip, True), []
        E = ip   # marks an event line

        if kind == "dovecot":
            for _ in range(r.randrange(1, 4)):
                user = r.choice(GUESSES)
                L.append(("dovecot", "%s-login: Disconnected (auth failed, %d attempts in %d secs): user=<%s>, method=PLAIN, "
                          "rip=%s, lip=%s, TLS, session=<%x>" % (r.choice(["imap", "pop3"]), r.randrange(1, 4),
                                                                 r.randrange(1, 30), user, ip, SERVER_V4, r.getrandbits(48)), E))
            return L
        if kind in ("pregreet", "dnsbl", "ps_other"):
            tag, port = self.ps(ip, L, ok=False)
            if kind == "pregreet":
                data = self.decoy_text("cmd") if adv else r.choice(["EHLO User\\r\\n", "\\r\\n", "QUIT\\r\\n"])
                L.append((tag, "PREGREET %d after %.2f from [%s]:%d: %s" % (len(data), r.uniform(0, 5), ip, port, data), E))
            elif kind == "dnsbl":
                L.append((tag, "DNSBL rank %d for [%s]:%d" % (r.randrange(3, 9), ip, port), E))
                L.append((tag, "NOQUEUE: reject: RCPT from [%s]:%d: 550 5.7.1 Service unavailable; client [%s] blocked "
                          "using %s; from=<%s@%s>, to=<%s@example.org>, proto=ESMTP, helo=<%s>"
                          % (ip, port, ip, r.choice(BLOCKLISTS), r.choice(DICT), r.choice(DOMAINS), r.choice(USERS),
                             self.decoy_text("helo") if adv else "User"), E))
            else:
                L.append((tag, r.choice(["HANGUP after %.2f from [%s]:%d in tests before SMTP handshake" % (r.uniform(0, 9), ip, port),
                                         "BARE NEWLINE from [%s]:%d after EHLO" % (ip, port),
                                         "COMMAND TIME LIMIT from [%s]:%d after CONNECT" % (ip, port),
                                         "COMMAND COUNT LIMIT from [%s]:%d after RCPT" % (ip, port),
                                         "NON-SMTP COMMAND from [%s]:%d after CONNECT: GET / HTTP/1.1" % (ip, port)]), E))
            L.append((tag, "DISCONNECT [%s]:%d" % (ip, port), None))
            return L

        port = r.choice([25, 587, 465]) if kind in ("sasl", "lost") else 25
        if port == 25 and self.a.postscreen:
            self.ps(ip, L)
        tag = self.smtpd_tag(port)
        if kind == "fcrdns":
            ptr = "%s.dyn.isp.example" % ip.replace(".", "-").replace(":", "-")
            L.append((tag, "warning: hostname %s does not resolve to address %s%s" % (
                ptr, ip, r.choice([": Name or service not known", ""])), E))
            c = "unknown[%s]" % ip
        L.append((tag, "connect from %s" % c, None))
        helo = self.decoy_text("helo") if adv and kind not in ("sasl",) else r.choice(["User", "ylmf-pc", "WIN-7XK2", "mail.example.com"])
        sender = self.decoy_text("addr") if adv and r.random() < 0.5 else "%s@%s" % (r.choice(DICT), r.choice(DOMAINS))
        rcpt = "%s@example.org" % r.choice(DICT)

        def reject(text, cmd="RCPT", rc=None):
            rc = rc or rcpt
            return (tag, "NOQUEUE: reject: %s from %s: %s; from=<%s> to=<%s> proto=ESMTP helo=<%s>" % (cmd, c, text, sender, rc, helo), E)

        if kind == "sasl":
            k = r.randrange(1, 8)
            for i in range(k):
                user = self.decoy_text("user") if adv and i == 0 else r.choice(GUESSES)
                mech = r.choice(["LOGIN", "LOGIN", "PLAIN", "CRAM-MD5"])
                L.append((tag, "warning: %s: SASL %s authentication failed: %s, sasl_username=%s" % (
                    c, mech, "UGFzc3dvcmQ6" if mech == "LOGIN" else "authentication failure", user), E))
            end = r.random()
            if end < 0.5:
                # repeats the failures above: the same failed session, not another event
                L.append((tag, "lost connection after AUTH from %s" % c, None))
            elif end < 0.65:
                L.append((tag, "too many errors after AUTH from %s" % c, E))
            L.append((tag, "disconnect from %s ehlo=1 auth=0/%d commands=1/%d" % (c, k, k + 1), E))
            return L
        if kind == "relay":
            to = "%s@%s" % (r.choice(DICT), r.choice(DOMAINS))
            if adv and r.random() < 0.5:
                to = self.decoy_text("addr")
            L.append(reject("554 5.7.1 <%s>: Relay access denied" % to, rc=to))
        elif kind == "user_unknown":
            table = r.choice(["local recipient", "virtual mailbox", "virtual alias", "relay recipient"])
            for _ in range(r.randrange(1, 9)):
                to = self.decoy_text("addr") if adv and r.random() < 0.3 else "%s@example.org" % r.choice(DICT)
                L.append(reject("550 5.1.1 <%s>: Recipient address rejected: User unknown in %s table" % (to, table), rc=to))
            if r.random() < 0.3:
                L.append((tag, "too many errors after RCPT from %s" % c, E))
        elif kind in ("no_hostname", "fcrdns"):
            if kind == "no_hostname" or r.random() < 0.5:
                # the permanent reject (unknown_client_reject_code = 550): a 450 can be our own
                # resolver failing, and is a trap (our_dns_450), not an event
                L.append(reject("550 %s Client host rejected: cannot find your %shostname, [%s]" % (
                    r.choice(["5.7.1", "5.7.25"]), r.choice(["", "reverse "]), ip)))
        elif kind == "helo":
            reason = r.choice(["501 5.5.2 <%s>: Helo command rejected: Invalid name",
                               "504 5.5.2 <%s>: Helo command rejected: need fully-qualified hostname",
                               "450 4.7.1 <%s>: Helo command rejected: Host not found"])
            L.append(reject(reason % helo))
        elif kind == "lost":
            # not after AUTH: that repeats a SASL failure of the session (kind "sasl")
            L.append((tag, "lost connection after %s from %s" % (r.choice(["CONNECT", "EHLO", "STARTTLS", "UNKNOWN"]), c), E))
        elif kind == "pipelining":
            data = self.decoy_text("cmd") if adv else "EHLO User\\r\\nAUTH LOGIN\\r\\n"
            L.append((tag, "improper command pipelining after %s from %s: %s" % (r.choice(["CONNECT", "EHLO"]), c, data), E))
        elif kind == "non_smtp":
            L.append((tag, "warning: non-SMTP command from %s: %s" % (c, self.decoy_text("cmd") if adv else "GET / HTTP/1.1"), E))
        elif kind == "rate":
            L.append((tag, "warning: Connection rate limit exceeded: %d from %s for service smtp" % (r.randrange(31, 99), c), E))
        elif kind == "sender":
            s = self.decoy_text("addr") if adv else "%s@nowhere-%d.example" % (r.choice(DICT), r.randrange(999))
            sender = s
            L.append(reject("450 4.1.8 <%s>: Sender address rejected: Domain not found" % s))
        elif kind == "rbl":
            L.append(reject("554 5.7.1 Service unavailable; Client host [%s] blocked using %s" % (ip, r.choice(BLOCKLISTS))))
        elif kind == "no_rcpt":
            L.append(reject("550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table" % rcpt))
            L.append(reject("554 5.5.1 Error: no valid recipients", cmd="DATA"))
        L.append((tag, "disconnect from %s ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4" % c, None))
        return L

    # --- main loop -------------------------------------------------------------
    def run(self, out):
        a, r = self.a, self.r
        self.n_abuse = 0
        active, written, events = [], 0, 0
        t = datetime.datetime.fromisoformat(a.start)
        buf = []
        while written < a.lines:
            while len(active) < 20:
                if events < a.abuse * max(written, 1):
                    s = self.abuse_session()
                    events += sum(1 for x in s if x[2])
                else:
                    s = self.benign_session()
                active.append([s, 0])
            i = r.randrange(len(active))
            s = active[i]
            tag, msg, ev = s[0][s[1]]
            s[1] += 1
            if s[1] == len(s[0]):
                active[i] = active[-1]
                active.pop()
            t += datetime.timedelta(seconds=r.expovariate(a.rate))
            if a.timestamp == "rfc3339":
                stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
            else:
                stamp = "%s %2d %s" % (MONTHS[t.month - 1], t.day, t.strftime("%H:%M:%S"))
            buf.append("%s %s %s: %s\n" % (stamp, a.hostname, tag, msg))
            if ev:
                self.events[ev] = self.events.get(ev, 0) + 1
            written += 1
            if len(buf) >= 8192:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
        return sorted(self.events, key=lambda x: (":" in x, ipaddress.ip_address(x)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--lines", type=int, default=100000)
    p.add_argument("-o", "--output", default="-")
    p.add_argument("--truth", help="write the addresses that should be banned here")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--abuse", type=float, default=0.15, help="fraction of lines that are abuse events")
    p.add_argument("--decoys", type=float, default=0.05, help="fraction of sessions with a decoy in a client field")
    p.add_argument("--attackers", type=int, default=4000)
    p.add_argument("--clients", type=int, default=5000, help="benign clients")
    p.add_argument("--rate", type=float, default=20.0, help="lines per second, for the time stamps")
    p.add_argument("--start", default="2026-11-30T00:00:00")
    p.add_argument("--timestamp", choices=("rfc3164", "rfc3339"), default="rfc3164")
    p.add_argument("--hostname", default="mx")
    p.add_argument("--syslog-name", default="postfix")
    p.add_argument("--port-logging", action="store_true", help="smtpd_client_port_logging = yes")
    p.add_argument("--no-postscreen", dest="postscreen", action="store_false")
    a = p.parse_args()
    g = Gen(a)
    out = sys.stdout if a.output == "-" else open(a.output, "w")
    truth = g.run(out)
    if out is not sys.stdout:
        out.close()
    if a.truth:
        with open(a.truth, "w") as f:
            f.write("".join(x + "\n" for x in truth))
    sys.stderr.write("genlog: %d lines, %d event lines, %d addresses to ban (%d IPv6)\n" % (
        a.lines, sum(g.events.values()), len(truth), sum(1 for x in truth if ":" in x)))


if __name__ == "__main__":
    main()
