#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet mode: daemons that share their bans through a real PostgreSQL.

The test starts its own cluster from Debian's postgresql package: initdb
and pg_ctl as an unprivileged user (nobody, through setpriv, when the test
runs as root), in a temporary folder, listening on a unix socket in that
folder only (listen_addresses = '').  Each test gets a database of its own,
and two or three daemons, each with its own folder and map; what smtpd
would see is checked with postmap -q.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Env, sasl_fail, wait_until  # noqa: E402

PASSWORD = "s3cret-of-the-fleet"


def pg_bin():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


class Postgres:
    """A throwaway cluster: unix socket in its folder, no TCP, no fsync."""

    def __init__(self):
        self.bin = pg_bin()
        self.dir = tempfile.mkdtemp(prefix="abl-fleet-pg-")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "postgres.log")
        self.wrapper = []
        if os.geteuid() == 0:
            # the server refuses to run as root
            os.chown(self.dir, 65534, 65534)
            self.wrapper = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        self.run("initdb", "-D", self.data, "-U", "abl", "-A", "trust", "-E", "UTF8", "--no-sync")
        # one role that must give its password (the first matching line wins)
        hba = os.path.join(self.data, "pg_hba.conf")
        with open(hba) as f:
            text = f.read()
        with open(hba, "w") as f:
            f.write("local all fleetpw scram-sha-256\n" + text)
        self.start()

    def run(self, prog, *args, check=True, input=None):
        r = subprocess.run(self.wrapper + [os.path.join(self.bin, prog)] + list(args), capture_output=True,
                           text=True, cwd=self.dir, input=input, timeout=120,
                           env=dict(os.environ, HOME=self.dir, PGTZ="UTC"))
        if check and r.returncode != 0:
            raise AssertionError("%s %s: exit %d\n%s%s" % (prog, " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "60", "-o",
                 "-c listen_addresses='' -k %s -c fsync=off -c max_connections=50" % self.dir, "start")

    def kill(self):
        """The database dies (SIGQUIT to every backend, no shutdown checkpoint)."""
        self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def stop(self):
        self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)

    def pids(self):
        """The postmaster and its children."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            main = int(f.readline())
        kids = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True).stdout.split()
        return [main] + [int(k) for k in kids]

    def freeze(self, sig):
        """SIGSTOP: a database that hangs (the sockets stay open, nothing answers); SIGCONT."""
        for pid in self.pids():
            os.kill(pid, sig)

    def sql(self, query, db="postgres"):
        r = self.run("psql", "-X", "-q", "-A", "-t", "-h", self.dir, "-U", "abl", "-d", db, "-v", "ON_ERROR_STOP=1",
                     "-c", query)
        return r.stdout.strip()

    def conninfo(self, db):
        # the password is ignored (trust), but must never show in a log or status
        return "host=%s dbname=%s user=abl password=%s connect_timeout=5" % (self.dir, db, PASSWORD)

    def close(self):
        self.stop()
        if os.environ.get("KEEP_TMP"):
            print("kept", self.dir, file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


PG = None


def setUpModule():
    global PG
    if not harness.DAEMON or not os.path.exists(harness.DAEMON):
        raise unittest.SkipTest("AUTOBLACKLISTD is not set to the built daemon")
    if not pg_bin():
        harness.skip("PostgreSQL (Debian's postgresql package) is not installed")
    harness.require_postmap()
    PG = Postgres()


def tearDownModule():
    if PG:
        PG.close()


class Fleet(unittest.TestCase):
    DB_SEQ = [0]

    def setUp(self):
        Fleet.DB_SEQ[0] += 1
        self.db = "fleet%d" % Fleet.DB_SEQ[0]
        PG.sql("CREATE DATABASE %s" % self.db)
        self.envs = []

    def tearDown(self):
        failed = any(t is self for t, _ in getattr(self._outcome, "result").failures +
                     getattr(self._outcome, "result").errors) if hasattr(self._outcome, "result") else False
        for env in self.envs:
            if failed:
                sys.stderr.write("--- %s stderr ---\n%s" % (env.config.get("fleet_name", "-"), env.stderr()))
            env.close()

    def host(self, name, start=True, **config):
        env = Env(fleet=PG.conninfo(self.db), fleet_name=name, **config)
        self.envs.append(env)
        if start:
            self.start(env)
        return env

    def start(self, env):
        env.start()
        wait_until(lambda: env.status()["fleet"].startswith("connected"), timeout=10,
                   what="%s connected to the fleet" % env.config["fleet_name"])

    def banned(self, env, addr):
        v = env.postmap_q(addr)
        return v is not None and "REJECT" in v


    def auth_q(self, env, addr):
        r = subprocess.run([harness.POSTMAP, "-c", env.pfdir, "-q", addr,
                            "hash:" + os.path.join(env.dir, "autoblacklist-ehlo")], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    def test_a_ban_imported_after_a_local_flush_closes_auth_too(self):
        a, b = self.host("mx-a"), self.host("mx-b")
        a.ctl("ban", "203.0.113.70", check=0)
        wait_until(lambda: self.auth_q(b, "203.0.113.70"), timeout=5, what="A's ban in B's auth map")
        b.ctl("flush", "--yes", check=0)
        wait_until(lambda: self.auth_q(b, "203.0.113.70") is None, timeout=5, what="the flush of B's auth map")
        a.ctl("ban", "203.0.113.71", check=0)
        wait_until(lambda: self.banned(b, "203.0.113.71"), timeout=5, what="A's new ban in B's access map")
        wait_until(lambda: self.auth_q(b, "203.0.113.71"), timeout=5, what="A's new ban in B's auth map")
    def rows(self, where="true"):
        return PG.sql("SELECT host(network), origin, active FROM bans WHERE %s ORDER BY network" % where, self.db)

    # --- the tests --------------------------------------------------------

    def test_ban_reaches_the_other_map_and_unban_lifts_everywhere(self):
        a, b = self.host("mx-a"), self.host("mx-b")
        # a ban from the log on A (the rule's 3 failures)
        a.append(*[sasl_fail("203.0.113.10")] * 3)
        wait_until(lambda: self.banned(a, "203.0.113.10"), timeout=5, what="A's own ban")
        took = wait_until(lambda: self.banned(b, "203.0.113.10"), timeout=5, what="A's ban in B's map")
        self.assertLess(took, 1.0)
        # and by hand, timed from the command
        a.ctl("ban", "198.51.100.20", check=0)
        t0 = time.monotonic()
        wait_until(lambda: self.banned(b, "198.51.100.20"), timeout=5, interval=0.01, what="B's map")
        self.assertLess(time.monotonic() - t0, 1.0, "ban on A -> postmap -q on B")
        _, out, _ = b.ctl("list", check=0)
        line = next(l for l in out.splitlines() if l.startswith("198.51.100.20 "))
        self.assertTrue(line.endswith("from mx-a"), line)
        _, out, _ = a.ctl("list", check=0)
        self.assertNotIn("from", next(l for l in out.splitlines() if l.startswith("198.51.100.20 ")))
        self.assertIn("remote bans", b.status()["fleet changes"])
        self.assertRegex(b.status()["fleet changes"], r" 2 remote bans")

        # an unban on B lifts it on A (and on B)
        b.ctl("unban", "198.51.100.20", check=0)
        wait_until(lambda: not self.banned(a, "198.51.100.20"), timeout=1.0, what="the unban on A")
        # each map is written on its own: B's may come a moment after A's
        wait_until(lambda: not self.banned(b, "198.51.100.20"), timeout=1.0, what="the unban on B")
        self.assertTrue(self.banned(a, "203.0.113.10"), "only that one")
        self.assertIn("lifted on the fleet by mx-b", a.stderr())

        # flush stays local; flush --fleet lifts it everywhere
        b.ctl("flush", "--yes", check=0)
        self.assertFalse(self.banned(b, "203.0.113.10"))
        time.sleep(0.5)
        self.assertTrue(self.banned(a, "203.0.113.10"), "a plain flush on B leaves A's bans")
        b.ctl("ban", "192.0.2.99", check=0)
        wait_until(lambda: self.banned(a, "192.0.2.99"), timeout=2, what="B's new ban on A")
        a.ctl("flush", "--yes", "--fleet", check=0)
        wait_until(lambda: not self.banned(b, "192.0.2.99"), timeout=2, what="flush --fleet on B")
        self.assertFalse(self.banned(a, "203.0.113.10"))
        self.assertEqual(PG.sql("SELECT count(*) FROM bans WHERE active", self.db), "0")

        for env in (a, b):
            self.assertNotIn(PASSWORD, env.stderr())
            _, out, _ = env.ctl("status", check=0)
            self.assertNotIn(PASSWORD, out)

    def test_local_exemption_wins(self):
        a = self.host("mx-a")
        b = self.host("mx-b", start=False)
        b.write_map("203.0.113.50 OK\n")
        self.start(b)
        a.ctl("ban", "203.0.113.50", check=0)
        a.ctl("ban", "203.0.113.51", check=0)
        wait_until(lambda: self.banned(b, "203.0.113.51"), timeout=2, what="the other ban on B")
        wait_until(lambda: "is not imposed here" in b.stderr(), timeout=2, what="B's log of the refusal")
        self.assertIn("mx-a's ban of 203.0.113.50 (rule manual) is not imposed here: never banned", b.stderr())
        self.assertEqual(b.postmap_q("203.0.113.50"), "OK", "the admin's OK entry answers, no REJECT")
        self.assertTrue(self.banned(a, "203.0.113.50"))
        # loopback too, if a host of the fleet publishes it (by hand, in SQL)
        PG.sql("INSERT INTO bans (network, rule, origin, expires_at) VALUES ('127.0.0.1/32', 'x', 'mx-z', "
               "now() + interval '1 hour')", self.db)
        wait_until(lambda: "mx-z's ban of 127.0.0.1" in b.stderr(), timeout=2, what="the loopback refusal")
        self.assertIsNone(b.postmap_q("127.0.0.1"))
        self.assertRegex(b.status()["fleet changes"], r" 2 not imposed here")

    def test_database_down_both_ban_locally_and_catch_up(self):
        a, b = self.host("mx-a"), self.host("mx-b")
        a.ctl("ban", "198.51.100.1", check=0)
        wait_until(lambda: self.banned(b, "198.51.100.1"), timeout=2, what="the first ban on B")
        PG.kill()
        # a failure below must not leave the next tests without a database
        self.addCleanup(lambda: os.path.exists(os.path.join(PG.data, "postmaster.pid")) or PG.start())
        wait_until(lambda: a.status()["fleet"].startswith("down"), timeout=15, what="A sees the database down")
        # both keep banning, from their logs
        a.append(*[sasl_fail("203.0.113.71")] * 3)
        b.append(*[sasl_fail("203.0.113.72")] * 3)
        wait_until(lambda: self.banned(a, "203.0.113.71") and self.banned(b, "203.0.113.72"), timeout=5,
                   what="local bans with the database down")
        wait_until(lambda: "1 queued" in a.status()["fleet changes"], timeout=2, what="A's queued change")

        def down_said():  # STATUS= goes out on the loop's next turns, not at once
            a.read_notify()
            return any("fleet database down, banning locally" in m for m in a.messages)
        wait_until(down_said, timeout=5, what="STATUS= saying the database is down")
        self.assertFalse(self.banned(a, "203.0.113.72"))
        PG.start()
        wait_until(lambda: self.banned(a, "203.0.113.72") and self.banned(b, "203.0.113.71"), timeout=15,
                   what="the bans made meanwhile on the other host")
        self.assertTrue(self.banned(b, "198.51.100.1"))
        # nothing duplicated: one row each, still of its origin; one line each in the maps
        self.assertEqual(self.rows(), "198.51.100.1|mx-a|t\n203.0.113.71|mx-a|t\n203.0.113.72|mx-b|t")
        for env in (a, b):
            text = env.read_map()
            for addr in ("198.51.100.1", "203.0.113.71", "203.0.113.72"):
                self.assertEqual(text.count("\n%s REJECT " % addr), 1, text)
        wait_until(lambda: "0 queued" in a.status()["fleet changes"], timeout=2, what="A's queue empty")
        self.assertRegex(a.status()["fleet changes"], r" 1 remote bans")
        self.assertRegex(b.status()["fleet changes"], r" 2 remote bans")
        time.sleep(0.5)
        # nothing looped back: the origins did not change
        self.assertEqual(self.rows(), "198.51.100.1|mx-a|t\n203.0.113.71|mx-a|t\n203.0.113.72|mx-b|t")

    def test_database_that_hangs_never_stalls_banning(self):
        a, b = self.host("mx-a"), self.host("mx-b")
        PG.freeze(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            # each ban makes A push to the hung database; the next must not wait for it
            for i in range(3):
                a.append(*[sasl_fail("203.0.113.8%d" % i)] * 3)
                wait_until(lambda: self.banned(a, "203.0.113.8%d" % i), timeout=3, what="a local ban")
                t = time.monotonic()
                a.status()
                self.assertLess(time.monotonic() - t, 1.0, "the control socket answers at once")
            self.assertLess(time.monotonic() - t0, 6)
            wait_until(lambda: a.status()["fleet"].startswith("down"), timeout=20, what="A gives up on it")
            self.assertIn("no answer within 10s", a.status()["fleet"])
        finally:
            PG.freeze(signal.SIGCONT)
        wait_until(lambda: all(self.banned(b, "203.0.113.8%d" % i) for i in range(3)), timeout=40,
                   what="the bans on B once the database answers again")

    def test_names_from_the_fleet_are_bounded(self):
        b = self.host("mx-b")
        # a host that invents a rule name a ban must not fill the daemon's name table
        PG.sql("INSERT INTO bans (network, rule, origin, expires_at) SELECT ('198.18.0.0'::inet + i)::cidr, "
               "'rule' || i, 'mx-z', now() + interval '1 hour' FROM generate_series(1, 1100) i", self.db)
        wait_until(lambda: "1100 remote bans" in b.status()["fleet changes"], timeout=10, what="all imposed")
        _, out, _ = b.ctl("list", "--json", check=0)
        rules = [x["rule"] for x in json.loads(out)]
        self.assertEqual(len(rules), 1100)
        self.assertEqual(rules.count("fleet"), 1100 - 1023, "1024 names: mx-z and 1023 rules")
        self.assertEqual(len(set(rules)), 1024)

    def test_changes_queued_at_a_stop_are_not_lost(self):
        a, b = self.host("mx-a"), self.host("mx-b")
        PG.kill()
        # a failure below must not leave the next tests without a database
        self.addCleanup(lambda: os.path.exists(os.path.join(PG.data, "postmaster.pid")) or PG.start())
        wait_until(lambda: a.status()["fleet"].startswith("down"), timeout=15, what="A sees the database down")
        a.ctl("ban", "198.51.100.40", check=0)
        self.assertIn("1 queued", a.status()["fleet changes"])
        self.assertEqual(a.stop(), 0)  # the queue dies with the process
        PG.start()
        self.start(a)
        wait_until(lambda: self.banned(b, "198.51.100.40"), timeout=15, what="A's ban made before its stop, on B")
        self.assertEqual(self.rows(), "198.51.100.40|mx-a|t")

    def test_restarted_daemon_catches_up_and_late_one_gets_everything(self):
        a, b = self.host("mx-a"), self.host("mx-b")
        a.ctl("ban", "198.51.100.5", check=0)
        a.ctl("ban", "2001:db8::5", check=0)
        wait_until(lambda: self.banned(b, "198.51.100.5") and self.banned(b, "2001:db8::5"), timeout=2, what="B")
        self.assertEqual(b.stop(), 0)
        # the state file keeps the remote bans as remote
        with open(b.state) as f:
            self.assertIn(" from=mx-a", f.read())
        a.ctl("ban", "198.51.100.6", check=0)
        a.ctl("unban", "198.51.100.5", check=0)
        a.ctl("ban", "203.0.113.9", "2s", check=0)  # expires before the third host comes
        self.start(b)
        wait_until(lambda: self.banned(b, "198.51.100.6"), timeout=3, what="B catches up the ban")
        wait_until(lambda: not self.banned(b, "198.51.100.5"), timeout=3, what="B catches up the unban")
        _, out, _ = b.ctl("list", check=0)
        self.assertIn("from mx-a", next(l for l in out.splitlines() if l.startswith("2001:db8::5 ")))
        wait_until(lambda: not self.banned(b, "203.0.113.9"), timeout=5, what="the short ban expired on B")
        wait_until(lambda: PG.sql("SELECT count(*) FROM bans WHERE host(network) = '203.0.113.9'", self.db) == "0",
                   timeout=35, what="the expired row deleted")
        b.ctl("ban", "192.0.2.7", check=0)
        c = self.host("mx-c")
        wait_until(lambda: all(self.banned(c, x) for x in ("198.51.100.6", "2001:db8::5", "192.0.2.7")), timeout=3,
                   what="the third host has every unexpired ban")
        self.assertFalse(self.banned(c, "198.51.100.5"))
        self.assertFalse(self.banned(c, "203.0.113.9"))
        self.assertRegex(c.status()["fleet changes"], r" 3 remote bans")

    def test_bad_connection_string_is_a_config_error_without_the_password(self):
        env = Env(fleet="host=/nowhere password=%s nosuchkey=1" % PASSWORD, fleet_name="mx-a")
        self.envs.append(env)
        r = subprocess.run([harness.DAEMON, "-c", env.conf], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertRegex(r.stderr, r"autoblacklist.conf:\d+: fleet: not a PostgreSQL connection string")
        self.assertNotIn(PASSWORD, r.stderr)
        env.write_config(fleet="postgresql://abl:%s@/postgres?host=%s" % (PASSWORD, PG.dir), fleet_name="mx a")
        r = subprocess.run([harness.DAEMON, "-c", env.conf], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("fleet_name: 'mx a' is not", r.stderr)
        # a URI works, and its password is not shown
        env.write_config(fleet="postgresql://abl:%s@/%s?host=%s" % (PASSWORD, self.db, PG.dir), fleet_name="mx-u")
        self.start(env)
        self.assertNotIn(PASSWORD, env.stderr())

    def test_password_file(self):
        PG.sql("CREATE ROLE fleetpw LOGIN PASSWORD '%s'" % PASSWORD)
        try:
            PG.sql("CREATE DATABASE %s_pw OWNER fleetpw" % self.db)
            passfile = os.path.join(tempfile.mkdtemp(prefix="abl-fleet-pass-"), "pgpass")
            self.addCleanup(shutil.rmtree, os.path.dirname(passfile), True)
            with open(passfile, "w") as f:
                f.write("*:*:*:fleetpw:%s\n" % PASSWORD)
            os.chmod(passfile, 0o600)
            env = Env(fleet="host=%s dbname=%s_pw user=fleetpw sslmode=disable" % (PG.dir, self.db), fleet_name="mx-p")
            self.envs.append(env)
            # without it: refused, the daemon runs on and says why
            env.start(env={"PGPASSFILE": os.path.join(env.dir, "none")})
            wait_until(lambda: env.status()["fleet"].startswith("down"), timeout=10, what="refused")
            self.assertIn("password", env.status()["fleet"])
            env.ctl("ban", "198.51.100.60", check=0)
            wait_until(lambda: self.banned(env, "198.51.100.60"), timeout=3, what="a local ban meanwhile")
            env.stop()
            env.start(env={"PGPASSFILE": passfile})
            wait_until(lambda: env.status()["fleet"].startswith("connected"), timeout=10, what="the password file")
            wait_until(lambda: PG.sql("SELECT origin FROM bans", self.db + "_pw") == "mx-p", timeout=5,
                       what="the ban in the table")
            self.assertNotIn(PASSWORD, env.stderr())
        finally:
            for e in self.envs:
                e.stop()
            PG.sql("DROP DATABASE IF EXISTS %s_pw" % self.db)
            PG.sql("DROP ROLE fleetpw")

    def test_off_by_default(self):
        env = Env()
        self.envs.append(env)
        env.start()
        self.assertEqual(env.status()["fleet"], "off")
        env.ctl("ban", "198.51.100.77", check=0)
        _, out, _ = env.ctl("list", check=0)
        self.assertNotIn("from", out)
        self.assertNotIn("from=", open(env.state).read() if os.path.exists(env.state) else "")
        r = env.ctl("flush", "--yes", "--fleet")
        self.assertEqual(r[0], 1, r)
        self.assertIn("fleet mode is off", r[2])

    def test_libpq_is_loaded_only_for_a_fleet(self):
        # libpq and what it drags in (TLS, Kerberos, LDAP: about 5 MB of
        # resident pages) are dlopen()ed by the fleet alone.
        def maps_libpq(env):
            with open("/proc/%d/maps" % env.proc.pid) as f:
                return "libpq.so" in f.read()

        alone = Env()
        self.envs.append(alone)
        alone.start()
        self.assertFalse(maps_libpq(alone), "a daemon without a fleet has libpq mapped")
        shared = self.host("a")
        self.assertTrue(maps_libpq(shared), "the fleet's daemon does not have libpq mapped")


if __name__ == "__main__":
    harness.main()
