"""Helpers shared by the pvefs system tests (imported by conftest.py and the tests).

Nothing here depends on files outside the repository.
"""
import contextlib
import errno
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HELPERS = HERE / "helpers"
PVEFSD = os.environ.get("PVEFSD") or str(REPO / "build" / "pvefsd")
NODE = "n1"
PYTHON = "/usr/bin/python3"

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# Every daemon started by this process, so that a watchdog can kill them all by PID
# (never by name) when a test hangs inside a FUSE request.
LIVE_DAEMONS = {}

# A valid qemu-server config in canonical form (comments first, keys sorted bytewise).
QEMU_CANON = (
    "#managed by the pvefs system tests\n"
    "boot: order=scsi0;net0\n"
    "cores: 2\n"
    "memory: 1024\n"
    "name: st-vm\n"
    "net0: virtio=A2:C0:43:77:08:A0,bridge=vmbr0\n"
    "ostype: l26\n"
    "scsi0: local:100/vm-100-disk-0.qcow2,size=8G\n"
    "scsihw: virtio-scsi-pci\n"
    "sockets: 1\n"
)
# The same document, shuffled (keys unsorted, comment last in the input).
QEMU_SHUFFLED = (
    "sockets: 1\n"
    "name: st-vm\n"
    "memory: 1024\n"
    "scsihw: virtio-scsi-pci\n"
    "cores: 2\n"
    "#managed by the pvefs system tests\n"
    "ostype: l26\n"
    "scsi0: local:100/vm-100-disk-0.qcow2,size=8G\n"
    "boot: order=scsi0;net0\n"
    "net0: virtio=A2:C0:43:77:08:A0,bridge=vmbr0\n"
)
LXC_CANON = (
    "arch: amd64\n"
    "cores: 1\n"
    "hostname: st-ct\n"
    "memory: 512\n"
    "net0: bridge=vmbr0,hwaddr=12:34:56:78:90:12,ip=dhcp,name=eth0,type=veth\n"
    "ostype: debian\n"
    "rootfs: local:200/vm-200-disk-0.raw,size=4G\n"
    "swap: 512\n"
)
LXC_SHUFFLED = (
    "swap: 512\n"
    "hostname: st-ct\n"
    "rootfs: local:200/vm-200-disk-0.raw,size=4G\n"
    "arch: amd64\n"
    "ostype: debian\n"
    "memory: 512\n"
    "net0: bridge=vmbr0,hwaddr=12:34:56:78:90:12,ip=dhcp,name=eth0,type=veth\n"
    "cores: 1\n"
)


def qemu_config(name="st-vm", memory=1024, cores=2, comment=None):
    """A small valid qemu config, canonical form."""
    out = ""
    if comment is not None:
        out += "#%s\n" % comment
    out += "cores: %d\nmemory: %d\nname: %s\nostype: l26\n" % (cores, memory, name)
    return out


# ---------------------------------------------------------------- mounts
def _unescape_mountinfo(s):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def mount_entries():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            yield _unescape_mountinfo(parts[4]), parts[sep + 1]


def is_mounted(path):
    """True when path is a mount point in this namespace (works for stale FUSE mounts too,
    where os.path.ismount() says False because lstat fails with ENOTCONN)."""
    path = os.path.abspath(str(path))
    return any(mp == path for mp, _ in mount_entries())


def detach(path):
    """Lazy unmount, for cleanup after failures."""
    for cmd in (["fusermount3", "-u", "-z", str(path)], ["umount", "-l", str(path)]) * 3:
        if not is_mounted(path):
            return
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)


def in_private_mount_ns():
    try:
        return os.readlink("/proc/self/ns/mnt") != os.readlink("/proc/1/ns/mnt")
    except OSError:
        return False


# ---------------------------------------------------------------- file I/O
def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def read_text(path):
    return read_bytes(path).decode("utf-8", "replace")


