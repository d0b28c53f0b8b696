# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end harness: a real Postfix smtpd with real SASL, on TEST-NET
addresses of a network-namespace pair that the test creates, with the
built daemon following Postfix's own maillog and writing the maps that
this smtpd reads.

    with Lab() as lab:                       # namespaces, veth, addresses
        pf = lab.postfix(sasl="dovecot")     # a Postfix instance (+ Dovecot auth)
        d = lab.daemon(pf)                   # autoblacklistd on pf's maillog
        c = lab.client("192.0.2.2")          # an SMTP client bound to that address
        c.connect(pf.ipv4) ...

Layout (one Lab per test program; the names carry the process id, so that
tests that meson runs in parallel never collide):

    netns abl-e2e-s<pid>:  veth abl-e2e-s<hex pid>  192.0.2.1/24, 2001:db8::1/64, lo
                           postfix master, smtpd, postlogd; dovecot auth; autoblacklistd
    netns abl-e2e-c<pid>:  veth abl-e2e-c<hex pid>  192.0.2.2-.30, 2001:db8::2-::1e

Client sockets are made inside the client namespace by this process itself
(setns(2) around socket(2): a socket keeps the namespace it was made in),
so a session costs no fork and the time stamps are this process's own.

A daemon run some other way (say under a real systemd in systemd-nspawn,
with --network-namespace-path=/run/netns/<lab.srv>) needs only Lab and
Postfix: point it at pf.maillog, pf.access and pf.ehlo, with
"postmap -c <pf.conf>"; lab.client() and the checks work the same.
Postfix(extra={...}) overrides main.cf settings.

Nothing here touches /etc/postfix or the host's network: every Postfix
command gets "-c DIR", Postfix logs to DIR/maillog through its own postlogd
(maillog_file, no syslog), Cyrus SASL reads a private smtpd.conf
(cyrus_sasl_config_path) and a private sasldb, Dovecot runs with its own
config, base_dir and passwd-file.  Lab.close() (also from __exit__, and from
atexit) stops every process it started, deletes the namespaces and removes
the folder, also after a failure.
"""

import atexit
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("SOURCE_ROOT", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "test", "integration"))
import harness  # noqa: E402  (the integration harness: Env, the daemon's config)

DAEMON = harness.DAEMON
CTL = harness.CTL
SKIP = harness.SKIP
skip = harness.skip
wait_until = harness.wait_until

SERVER4 = "192.0.2.1"
SERVER6 = "2001:db8::1"
N_CLIENTS = 29  # 192.0.2.2 .. 192.0.2.30, 2001:db8::2 .. 2001:db8::1e
PREFIX = "abl-e2e-"
DOMAIN = "mx.example.test"
USER, PASSWORD = "alice", "correct horse"

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def client4(i):
    """The i-th client's IPv4 address (i from 0)."""
    return "192.0.2.%d" % (2 + i)


def client6(i):
    return "2001:db8::%x" % (2 + i)


def run(*argv, check=True, timeout=60, **kw):
    r = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


def run_detached(logpath, *argv, timeout=60):
    """Run a command that leaves a daemon behind: its output goes to a file
    (a pipe would stay open in the daemon, and we would wait for ever)."""
    with open(logpath, "a+") as out:
        r = subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=timeout)
        if r.returncode != 0:
            out.seek(0)
            raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode, out.read()))


