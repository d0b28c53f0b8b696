# SPDX-License-Identifier: GPL-3.0-or-later
"""A real systemd as PID 1 of a throw-away container, for tests of the
installed unit.

systemd-nspawn boots the host's own systemd over a root folder that holds
only empty directories, the /bin, /lib... symlinks and overlays of the
host's /usr and /etc.  Every write the container makes to /usr or /etc goes
to an upper folder under a temporary directory, so `meson install`, a
config and `systemctl enable` inside never change the host.  The host's
enabled services are masked in that upper /etc (the container must not
start a second Postfix or PostgreSQL), and it gets its own machine-id.

Nothing touches the host's systemd state either: the launcher first moves
itself into cgroups of its own (the container's systemd creates its
subgroups there), and runs nspawn in a private mount namespace with a
tmpfs on /run/systemd.  The network is a namespace the container creates
and deletes (only loopback), or one the caller names (netns=), and nspawn neither registers the machine nor
links its journal to the host's.

    with Container(binds=[src], binds_rw=[build]) as c:
        c.run(["systemctl", "is-system-running"])

Every name this creates (temporary folder, network namespace, cgroups,
machine name) starts with "abl-nsp-".
"""

import atexit
import ctypes
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time

PREFIX = "abl-nsp-"
NSPAWN = shutil.which("systemd-nspawn") or "/usr/bin/systemd-nspawn"
CGROOT = "/sys/fs/cgroup"


class ContainerError(Exception):
    pass


_live = set()


@atexit.register
def _stop_all():
    """A test that ends early (an error, SIGTERM from a test runner's timeout
    turned into SystemExit) still halts its containers and cleans up."""
    for c in list(_live):
        c.stop()


