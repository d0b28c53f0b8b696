# SPDX-License-Identifier: GPL-3.0-or-later
"""A real systemd-journald of the test's own, in a private mount namespace.

enter(script) runs the test script again under `unshare --mount` (tmpfs on
/run/systemd/journal, /run/log, /var/log/journal, /var/lib/systemd and the
catalog folder), so that nothing reaches the host's journal; start()
starts /lib/systemd/systemd-journald there.  It needs root.
"""

import json
import os
import shutil
import subprocess
import sys

import harness
from harness import wait_until

JOURNALD = next((p for p in ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")
                 if os.path.exists(p)), None)
SOCKET = "/run/systemd/journal/socket"


def enter(script):
    """Run script again in a private mount namespace, unless already there."""
    if os.environ.get("ABL_JOURNAL_NS") == "1":
        return
    if os.geteuid() != 0:
        harness.skip("the journal tests need root, for a private mount namespace with its own journald")
    if not JOURNALD or not shutil.which("journalctl") or not shutil.which("unshare"):
        harness.skip("systemd-journald, journalctl or unshare is missing")
    env = dict(os.environ, ABL_JOURNAL_NS="1")
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                           os.path.abspath(script)] + sys.argv[1:], env)


def mount_private(catalog=None):
    """tmpfs over everything journald and journalctl write."""
    for d in ("/run/systemd/journal", "/run/log", "/var/log/journal", "/var/lib/systemd",
              "/usr/lib/systemd/catalog"):
        if d in ("/run/systemd/journal", "/run/log"):
            os.makedirs(d, exist_ok=True)
        if os.path.isdir(d):
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    if catalog:
        shutil.copy(catalog, "/usr/lib/systemd/catalog/")
        subprocess.run(["journalctl", "--update-catalog"], check=True)


def start():
    """Start journald (after mount_private); returns its Popen."""
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    proc = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: os.path.exists(SOCKET), timeout=10, what="journald's socket")
    return proc


def entries(*matches):
    """The journal entries matching FIELD=value matches, as dicts."""
    r = subprocess.run(["journalctl", "--no-pager", "-o", "json"] + list(matches), capture_output=True, text=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