def try_write(path, chunks, flags=os.O_WRONLY | os.O_TRUNC, mode=0o644):
    """open(path, flags); write each chunk with its own write(2) (completing short writes);
    close. Returns dict(open=, writes=[...], close=) of 0 or errno. Stops at the first error
    (but always closes an opened fd)."""
    if isinstance(chunks, (bytes, str)):
        chunks = [chunks]
    res = {"open": 0, "writes": [], "close": None}
    try:
        fd = os.open(str(path), flags, mode)
    except OSError as e:
        res["open"] = e.errno
        return res
    try:
        for c in chunks:
            if isinstance(c, str):
                c = c.encode()
            mv = memoryview(c)
            err = 0
            while len(mv):
                try:
                    n = os.write(fd, mv)
                except OSError as e:
                    err = e.errno
                    break
                mv = mv[n:]
            res["writes"].append(err)
            if err:
                break
    finally:
        try:
            os.close(fd)
            res["close"] = 0
        except OSError as e:
            res["close"] = e.errno
    return res


def write_errno(res):
    """The first errno a try_write() result reports, or 0."""
    for e in [res["open"]] + res["writes"] + [res["close"] or 0]:
        if e:
            return e
    return 0


def write_ok(path, data):
    """Write data as one document; raise AssertionError with the errno on failure."""
    r = try_write(path, [data], flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    e = write_errno(r)
    assert e == 0, "writing %s failed: %s (%s)" % (path, errno.errorcode.get(e, e), r)



def wait_for(fn, timeout=10.0, what="condition", interval=0.1):
    """Calls fn() until it returns something true, and returns that; AssertionError after
    timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, v))
        time.sleep(interval)


def fields(text):
    """'key: value' lines as a dict."""
    return dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)


def have_lxc():
    return os.path.exists("/usr/share/lxc") or os.path.exists("/usr/lib/x86_64-linux-gnu/liblxc.so.1")


def ename(e):
    return errno.errorcode.get(e, str(e)) if e else "OK"


# ---------------------------------------------------------------- subprocess
def run(cmd, timeout=30, check=False, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    p = subprocess.run(cmd, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s -> rc=%d\nstdout: %s\nstderr: %s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p


def make_base(prefix="pvefs-st-"):
    """A private test directory that uid 65534 may traverse (pytest's tmp_path is 0700)."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(base, 0o755)
    return base


def remove_base(base):
    """rmtree base unless something is still mounted below it (never delete through a mount)."""
    base = os.path.abspath(str(base))
    if any(mp == base or mp.startswith(base + "/") for mp, _ in mount_entries()):
        return False
    shutil.rmtree(base, ignore_errors=True)
    return True


# ---------------------------------------------------------------- the daemon
class DaemonError(AssertionError):
    pass


class Pvefs:
    """One pvefsd instance: -f --local --node n1 --data BASE/data BASE/mnt."""

    def __init__(self, base, node=NODE, binary=None, netns=None):
        self.base = Path(base)
        self.netns = netns  # run the daemon in this network namespace (/run/netns/<name>)
        # containers' cgroups: one subtree per daemon, so tests never share or leak them
        self.lxc_cgroup = "pvefs-t%d-%s" % (os.getpid(), self.base.name.replace(".", "-"))
        self.node = node
        self.binary = binary or PVEFSD
        self.data = self.base / "data"
        self.mnt = self.base / "mnt"
        self.proc = None
        self.starts = 0
        self.logs = []
        self.last_rc = None
        self.mnt.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        os.chmod(self.mnt, 0o755)

    # -- paths
    def p(self, rel=""):
        return self.mnt / rel if rel else self.mnt

    def vm(self, vmid, rel=""):
        return self.p("nodes/%s/qemu/%s%s" % (self.node, vmid, "/" + rel if rel else ""))

    def ct(self, ctid, rel=""):
        return self.p("nodes/%s/lxc/%s%s" % (self.node, ctid, "/" + rel if rel else ""))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def cmdline(self, mnt=None, data=None):
        pre = ["nsenter", "--net=/run/netns/" + self.netns, "--"] if self.netns else []
        return pre + [self.binary, "-f", "--local", "--node", self.node, "--data",
                      str(data or self.data), str(mnt or self.mnt)]

    # -- lifecycle
    def start(self, timeout=START_TIMEOUT):
        if not os.access(self.binary, os.X_OK):
            raise DaemonError("pvefsd binary not found or not executable: %s (set PVEFSD)" % self.binary)
        self.starts += 1
        log = self.base / ("pvefsd.%d.log" % self.starts)
        self.logs.append(log)
        with open(log, "wb") as lf:
            self.proc = subprocess.Popen(self.cmdline(), stdin=subprocess.DEVNULL, stdout=lf,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env=dict(os.environ, PVEFS_LXC_CGROUP=self.lxc_cgroup))
        LIVE_DAEMONS[self.proc.pid] = self.proc
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                LIVE_DAEMONS.pop(self.proc.pid, None)
                raise DaemonError("pvefsd exited with rc=%d during start-up:\n%s" % (rc, self.log_tail()))
            if os.path.ismount(self.mnt):
                try:
                    if read_bytes(self.p("cluster/quorate")):
                        return self
                except OSError as e:
                    last = e
            time.sleep(0.05)
        self.kill9()
        raise DaemonError("pvefsd not ready within %.0fs (mounted=%s, last error=%r):\n%s"
                          % (timeout, os.path.ismount(self.mnt), last, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT, check=True):
        """SIGTERM by PID, wait; the mount must be gone afterwards."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                detach(self.mnt)
                raise DaemonError("pvefsd did not exit within %.0fs of SIGTERM:\n%s" % (timeout, self.log_tail()))
        LIVE_DAEMONS.pop(self.proc.pid, None)
        self.last_rc = self.proc.returncode
        mounted = is_mounted(self.mnt)
        if mounted:
            detach(self.mnt)
            if check:
                raise DaemonError("mount still present after pvefsd exited on SIGTERM (rc=%s)" % self.last_rc)
        return self.last_rc

    def kill9(self):
        if self.proc is None:
            return
        self.last_rc = kill_and_reap(self.proc, LIVE_DAEMONS)

    def restart(self, kill9=False, detach_stale=False):
        """Stop (SIGTERM, or SIGKILL with kill9=True) and start again on the same data dir.
        After kill -9 the mount is stale; by default the new daemon must cope with it itself."""
        if kill9:
            self.kill9()
            if detach_stale:
                detach(self.mnt)
        else:
            self.stop()
        return self.start()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self.kill9()
        if self.proc is not None:
            LIVE_DAEMONS.pop(self.proc.pid, None)
        detach(self.mnt)
        kill_procs_under(self.base)
        kill_cgroup(self.lxc_cgroup)

    def log_tail(self, n=40):
        if not self.logs:
            return ""
        try:
            lines = self.logs[-1].read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    # -- cluster files
    def errors(self):
        """cluster/errors, as a list of lines."""
        return read_text(self.p("cluster/errors")).splitlines()

    def new_errors(self, before):
        """Lines of cluster/errors that were not in `before` (a list from errors())."""
        old = set(before)
        return [l for l in self.errors() if l not in old]

    def metrics(self):
        return read_text(self.p("cluster/metrics"))

    def store_version(self):
        m = re.search(r"^pvefs_store_version(?:\{[^}]*\})?\s+([0-9.eE+]+)\s*$", self.metrics(), re.M)
        if not m:
            raise AssertionError("no pvefs_store_version in cluster/metrics:\n" + self.metrics()[:2000])
        return int(float(m.group(1)))

    def log(self):
        return read_text(self.p("cluster/log"))

    def mkvm(self, vmid, config=None):
        os.mkdir(self.vm(vmid))
        if config is not None:
            write_ok(self.vm(vmid, "config"), config)
        return self.vm(vmid)

    def mkct(self, ctid, config=None):
        os.mkdir(self.ct(ctid))
        if config is not None:
            write_ok(self.ct(ctid, "config"), config)
        return self.ct(ctid)


def kill_all_live_daemons():
    """Watchdog: SIGKILL every daemon this process started (by PID). Aborts the FUSE
    connections, so a test blocked in a FUSE request gets ENOTCONN and can fail."""
    for pid, proc in list(LIVE_DAEMONS.items()):
        kill_group(pid, proc)


def kill_guest_pid(pid):
    """SIGKILL one process a status file named. Refuses 0, 1 and negatives: os.kill(0)
    would kill the test's own process group."""
    pid = int(pid)
    assert pid > 1, "refusing to kill pid %d" % pid
    os.kill(pid, signal.SIGKILL)


def kill_group(pid, proc=None):
    """SIGKILLs a daemon and every process of its session (it runs with start_new_session):
    a child forked after the mount (libvirt's, before it execs QEMU) holds /dev/fuse, and
    while it lives the dead daemon's mount hangs every request instead of failing it."""
    try:
        if proc is None or proc.poll() is None:
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def compile_helper(src, out, libs=()):
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        return None, "no C compiler"
    p = run([cc, "-O2", "-Wall", "-o", str(out), str(src)] + list(libs), timeout=120)
    if p.returncode != 0:
        return None, p.stderr
    return out, ""


@contextlib.contextmanager
def time_budget(seconds, on_overrun, exc_type):
    """Raises exc_type in the test after `seconds`; `on_overrun` runs 10 s later if the test is
    still stuck (a test blocked in a FUSE request only gets out once its daemon is killed)."""
    def on_alarm(signum, frame):
        raise exc_type("test exceeded its %d s budget" % seconds)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    dog = threading.Timer(seconds + 10, on_overrun)
    dog.daemon = True
    dog.start()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        dog.cancel()


def kill_procs_under(path, names=(b"qemu-system",)):
    """SIGKILLs, by PID, processes (QEMU guests) whose command line names a file under path:
    guests outlive the pvefsd that started them, as they should, so a test must stop them."""
    needle = str(path).encode()
    killed = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle in cmd and any(n in cmd.split(b"\0", 1)[0] for n in names):
            try:
                os.kill(int(d), signal.SIGKILL)
                killed.append(int(d))
            except OSError:
                pass
    return killed


CGROOT = "/sys/fs/cgroup"


def cgroup_dirs(prefix):
    """Every cgroup directory of the subtrees prefix and prefix.monitor, deepest first."""
    out = []
    roots = [os.path.join(CGROOT, c) for c in os.listdir(CGROOT)] if os.path.isdir(CGROOT) else []
    for r in roots + [CGROOT]:
        for top in (prefix, prefix + ".monitor"):
            t = os.path.join(r, top)
            if os.path.isdir(t):
                for dirpath, _, _ in os.walk(t, topdown=False):
                    out.append(dirpath)
    return out


def kill_cgroup(prefix, timeout=5.0):
    """SIGKILLs, by PID, every process in the containers' cgroups under prefix (their inits
    and LXC monitors outlive pvefsd, as they should), then removes the cgroups."""
    killed = set()
    deadline = time.monotonic() + timeout
    while True:
        pids = set()
        for d in cgroup_dirs(prefix):
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    pids.update(int(x) for x in f.read().split())
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        left = False
        for d in cgroup_dirs(prefix):
            try:
                os.rmdir(d)
            except FileNotFoundError:
                pass
            except OSError:
                left = True
        if not left or time.monotonic() > deadline:
            return sorted(killed)
        time.sleep(0.05)


def kill_and_reap(proc, live):
    """SIGKILL a daemon by PID (if still running), reap it, forget it in `live`; its exit code."""
    if proc.poll() is None:
        proc.kill()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
    kill_group(proc.pid, proc)
    live.pop(proc.pid, None)
    return proc.returncode