def _die_with_parent():
    """In the launcher: if the test process dies without cleaning up (SIGKILL),
    nspawn gets SIGTERM, which halts the container.  The setting survives the
    execs down to nspawn."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def missing():
    """Why a container cannot run here, or None."""
    if os.geteuid() != 0:
        return "containers need root"
    if not os.path.exists(NSPAWN):
        return "systemd-nspawn (Debian's systemd-container package) is not installed"
    for tool in ("unshare", "nsenter", "ip"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    if not cgroup_dirs("probe"):
        return "no cgroup hierarchy found under %s" % CGROOT
    return None


def cgroup_dirs(name):
    """The cgroup folders to make for NAME: on a cgroup2-only host one folder
    in the cgroup2 root; on a hybrid host (cgroup1 controllers, the systemd
    tree at /sys/fs/cgroup/systemd, cgroup2 at /sys/fs/cgroup/unified) one in
    each tree systemd uses."""
    if os.path.exists(os.path.join(CGROOT, "cgroup.controllers")):
        return [os.path.join(CGROOT, name)]
    dirs = [os.path.join(CGROOT, tree, name) for tree in ("systemd", "unified")
            if os.path.exists(os.path.join(CGROOT, tree, "cgroup.procs"))]
    return dirs


def _rm_cgroup(path):
    """Remove a cgroup and the subgroups the container's systemd left, deepest
    first (rmdir is the only way to remove one)."""
    if not os.path.isdir(path):
        return
    for root, dirs, _ in os.walk(path, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(root, d))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _children(pid):
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                text = f.read()
        except OSError:
            continue
        # the command may hold spaces and parentheses: split after the last ')'
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(stat.split("/")[2]))
    return out


def _nspid(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return line.split()[1:]
    except OSError:
        pass
    return []


class Container:
    """A booted container: start() it (or use `with`), run() commands in it,
    and stop() it, which also removes every trace."""

    def __init__(self, binds=(), binds_rw=(), boot_timeout=90, nspawn_args=(), init_args=(), netns=None):
        self.nspawn_args = list(nspawn_args)
        self.init_args = list(init_args)
        self.binds = list(binds)        # host folders visible read-only at the same path
        self.binds_rw = list(binds_rw)  # and read-write
        self.boot_timeout = boot_timeout
        self.tmp = None
        self.name = None
        self.netns = None
        # a network namespace of the caller's (a name under /run/netns, such
        # as a pfharness.Lab's server namespace): joined, and left in place
        self.own_netns = netns
        self.cgroups = []
        self.proc = None
        self.pid1 = None
        self.boot_seconds = None

    # --- lifecycle -------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        why = missing()
        if why:
            raise ContainerError(why)
        # a machine name allows letters, digits and '-' only (no mkdtemp '_')
        while True:
            self.name = PREFIX + os.urandom(4).hex()
            try:
                os.mkdir(os.path.join(tempfile.gettempdir(), self.name), 0o700)
                break
            except FileExistsError:
                continue
        self.tmp = os.path.join(tempfile.gettempdir(), self.name)
        _live.add(self)
        try:
            self._make_root()
            self._make_netns()
            self._launch()
            self._wait_booted()
        except BaseException:
            self.stop()
            raise

    def _make_root(self):
        root = self.root = os.path.join(self.tmp, "root")
        for d in ("usr", "etc", "var", "var/tmp", "run", "tmp", "proc", "sys", "dev", "root", "home", "srv",
                  "opt", "mnt", "media"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        os.chmod(os.path.join(root, "var/tmp"), 0o1777)
        os.chmod(os.path.join(root, "root"), 0o700)
        for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            target = os.readlink("/" + link) if os.path.islink("/" + link) else None
            if target:
                os.symlink(target, os.path.join(root, link))
        # nspawn checks for an OS tree, and reads the systemd version to pick
        # the cgroup layout, before it mounts the overlays: leave what it
        # looks for under the (then hidden) mount point.
        os.makedirs(os.path.join(root, "usr/lib"), exist_ok=True)
        shutil.copy("/usr/lib/os-release", os.path.join(root, "usr/lib/os-release"))
        for lib in glob.glob("/usr/lib/*/systemd/libsystemd-shared-*.so") + \
                glob.glob("/usr/lib/systemd/libsystemd-shared-*.so"):
            dest = os.path.join(root, lib.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            open(dest, "w").close()
        self.upper = {}
        for d in ("usr", "etc"):
            self.upper[d] = os.path.join(self.tmp, "upper", d)
            os.makedirs(self.upper[d])
        etc = self.upper["etc"]
        # mask every unit the host enabled (and any it masked stays masked)
        units = os.path.join(etc, "systemd/system")
        os.makedirs(units)
        for want in glob.glob("/etc/systemd/system/*.wants/*") + glob.glob("/etc/systemd/system/*.requires/*"):
            mask = os.path.join(units, os.path.basename(want))
            if not os.path.lexists(mask):
                os.symlink("/dev/null", mask)
        with open(os.path.join(etc, "machine-id"), "w") as f:
            f.write(os.urandom(16).hex() + "\n")
        with open(os.path.join(etc, "hostname"), "w") as f:
            f.write(self.name + "\n")

    def _make_netns(self):
        if self.own_netns:
            self.netns_path = "/run/netns/" + self.own_netns
            return
        self.netns = self.name
        self.netns_path = "/run/netns/" + self.netns
        subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True, capture_output=True)

    def _launch(self):
        self.cgroups = cgroup_dirs(self.name)
        for cg in self.cgroups:
            os.mkdir(cg)
        args = [NSPAWN, "--boot", "--keep-unit", "--register=no", "--machine=" + self.name,
                "--directory=" + self.root, "--network-namespace-path=" + self.netns_path,
                "--link-journal=no", "--resolv-conf=off", "--timezone=off", "--console=read-only",
                "--overlay=/usr:%s:/usr" % self.upper["usr"], "--overlay=/etc:%s:/etc" % self.upper["etc"]]
        args += ["--bind-ro=" + b for b in self.binds]
        args += ["--bind=" + b for b in self.binds_rw]
        # nspawn's seccomp filter refuses bpf(), and without it the
        # container's systemd silently drops IPAddressDeny= (and BPF device
        # control): allow it, so that the units under test run as on a host.
        args.append("--system-call-filter=bpf")
        args += self.nspawn_args + ["--"] + self.init_args
        # The launcher joins its cgroups, then nspawn runs in a mount namespace
        # of its own, with a private /run/systemd (nspawn keeps its runtime
        # files there).  With $$ the shell's own pid is written.
        script = ('for cg in %s; do echo $$ > "$cg/cgroup.procs" || exit 1; done; '
                  'exec unshare --mount --propagation private sh -c '
                  '\'mount -t tmpfs -o mode=0755 abl-nsp-run /run/systemd && exec "$@"\' sh "$@"'
                  % " ".join(self.cgroups))
        if not os.path.isdir("/run/systemd"):
            os.makedirs("/run/systemd", mode=0o755)
        self.console = open(os.path.join(self.tmp, "console.log"), "wb")
        self.proc = subprocess.Popen(["sh", "-c", script, "sh"] + args, stdin=subprocess.DEVNULL,
                                     stdout=self.console, stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent)

    def console_text(self):
        try:
            with open(os.path.join(self.tmp, "console.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _wait_booted(self):
        t0 = time.monotonic()
        deadline = t0 + self.boot_timeout
        while self.pid1 is None:
            if self.proc.poll() is not None:
                raise ContainerError("systemd-nspawn exited with %d:\n%s" % (self.proc.returncode,
                                                                             self.console_text()))
            for child in _children(self.proc.pid):
                ns = _nspid(child)
                if len(ns) >= 2 and ns[-1] == "1":
                    self.pid1 = child
            if time.monotonic() > deadline:
                raise ContainerError("no container PID 1 after %ds:\n%s" % (self.boot_timeout,
                                                                           self.console_text()))
            time.sleep(0.05)
        state = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ContainerError("systemd-nspawn exited with %d:\n%s" % (self.proc.returncode,
                                                                             self.console_text()))
            r = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                         timeout=max(1, deadline - time.monotonic()))
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                self.boot_seconds = time.monotonic() - t0
                return
            time.sleep(0.1)
        raise ContainerError("the container's systemd did not finish booting in %ds (%r):\n%s"
                             % (self.boot_timeout, state, self.console_text()))

    def stop(self, timeout=30):
        """Halt the container (systemd shuts down as on a poweroff), kill it if
        it does not go, and remove the network namespace, cgroups and files."""
        if self.proc and self.proc.poll() is None:
            # nspawn turns SIGTERM into an orderly halt of a booted container
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # killing PID 1 ends the whole pid namespace; nspawn follows
                if self.pid1:
                    try:
                        os.kill(self.pid1, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self.proc = None
        self.pid1 = None
        if getattr(self, "console", None):
            self.console.close()
            self.console = None
        for cg in self.cgroups:
            _rm_cgroup(cg)
        self.cgroups = []
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
            self.netns = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        _live.discard(self)

    # --- inside ----------------------------------------------------------

    def run(self, args, check=True, input=None, timeout=60):
        """Run a command inside the container (all its namespaces, its root),
        as root; returns the CompletedProcess with text output."""
        if self.pid1 is None:
            raise ContainerError("the container is not running")
        r = subprocess.run(["nsenter", "-t", str(self.pid1), "-a", "--"] + list(args), input=input,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise ContainerError("%s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def sh(self, script, check=True, input=None, timeout=60):
        return self.run(["sh", "-c", script], check=check, input=input, timeout=timeout)

    def write(self, path, text, mode=None):
        self.run(["sh", "-c", 'cat > "$1"', "sh", path], input=text)
        if mode is not None:
            self.run(["chmod", "%o" % mode, path])

    def append(self, path, text):
        self.run(["sh", "-c", 'cat >> "$1"', "sh", path], input=text)

    def read(self, path):
        return self.run(["cat", path]).stdout

    def exists(self, path):
        return self.run(["test", "-e", path], check=False).returncode == 0

    def systemctl(self, *args, check=True, timeout=120):
        return self.run(["systemctl", "--no-pager"] + list(args), check=check, timeout=timeout)

    def wait_until(self, cond, timeout=20, what="the condition", interval=0.1):
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %gs waiting for %s" % (timeout, what))
            time.sleep(interval)