def require():
    """Skip (or fail, in CI) unless this machine can run the e2e suite."""
    if os.geteuid() != 0:
        skip("the e2e suite needs root (network namespaces, postfix start)")
    if not DAEMON or not os.path.exists(DAEMON):
        skip("AUTOBLACKLISTD is not set to the built daemon")
    for prog in ("ip", "postfix", "postmap", "postconf", "dovecot", "saslpasswd2"):
        if not shutil.which(prog, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            skip("%s is not installed (test/install-deps installs it)" % prog)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


class Lab:
    """The namespace pair and everything started in it."""

    def __init__(self):
        self.tag = "%x" % os.getpid()
        self.srv = PREFIX + "s" + self.tag
        self.cli = PREFIX + "c" + self.tag
        self.dir = tempfile.mkdtemp(prefix=PREFIX)
        os.chmod(self.dir, 0o755)  # postfix's own users walk into it
        self.instances = []
        self.daemons = []
        self._n = 0
        self._closed = False
        atexit.register(self.close)
        # meson ends a test that runs too long with SIGTERM: tear down then too.
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            self._net()
        except BaseException:
            self.close()
            raise
        self._host_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        self._cli_ns = os.open("/run/netns/" + self.cli, os.O_RDONLY)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- network --------------------------------------------------------

    def _net(self):
        vs, vc = PREFIX + "s" + self.tag, PREFIX + "c" + self.tag
        assert len(vs) <= 15, vs
        run("ip", "netns", "add", self.srv)
        run("ip", "netns", "add", self.cli)
        run("ip", "link", "add", vs, "netns", self.srv, "type", "veth", "peer", "name", vc, "netns", self.cli)
        s = ["ip", "-n", self.srv]
        c = ["ip", "-n", self.cli]
        run(*s, "link", "set", "lo", "up")
        run(*c, "link", "set", "lo", "up")
        run(*s, "addr", "add", SERVER4 + "/24", "dev", vs)
        run(*s, "addr", "add", SERVER6 + "/64", "dev", vs, "nodad")
        for i in range(N_CLIENTS):
            run(*c, "addr", "add", client4(i) + "/24", "dev", vc)
            run(*c, "addr", "add", client6(i) + "/64", "dev", vc, "nodad")
        run(*s, "link", "set", vs, "up")
        run(*c, "link", "set", vc, "up")

    def in_server(self, *argv):
        """argv, to run in the server's namespace."""
        return ["ip", "netns", "exec", self.srv] + list(argv)

    def socket(self, family):
        """A socket made in the client namespace."""
        _setns(self._cli_ns)
        try:
            return socket.socket(family, socket.SOCK_STREAM)
        finally:
            _setns(self._host_ns)

    def client(self, addr):
        return Client(self, addr)

    # --- parts ------------------------------------------------------------

    def postfix(self, **kw):
        self._n += 1
        pf = Postfix(self, "pf%d" % self._n, **kw)
        self.instances.append(pf)
        pf.start()
        return pf

    def daemon(self, pf, **config):
        d = Daemon(self, pf, **config)
        self.daemons.append(d)
        d.start()
        return d

    def close(self):
        if self._closed:
            return
        self._closed = True
        # A second SIGTERM (timeout(1), then meson) must not cut the teardown short.
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            self._teardown()
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _teardown(self):
        for d in self.daemons:
            try:
                d.close()
            except Exception as e:  # go on tearing down
                print("teardown: daemon: %s" % e, file=sys.stderr)
        for pf in self.instances:
            try:
                pf.stop()
            except Exception as e:
                print("teardown: postfix: %s" % e, file=sys.stderr)
        for fd in ("_host_ns", "_cli_ns"):
            if hasattr(self, fd):
                os.close(getattr(self, fd))
        # Anything still in the server namespace (a stray smtpd) goes with it.
        r = run("ip", "netns", "pids", self.srv, check=False)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for ns in (self.srv, self.cli):
            run("ip", "netns", "del", ns, check=False)
        if os.environ.get("KEEP_TMP"):
            print("kept", self.dir, file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- Postfix -----------------------------------------------------------------

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command
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
flush     unix  n       -       n       1000?   0       flush
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
showq     unix  n       -       n       -       -       showq
"""


class Postfix:
    """One Postfix instance: its config folder, queue, maillog and SASL.

    smtpd listens on SERVER4 and SERVER6 port 25; sasl is "dovecot" or
    "cyrus".  The restrictions are the README's (see README.md, "Pointing
    Postfix at the map"), and the tests assert them from main.cf."""

    def __init__(self, lab, name, sasl="dovecot", extra=None):
        self.lab = lab
        self.name = name
        self.sasl = sasl
        self.dir = os.path.join(lab.dir, name)
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.maillog = os.path.join(self.dir, "log", "maillog")
        self.access = os.path.join(self.conf, "access")
        self.ehlo = os.path.join(self.conf, "autoblacklist-ehlo")
        self.recipients = os.path.join(self.conf, "recipients")
        self.extra = extra or {}
        self.dovecot = None
        self.ipv4, self.ipv6 = SERVER4, SERVER6
        for d in (self.conf, self.queue, self.data, os.path.dirname(self.maillog)):
            os.makedirs(d)
        os.chown(self.data, pwd_uid("postfix"), grp_gid("postfix"))

    def main_cf(self):
        m = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": DOMAIN,
            "mydomain": "example.test",
            "mydestination": DOMAIN,
            "myorigin": DOMAIN,
            "inet_interfaces": "%s, [%s]" % (SERVER4, SERVER6),
            "inet_protocols": "all",
            "mynetworks": "127.0.0.0/8",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": os.path.dirname(self.maillog),
            "smtpd_peername_lookup": "no",
            "smtp_dns_support_level": "disabled",
            "smtpd_banner": "$myhostname ESMTP",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "hash:" + self.recipients,
            "smtpd_helo_required": "yes",
            # What provokes the scenarios' rejections.
            "smtpd_helo_restrictions": "reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname",
            "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
            "smtpd_data_restrictions": "reject_unauth_pipelining",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_tls_security_level": "none",
            "smtpd_error_sleep_time": "0",
            "smtpd_soft_error_limit": "100",
            "smtpd_hard_error_limit": "20",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_auth_rate_limit": "0",
            "anvil_rate_time_unit": "60s",
        }
        if self.sasl == "dovecot":
            m["smtpd_sasl_type"] = "dovecot"
            m["smtpd_sasl_path"] = os.path.join(self.dir, "dovecot", "auth")
        else:
            m["smtpd_sasl_type"] = "cyrus"
            m["smtpd_sasl_path"] = "smtpd"
            # Upstream Postfix reads smtpd.conf from cyrus_sasl_config_path;
            # Debian's looks in $config_directory/sasl first.  One folder for both.
            m["cyrus_sasl_config_path"] = os.path.join(self.conf, "sasl")
            m["smtpd_sasl_local_domain"] = DOMAIN
        # The README's lines, word for word but for the folder: the tests
        # run what the README recommends.
        for k, v in readme_main_cf().items():
            m[k] = v.replace("/etc/postfix/", self.conf + "/")
        m.update(self.extra)
        return m

    def postconf(self, key):
        return run("postconf", "-c", self.conf, "-h", key).stdout.strip()

    def cmd(self, *args, check=True):
        """A postfix(1) command on this instance, in the server namespace."""
        try:
            run_detached(os.path.join(self.dir, "postfix.out"),
                         *self.lab.in_server("postfix", "-c", self.conf, *args), timeout=120)
        except RuntimeError:
            if check:
                raise

    def _postmap(self, path):
        run(*self.lab.in_server("postmap", "-c", self.conf, "hash:" + path))

    def start(self):
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in self.main_cf().items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        for p in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.conf, p), (0, 0))  # see harness.Env
        with open(self.recipients, "w") as f:
            f.write("%s@%s OK\npostmaster@%s OK\n" % (USER, DOMAIN, DOMAIN))
        for path in (self.access, self.ehlo):
            open(path, "w").close()
        for path in (self.recipients, self.access, self.ehlo):
            self._postmap(path)
        if self.sasl == "dovecot":
            self._start_dovecot()
        else:
            self._setup_cyrus()
        self.cmd("start")
        wait_until(lambda: self._listening(), 20, what="postfix %s listening" % self.name)

    def _listening(self):
        r = run(*self.lab.in_server("ss", "-ltnH"), check=False)
        return (":25 " in r.stdout or ":25\t" in r.stdout) and "[2001:db8::1]:25" in r.stdout

    def _start_dovecot(self):
        dv = os.path.join(self.dir, "dovecot")
        os.makedirs(os.path.join(dv, "run"))
        passwd = os.path.join(dv, "passwd")
        with open(passwd, "w") as f:
            f.write("%s:{PLAIN}%s::::::\n" % (USER, PASSWORD))
        conf = os.path.join(dv, "dovecot.conf")
        with open(conf, "w") as f:
            f.write("""\
protocols =
ssl = no
base_dir = {dv}/run
state_dir = {dv}/run
log_path = {dv}/dovecot.log
auth_mechanisms = plain login
auth_failure_delay = 0
disable_plaintext_auth = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {passwd}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener {sock} {{
    mode = 0666
  }}
}}
# Dovecot delays the answers to an address with recent failures, and for
# IPv6 to its whole /48: the well-behaved 2001:db8::1e would wait behind the
# attackers on 2001:db8::.  That is Dovecot's business, not ours; off.
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
""".format(dv=dv, passwd=passwd, sock=os.path.join(dv, "auth")))
        self.dovecot = conf
        run_detached(os.path.join(dv, "start.out"), *self.lab.in_server("dovecot", "-c", conf))
        sock = os.path.join(dv, "auth")
        wait_until(lambda: os.path.exists(sock), 10, what="dovecot's auth socket")

    def _setup_cyrus(self):
        cy = os.path.join(self.conf, "sasl")
        os.makedirs(cy)
        db = os.path.join(cy, "sasldb2")
        with open(os.path.join(cy, "smtpd.conf"), "w") as f:
            f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\n"
                    "sasldb_path: %s\n" % db)
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", db, "-u", DOMAIN, USER], input=PASSWORD,
                       text=True, check=True, capture_output=True)
        os.chown(db, 0, grp_gid("postfix"))
        os.chmod(db, 0o640)

    def stop(self):
        if os.path.exists(os.path.join(self.conf, "main.cf")):
            self.cmd("stop", check=False)
        if self.dovecot:
            pidfile = os.path.join(self.dir, "dovecot", "run", "master.pid")
            try:
                with open(pidfile) as f:
                    pid = int(f.read())
                os.kill(pid, signal.SIGTERM)
                wait_until(lambda: not os.path.exists("/proc/%d" % pid), 10, what="dovecot to stop")
            except (FileNotFoundError, ValueError, ProcessLookupError):
                pass
            self.dovecot = None

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_lines(self, pattern):
        return [l for l in self.log().splitlines() if re.search(pattern, l)]

    def lookup(self, path, key):
        r = run(*self.lab.in_server("postmap", "-c", self.conf, "-q", key, "hash:" + path), check=False)
        return r.stdout.strip() if r.returncode == 0 else None


