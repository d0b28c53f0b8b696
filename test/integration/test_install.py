# SPDX-License-Identifier: GPL-3.0-or-later
"""meson install --destdir: the installed tree, the conffile rules (a changed
config is never overwritten), and the uninstall script."""

import hashlib
import json
import os
import stat
import subprocess
import tempfile
import unittest

import harness

BUILD_ROOT = os.environ.get("BUILD_ROOT", "")


def build_options():
    r = subprocess.run(["meson", "introspect", "--buildoptions", BUILD_ROOT], capture_output=True, text=True,
                       check=True)
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Install(unittest.TestCase):

    def setUp(self):
        if not BUILD_ROOT:
            self.fail("BUILD_ROOT is not set")
        o = build_options()
        self.prefix = o["prefix"]
        def p(opt):
            v = o[opt]
            return v if v.startswith("/") else os.path.join(self.prefix, v)
        self.sbindir, self.mandir, self.datadir = p("sbindir"), p("mandir"), p("datadir")
        self.confdir = os.path.join(p("sysconfdir"), "postfix-autoblacklist")
        self.pkgdatadir = os.path.join(self.datadir, "postfix-autoblacklist")
        self.tmp = tempfile.TemporaryDirectory(prefix="abl-install-")
        self.dest = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def install(self):
        r = subprocess.run(["meson", "install", "-C", BUILD_ROOT, "--destdir", self.dest, "--no-rebuild"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def d(self, path):
        return self.dest + path

    def installed_unit(self):
        for root, _, files in os.walk(self.dest):
            if "postfix-autoblacklist.service" in files:
                return os.path.join(root, "postfix-autoblacklist.service")
        return None

    def test_installed_tree(self):
        self.install()
        for exe in ("autoblacklistd", "autoblacklistctl"):
            path = self.d(os.path.join(self.sbindir, exe))
            self.assertTrue(os.stat(path).st_mode & stat.S_IXUSR, path)
        for page in ("man8/autoblacklistd.8", "man8/autoblacklistctl.8", "man5/autoblacklist.conf.5",
                     "man5/autoblacklist.rules.5"):
            self.assertTrue(os.path.exists(self.d(os.path.join(self.mandir, page))), page)
        self.assertTrue(os.path.exists(self.d(os.path.join(self.confdir, "autoblacklist.conf"))))
        rules = sorted(os.listdir(self.d(os.path.join(self.confdir, "rules"))))
        self.assertEqual(rules, ["dovecot.rules", "postfix-postscreen.rules", "postfix-sasl.rules",
                                 "postfix-smtpd.rules"])
        unit = self.installed_unit()
        self.assertTrue(unit, "the systemd unit")
        with open(unit) as f:
            self.assertIn("\nExecStart=%s/autoblacklistd\n" % self.sbindir, f.read())
        catalogs = [os.path.join(r, f) for r, _, fs in os.walk(self.dest) for f in fs if f.endswith(".catalog")]
        self.assertEqual([os.path.basename(c) for c in catalogs], ["postfix-autoblacklist.catalog"])
        self.assertTrue(os.stat(self.d(os.path.join(self.pkgdatadir, "uninstall"))).st_mode & stat.S_IXUSR)
        # the installed programs run, and the installed config and rules are valid
        daemon = self.d(os.path.join(self.sbindir, "autoblacklistd"))
        r = subprocess.run([daemon, "--version"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        r = subprocess.run([daemon, "-c", self.d(os.path.join(self.confdir, "autoblacklist.conf")), "--rules",
                            self.d(os.path.join(self.confdir, "rules")), "--check"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(": %d rules OK" % harness.shipped_rule_count(), r.stderr)

    def test_a_changed_config_is_never_overwritten(self):
        self.install()
        conf = self.d(os.path.join(self.confdir, "autoblacklist.conf"))
        sasl = self.d(os.path.join(self.confdir, "rules", "postfix-sasl.rules"))
        manifest = self.d(os.path.join(self.pkgdatadir, "conffiles.sha256"))
        shipped_sasl = sha256(sasl)
        with open(conf, "a") as f:
            f.write("log_file = /var/log/mail.log\n")
        mine = sha256(conf)
        # an older shipped version of a rule file, unchanged by the admin: an
        # upgrade replaces it
        with open(sasl, "w") as f:
            f.write("# an older version\n")
        with open(manifest) as f:
            lines = [l for l in f.read().splitlines() if not l.endswith("/postfix-sasl.rules")]
        lines.append("%s %s" % (sha256(sasl), os.path.join(self.confdir, "rules", "postfix-sasl.rules")))
        with open(manifest, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.install()
        self.assertEqual(sha256(conf), mine, "the admin's config is kept")
        self.assertTrue(os.path.exists(conf + ".dist"), "the new default beside it")
        self.assertEqual(sha256(sasl), shipped_sasl, "an unchanged old version is updated")
        self.assertFalse(os.path.exists(sasl + ".dist"))

    def test_uninstall_keeps_what_you_changed_unless_purge(self):
        self.install()
        conf = self.d(os.path.join(self.confdir, "autoblacklist.conf"))
        with open(conf, "a") as f:
            f.write("ban_time = 2h\n")
        uninstall = self.d(os.path.join(self.pkgdatadir, "uninstall"))
        r = subprocess.run([uninstall], capture_output=True, text=True, env=dict(os.environ, DESTDIR=self.dest))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kept %s: you changed it" % conf, r.stdout)
        self.assertIn("the bans in the access map stay", r.stdout)
        left = sorted(os.path.join(root, f)[len(self.dest):] for root, _, fs in os.walk(self.dest) for f in fs)
        self.assertEqual(left, [os.path.join(self.confdir, "autoblacklist.conf")])
        # --purge removes it too
        self.install()
        with open(conf, "a") as f:
            f.write("ban_time = 3h\n")
        r = subprocess.run([uninstall, "--purge"], capture_output=True, text=True,
                           env=dict(os.environ, DESTDIR=self.dest))
        self.assertEqual(r.returncode, 0, r.stderr)
        left = [f for _, _, fs in os.walk(self.dest) for f in fs]
        self.assertEqual(left, [])

    def test_uninstall_checks_its_options(self):
        self.install()
        uninstall = self.d(os.path.join(self.pkgdatadir, "uninstall"))
        env = dict(os.environ, DESTDIR=self.dest)
        r = subprocess.run([uninstall, "--bogus"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option", r.stderr)
        r = subprocess.run([uninstall, "--flush"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 1, "--flush needs the running daemon")
        self.assertTrue(os.path.exists(self.d(os.path.join(self.sbindir, "autoblacklistd"))), "nothing removed")
        r = subprocess.run([uninstall, "--help"], capture_output=True, text=True, env=env)
        self.assertIn("--purge", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
