# SPDX-License-Identifier: GPL-3.0-or-later
"""The corpus (test/corpus/*.txt) through `autoblacklistd --test` with the
shipped rules: every line's verdict must be exactly the expected one.

A case is "VERDICT<TAB>LOG LINE", where VERDICT is "ADDRESS RULE" or "-".
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

CORPUS = os.path.join(harness.SOURCE_ROOT, "test", "corpus")


def load(path):
    """[(source line number, verdict or None, log line)]"""
    cases = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for n, raw in enumerate(f, 1):
            raw = raw.rstrip("\n")
            if not raw or raw.startswith("#"):
                continue
            if "\t" not in raw:
                raise AssertionError("%s:%d: no TAB between verdict and line" % (path, n))
            verdict, line = raw.split("\t", 1)
            if verdict == "-":
                cases.append((n, None, line))
            else:
                parts = verdict.split()
                if len(parts) != 2:
                    raise AssertionError("%s:%d: verdict must be 'ADDRESS RULE' or '-'" % (path, n))
                cases.append((n, tuple(parts), line))
    return cases


def shipped_rule_names():
    names = set()
    for path in glob.glob(os.path.join(harness.RULES, "*.rules")):
        with open(path) as f:
            names |= set(re.findall(r"^\[([^]]+)\]", f.read(), re.M))
    return names


class Corpus(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not harness.DAEMON or not os.path.exists(harness.DAEMON):
            harness.skip("AUTOBLACKLISTD is not set")
        cls.tmp = tempfile.mkdtemp(prefix="abl-corpus-")
        cls.conf = os.path.join(cls.tmp, "test.conf")
        with open(cls.conf, "w") as f:
            # no ignore list and no map: the verdicts are the rules' alone
            f.write("rules = %s\naccess_map = hash:%s/no-such-map\n" % (harness.RULES, cls.tmp))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_file(self, path):
        cases = load(path)
        log = os.path.join(self.tmp, os.path.basename(path) + ".log")
        with open(log, "w", encoding="utf-8", errors="surrogateescape") as f:
            for _, _, line in cases:
                f.write(line + "\n")
        r = subprocess.run([harness.DAEMON, "-c", self.conf, "--test", log], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = {}
        for out in r.stdout.splitlines():
            lineno, addr, rule = out.split("\t")
            got[int(lineno)] = (addr, rule)
        problems = []
        for i, (src, want, line) in enumerate(cases, 1):
            have = got.get(i)
            if have != want:
                problems.append("%s:%d: got %s, want %s\n    %s" % (
                    os.path.relpath(path, harness.SOURCE_ROOT), src,
                    " ".join(have) if have else "-", " ".join(want) if want else "-", line))
        return cases, problems

    def test_every_corpus_file(self):
        files = sorted(glob.glob(os.path.join(CORPUS, "*.txt")))
        self.assertTrue(files, "no corpus files in " + CORPUS)
        problems = []
        covered = set()
        for path in files:
            cases, p = self.run_file(path)
            problems += p
            covered |= {want[1] for _, want, _ in cases if want}
        self.assertEqual(problems, [], "\n" + "\n".join(problems))
        missing = shipped_rule_names() - covered
        self.assertEqual(missing, set(), "shipped rules without a corpus case")

    def test_adversarial_cases(self):
        cases = load(os.path.join(CORPUS, "adversarial.txt"))
        self.assertGreaterEqual(len(cases), 40, "the adversarial corpus needs at least 40 lines")
        # every adversarial line carries a decoy address or a forged log
        # fragment, and no verdict is a decoy
        decoy = re.compile(r"192[-.]0[-.]2[-.]\d+|2001:db8:dead::\w+|127\.0\.0\.1")
        forged = re.compile(r"postfix-autoblacklist|\"[^\"]*(?:Relay access denied|authentication failed)")
        for src, want, line in cases:
            self.assertTrue(decoy.search(line) or forged.search(line),
                            "adversarial.txt:%d carries no decoy" % src)
            if want:
                self.assertFalse(decoy.fullmatch(want[0]), "adversarial.txt:%d: a decoy as verdict" % src)


def shipped_rule_blocks():
    """[(file, name, keys, program, example messages)] of the shipped rules."""
    blocks = []
    for path in sorted(glob.glob(os.path.join(harness.RULES, "*.rules"))):
        cur = None
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                m = re.match(r"^\[([^]]+)\]", line)
                if m:
                    cur = [os.path.basename(path), m.group(1), set(), None, []]
                    blocks.append(cur)
                elif cur and line.startswith("#   "):
                    cur[4].append(line[4:])
                elif cur and "=" in line and not line.startswith("#"):
                    key, value = (x.strip() for x in line.split("=", 1))
                    cur[2].add(key)
                    if key == "program":
                        cur[3] = value
    return blocks


class ShippedRules(unittest.TestCase):
    """Each shipped rule says what it catches, with examples that it matches,
    and sets its own thresholds."""

    def test_rules_document_themselves(self):
        tmp = tempfile.mkdtemp(prefix="abl-rules-")
        self.addCleanup(shutil.rmtree, tmp, True)
        conf = os.path.join(tmp, "test.conf")
        with open(conf, "w") as f:
            f.write("rules = %s\naccess_map = hash:%s/no-such-map\n" % (harness.RULES, tmp))
        lines, want = [], []
        for file, name, keys, program, examples in shipped_rule_blocks():
            self.assertTrue({"max_hits", "find_time", "ban_time"} <= keys,
                            "%s [%s] must set max_hits, find_time and ban_time" % (file, name))
            self.assertTrue(examples, "%s [%s] has no example line ('#   message')" % (file, name))
            tag = program.replace("*", "")
            for ex in examples:
                lines.append("Nov 30 10:00:00 mx %s[42]: %s" % (tag, ex))
                want.append((file, name, ex))
        log = os.path.join(tmp, "examples.log")
        with open(log, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([harness.DAEMON, "-c", conf, "--test", log], capture_output=True, text=True)
        got = {int(l.split("\t")[0]): l.split("\t")[2] for l in r.stdout.splitlines()}
        bad = ["%s [%s]: example matched by %s: %s" % (file, name, got.get(i, "no rule"), ex)
               for i, (file, name, ex) in enumerate(want, 1) if got.get(i) != name]
        self.assertEqual(bad, [], "\n" + "\n".join(bad))


class Lint(unittest.TestCase):
    """A pattern that a client could fool is refused: --check exits 78 and
    names the file and line; only "lint = off" loads it, with warnings."""

    FOOLABLE = ("[mine]\nprogram = postfix*/smtpd\n%s"
                "pattern = ^warning: [^[]*\\[<ADDR>\\](?::\\d+)?: SASL [A-Z]+ authentication failed\n")

    def check(self, text):
        tmp = tempfile.mkdtemp(prefix="abl-rules-lint-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "mine.rules")
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([harness.DAEMON, "--rules", path, "--check"], capture_output=True, text=True)
        return path, r

    def test_foolable_pattern_is_an_error(self):
        path, r = self.check(self.FOOLABLE % "")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("%s:3: rule mine: '[^[]*' before <ADDR> is a run of free text" % path, r.stderr)

    def test_lint_off_loads_with_warnings(self):
        path, r = self.check(self.FOOLABLE % "lint = off\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: %s:3: rule mine: lint = off" % path, r.stderr)
        self.assertIn("warning: %s:4: rule mine: '[^[]*' before <ADDR>" % path, r.stderr)

if __name__ == "__main__":
    harness.main()