def readme_main_cf():
    """The main.cf lines that README.md recommends ("Pointing Postfix at
    the map"), as a dict; continuation lines joined as Postfix does."""
    with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
        text = f.read()
    sec = text[text.index("## Pointing Postfix at the map"):]
    sec = sec[sec.index("`/etc/postfix/main.cf`"):]
    block = sec[sec.index("```\n") + 4:]
    block = block[:block.index("```")]
    out, key = {}, None
    for line in block.splitlines():
        if line[:1].isspace() and key:
            out[key] = (out[key] + " " + line.strip()).strip()
        elif "=" in line:
            key, value = (x.strip() for x in line.split("=", 1))
            out[key] = value
    assert "smtpd_client_restrictions" in out and "smtpd_discard_ehlo_keyword_address_maps" in out, out
    return out


def pwd_uid(name):
    import pwd
    return pwd.getpwnam(name).pw_uid


def grp_gid(name):
    import grp
    return grp.getgrnam(name).gr_gid


# --- the daemon ----------------------------------------------------------------

class Daemon(harness.Env):
    """The built autoblacklistd in the server's namespace (so that postmap
    -c accepts pf's inet_interfaces as local, and the server's addresses
    are this host's own), following pf's maillog and writing pf's access
    map and auth map, the files that pf's smtpd reads.  Everything of
    harness.Env works: status(), ctl(), stderr(), stop() ..."""

    def __init__(self, lab, pf, **config):
        self.lab = lab
        self.pf = pf
        self.wrap = ("ip", "netns", "exec", lab.srv)
        base = dict(
            log_file=pf.maillog,
            access_map="hash:" + pf.access,
            auth_map="hash:" + pf.ehlo,
            postmap="postmap -c %s" % pf.conf,
            debounce="100ms",
        )
        base.update(config)
        super().__init__(prefix=PREFIX + "d-", **base)

    def start(self, *args, **kw):
        """Start it, and keep reading its notify socket: sd_notify() blocks
        when the receiver's queue (net.unix.max_dgram_qlen, 10) is full,
        and every ban sends a STATUS=."""
        import threading
        r = super().start(*args, **kw)
        self._drain_stop = threading.Event()
        sock = self.notify

        def drain():
            while not self._drain_stop.is_set():
                try:
                    self.messages.append(sock.recv(4096).decode())
                except socket.timeout:
                    pass
                except OSError:
                    return
        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        return r

    def close(self):
        if getattr(self, "_drain_stop", None):
            self._drain_stop.set()
            self._drain.join()
        super().close()

    def bans(self):
        """The bans now (autoblacklistctl list --json), by address."""
        import json
        _, out, _ = self.ctl("list", "--json", check=0)
        return dict((b["address"], b) for b in json.loads(out))

    def banned(self):
        """The addresses and networks banned now."""
        return set(self.bans())

    def counters(self):
        """hits and the other counters of autoblacklistctl status, as ints."""
        st = self.status()
        m = re.match(r"(\d+) \(and (\d+) already banned, (\d+) never banned, (\d+) own rejections\)", st["hits"])
        return dict(hits=int(m.group(1)), already_banned=int(m.group(2)), exempt=int(m.group(3)),
                    own_rejects=int(m.group(4)))


# --- an SMTP client --------------------------------------------------------------

class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines
        self.text = "\n".join(lines)

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.text)


class Client:
    """A raw SMTP client bound to one client address (in the client
    namespace).  Raw, so that it can send what a real client would not:
    pipelined commands, non-SMTP text, quoted AUTH mechanism names."""

    def __init__(self, lab, addr):
        self.lab = lab
        self.addr = addr
        self.sock = None
        self.buf = b""
        self.last_reply_at = None

    def connect(self, server, port=25, timeout=10):
        fam = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.close()
        self.sock = self.lab.socket(fam)
        self.sock.settimeout(timeout)
        self.sock.bind((self.addr, 0))
        self.sock.connect((server, port))
        self.buf = b""
        return self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """Read one (multi-line) reply; Reply(-1) when the server closed."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                try:
                    chunk = self.sock.recv(4096)
                except (ConnectionResetError, socket.timeout):
                    chunk = b""
                if not chunk:
                    self.last_reply_at = time.monotonic()
                    return Reply(-1, lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode(errors="replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                self.last_reply_at = time.monotonic()
                try:
                    code = int(line[:3])
                except ValueError:
                    code = -1
                return Reply(code, lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def ehlo(self, name="client.example.org"):
        return self.cmd("EHLO " + name)

    def auth_plain(self, user=USER, password=PASSWORD):
        import base64
        tok = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
        return self.cmd("AUTH PLAIN " + tok)

    def quit(self):
        try:
            self.cmd("QUIT")
        except OSError:
            pass
        self.close()

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None


def main_unittest():
    """unittest.main() after the checks that skip the whole program."""
    import unittest
    require()
    harness.require_postmap()
    unittest.main(verbosity=2)
