"""A real multi-node pvefs cluster on one machine, for the tests in this folder.

Every node gets its own network namespace, its own corosync (configured by
tools/pvefs-cluster) and its own pvefsd:

    switch netns  pv<N>-<runid>-sw   bridges br0 (everyone), br1.. (partitions)
    node netns    pv<N>-<runid>-<i>  eth0 = 10.<x>.<y>.<i>/24, veth peer p<i> in the switch

    corosync   nsenter --net=NS -- unshare --mount --propagation private --
               sh -c 'mount --bind DIR/run /run && exec corosync -f -c DIR/corosync.conf'
               (corosync 3.1 hardcodes its pid lock in /run: one private /run per instance)
    pvefsd     nsenter --net=NS -- $PVEFSD -f --node n<i> --data DIR/data DIR/mnt
               (network namespace only: its FUSE mount stays in the test's mount namespace)

corosync's IPC (libqb) uses abstract unix sockets, which are per network namespace,
so a client started with `nsenter --net` talks to exactly that node's corosync.

The addresses exist only inside the namespaces; nothing in the host's network is
touched. Partitions move switch ports between bridges (`ip link set pI master brK`).
Everything is named after a random run id, so parallel or leftover runs never clash;
leftovers of runs whose owner process died are removed at the next start.

Cleanup is by PID only (never by process name): pvefsd SIGTERM then SIGKILL, lazy
unmount, corosync SIGKILL, its /dev/shm/qb-<pid>-* leftovers, `ip netns del`, rm -rf.
Run inside a private mount namespace (tests/run.sh re-execs itself under unshare).
"""
import errno
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "system"))
import pvefslib  # noqa: E402  (mount helpers, try_write, ...)
from pvefslib import detach, is_mounted, read_bytes, read_text  # noqa: E402,F401

PVEFSD = os.environ.get("PVEFSD") or str(REPO / "build" / "pvefsd")
PVEFS_CLUSTER = str(REPO / "tools" / "pvefs-cluster")
CLUSTER_NAME = "pvefs-test"
BASE_PREFIX = "/tmp/pvefs-ct-"
NETNS_RE = re.compile(r"^pv\d+-([0-9a-f]{6})-(?:\d+|sw)$")

TOKEN_MS = int(os.environ.get("PVEFS_CT_TOKEN", "1000"))
QUORUM_TIMEOUT = 20.0     # corosync start to "quorate with everyone": ~1.5 s measured
START_TIMEOUT = 20.0      # pvefsd start to "mounted and cluster/quorate = 1"
STOP_TIMEOUT = 10.0

# Every pvefsd this process started: the budget watchdog SIGKILLs them by PID so a
# test blocked inside a FUSE request gets ENOTCONN instead of hanging.
LIVE_DAEMONS = {}


SANITIZER_MARKS = ("==ERROR: ", "AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:")
KEEP = os.environ.get("PVEFS_CT_KEEP") == "1"   # keep the run's files (logs) after cleanup


class HarnessError(AssertionError):
    pass


class TestTimeout(BaseException):
    """Raised by the budget alarm. A BaseException, so that no `except Exception` in a
    polling loop swallows it."""


def log(msg):
    print("[cluster %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def run(cmd, timeout=30, check=True, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("text", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.run(cmd, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise HarnessError("%s -> rc=%d\nstdout: %s\nstderr: %s" % (" ".join(map(str, cmd)), p.returncode,
                                                                   p.stdout, p.stderr))
    return p


class Pending:
    """A falsy value for wait_until that still says what was seen (shown on timeout)."""

    def __init__(self, seen):
        self.seen = seen

    def __bool__(self):
        return False

    def __repr__(self):
        return repr(self.seen)


def wait_until(fn, timeout, what, interval=0.05):
    """Polls fn() until it returns something truthy (returned). On timeout raises
    HarnessError naming `what` and the last value or exception fn produced."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = v
        except Exception as e:  # noqa: BLE001 (reported below)
            last = e
        if time.monotonic() >= deadline:
            raise HarnessError("timed out after %.1f s waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)


def _alive(pid):
    """True unless pid is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _ns_inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _pids_in_netns(ns_path):
    """PIDs of the processes whose network namespace is ns_path (e.g. /run/netns/X)."""
    ino = _ns_inode(ns_path)
    out = []
    if ino is None:
        return out
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.stat("/proc/%s/ns/net" % d).st_ino == ino:
                out.append(int(d))
        except OSError:
            pass
    return out


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def remove_qb_shm(cspid):
    """What a SIGKILLed corosync leaves in /dev/shm: one qb-<cspid>-<client>-* dir per IPC
    client connection, and blackbox files (blackbox is off in our configs, but be safe)."""
    for name in os.listdir("/dev/shm"):
        if name.startswith("qb-%d-" % cspid) or name.startswith("qb-corosync-%d-blackbox" % cspid):
            p = os.path.join("/dev/shm", name)
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.unlink(p)
                except OSError:
                    pass


def netns_list():
    p = run(["ip", "netns", "list"], check=False)
    return [l.split()[0] for l in p.stdout.splitlines() if l.strip()]


def _pids_with_arg_under(prefix):
    """PIDs whose command line mentions a path below prefix (a run's base directory,
    unique per run: its corosyncs and pvefsds name their config and data dirs there)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if any(a.startswith(prefix.encode()) for a in args):
            out.append(int(d))
    return out


def _owner_alive(base):
    try:
        return _alive(int((base / "owner").read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return False


def reap_leftovers():
    """Removes the processes, namespaces and directories of earlier runs whose owner
    process is gone (a run that was SIGKILLed never got to clean up). Their processes
    are found by PID: those whose command line names the dead run's base directory, or
    that live in its network namespaces. Nothing is matched by process name."""
    runs = {}
    for ns in netns_list():
        m = NETNS_RE.match(ns)
        if m:
            runs.setdefault(m.group(1), []).append(ns)
    for base in Path("/tmp").glob(BASE_PREFIX[len("/tmp/"):] + "*"):
        runs.setdefault(base.name[len(BASE_PREFIX) - len("/tmp/"):], [])
    for rid, namespaces in sorted(runs.items()):
        base = Path(BASE_PREFIX + rid)
        if _owner_alive(base):
            continue  # a live run (maybe a parallel one): not ours to touch
        log("removing leftovers of dead run %s (%s)" % (rid, ", ".join(namespaces) or "no netns"))
        pids = set(_pids_with_arg_under(str(base) + "/"))
        for ns in namespaces:
            if is_mounted("/run/netns/" + ns):  # else just a name from another mount namespace
                pids.update(_pids_in_netns("/run/netns/" + ns))
        pids.discard(os.getpid())
        corosyncs = [pid for pid in pids if _comm(pid) == "corosync"]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in pids:
            for _ in range(100):
                if not _alive(pid):
                    break
                time.sleep(0.02)
        for pid in corosyncs:
            remove_qb_shm(pid)
        for ns in namespaces:
            run(["ip", "netns", "del", ns], check=False)
        for mp, _ in list(pvefslib.mount_entries()):
            if mp.startswith(str(base) + "/"):
                detach(mp)
        pvefslib.remove_base(base)


def metrics_values(text):
    """(digest, version) from the text of cluster/metrics."""
    d = re.search(r'^pvefs_store_digest_info\{digest="([0-9a-fA-F]+)"\}\s', text, re.M)
    v = re.search(r"^pvefs_store_version(?:\{[^}]*\})?\s+([0-9.eE+]+)\s*$", text, re.M)
    if not d or not v:
        raise HarnessError("no pvefs_store_digest_info / pvefs_store_version in cluster/metrics:\n" + text[:1500])
    return d.group(1), int(float(v.group(1)))


# ---------------------------------------------------------------------------- node
class Node:
    """Node i of a Cluster: its namespace, corosync and pvefsd."""

    def __init__(self, cluster, i):
        self.cluster = cluster
        self.i = i
        self.name = "n%d" % i
        self.ns = "%s-%d" % (cluster.prefix, i)
        self.nspath = "/run/netns/" + self.ns
        self.addr = "%s.%d" % (cluster.net, i)
        self.port = "p%d" % i          # switch-side veth
        self.dir = cluster.base / self.name
        self.conf_dir = self.dir / "corosync"
        self.run_dir = self.dir / "run"
        self.data = self.dir / "data"
        self.mnt = self.dir / "mnt"
        self.cs = None                 # corosync Popen
        self.proc = None               # pvefsd Popen
        self.starts = 0
        self.cs_starts = 0
        self.logs = []                 # pvefsd logs, one per start
        self.last_rc = None
        self.extra_args = []           # more pvefsd options (e.g. --libvirt URI)
        # this node's containers' cgroup subtree, removed by PID at cleanup
        self.lxc_cgroup = "%s-%s" % (cluster.prefix, self.name)
        for d in (self.dir, self.run_dir, self.data, self.mnt):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.mnt, 0o755)

    def __repr__(self):
        return "<Node %s ns=%s>" % (self.name, self.ns)

    # -- paths and files
    def p(self, rel=""):
        return self.mnt / rel if rel else self.mnt

    def vm(self, vmid, rel="", node=None):
        return self.p("nodes/%s/qemu/%s%s" % (node or self.name, vmid, "/" + rel if rel else ""))

    def read(self, rel):
        return read_text(self.p(rel))

    def quorate(self):
        return self.read("cluster/quorate")

    def metrics(self):
        return self.read("cluster/metrics")

    def digest(self):
        """(digest, store version) from cluster/metrics."""
        return metrics_values(self.metrics())

    def members(self):
        """cluster/members as {name: (nodeid, state, rest...)}: lines '<id> <name> <state> [addr]'."""
        out = {}
        for line in self.read("cluster/members").splitlines():
            f = line.split()
            if len(f) >= 3:
                out[f[1]] = (f[0], f[2]) + tuple(f[3:])
        return out

    def nsexec(self, cmd, timeout=15, check=False):
        return run(["nsenter", "--net=" + self.nspath, "--"] + list(cmd), timeout=timeout, check=check)

    # -- corosync
    def corosync_start(self):
        if self.cs is not None and self.cs.poll() is None:
            raise HarnessError("%s: corosync already running (pid %d)" % (self.name, self.cs.pid))
        self.cs_starts += 1
        logf = open(self.dir / ("corosync.%d.out" % self.cs_starts), "wb")
        # nsenter, unshare and sh's exec keep one PID: self.cs.pid is corosync's.
        self.cs = subprocess.Popen(
            ["nsenter", "--net=" + self.nspath, "--", "unshare", "--mount", "--propagation", "private", "--",
             "sh", "-c", 'mount --bind "$1/run" /run && exec corosync -f -c "$1/corosync/corosync.conf"',
             "sh", str(self.dir)],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        return self.cs.pid

    def corosync_alive(self):
        return self.cs is not None and self.cs.poll() is None

    def corosync_kill9(self):
        """SIGKILL corosync by PID, reap it, remove its /dev/shm leftovers."""
        if self.cs is None:
            return
        if self.cs.poll() is None:
            self.cs.kill()
            try:
                self.cs.wait(10)
            except subprocess.TimeoutExpired:
                raise HarnessError("%s: corosync pid %d survived SIGKILL" % (self.name, self.cs.pid))
        remove_qb_shm(self.cs.pid)

    def quorum_status(self):
        """(quorate, sorted member nodeids) from this node's corosync-quorumtool -s."""
        p = self.nsexec(["corosync-quorumtool", "-s"], timeout=10)
        out = p.stdout
        q = re.search(r"^Quorate:\s+(\w+)", out, re.M)
        members = []
        m = re.search(r"Membership information\n-+\n.*?\n((?:\s+\d+\s+.*\n?)*)", out)
        if m:
            members = sorted(int(l.split()[0]) for l in m.group(1).splitlines() if l.strip())
        return (q is not None and q.group(1) == "Yes"), members

    def corosync_log_tail(self, n=30):
        try:
            return "\n".join((self.conf_dir / "corosync.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    # -- pvefsd
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cmdline(self):
        return ["nsenter", "--net=" + self.nspath, "--", self.cluster.pvefsd, "-f", "--node", self.name,
                "--data", str(self.data)] + self.extra_args + [str(self.mnt)]

    def start(self, wait_quorate=True, timeout=START_TIMEOUT):
        """Starts pvefsd (cluster mode) and waits until it is mounted and cluster/quorate
        reads "1\\n" (or, with wait_quorate=False, anything)."""
        if self.alive():
            raise HarnessError("%s: pvefsd already running (pid %d)" % (self.name, self.pid))
        if not os.access(self.cluster.pvefsd, os.X_OK):
            raise HarnessError("pvefsd binary not found or not executable: %s (set PVEFSD)" % self.cluster.pvefsd)
        self.starts += 1
        logp = self.dir / ("pvefsd.%d.log" % self.starts)
        self.logs.append(logp)
        with open(logp, "wb") as lf:
            self.proc = subprocess.Popen(self.cmdline(), stdin=subprocess.DEVNULL, stdout=lf,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env=dict(os.environ, PVEFS_LXC_CGROUP=self.lxc_cgroup))
        LIVE_DAEMONS[self.proc.pid] = self.proc
        t0 = time.monotonic()
        deadline = t0 + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                LIVE_DAEMONS.pop(self.proc.pid, None)
                self.last_rc = rc
                raise HarnessError("%s: pvefsd exited with rc=%d during start-up:\n%s"
                                   % (self.name, rc, self.log_tail()))
            if os.path.ismount(self.mnt):
                try:
                    q = read_bytes(self.p("cluster/quorate"))
                    last = q
                    # ready: quorate, and this node's own directory made (it is made
                    # once the cluster lets this node write)
                    if (q == b"1\n" and os.path.isdir(self.p("nodes/" + self.name))) or \
                            (q and not wait_quorate):
                        return time.monotonic() - t0
                except OSError as e:
                    last = e
            time.sleep(0.05)
        raise HarnessError("%s: pvefsd not ready within %.0f s (mounted=%s, cluster/quorate=%r):\n%s"
                           % (self.name, timeout, os.path.ismount(self.mnt), last, self.log_tail()))

    def stop(self, timeout=STOP_TIMEOUT, check=True):
        """SIGTERM by PID and wait; the mount must be gone afterwards. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise HarnessError("%s: pvefsd did not exit within %.0f s of SIGTERM:\n%s"
                                   % (self.name, timeout, self.log_tail()))
        LIVE_DAEMONS.pop(self.proc.pid, None)
        self.last_rc = self.proc.returncode
        if is_mounted(self.mnt):
            detach(self.mnt)
            if check:
                raise HarnessError("%s: mount still present after pvefsd exited on SIGTERM (rc=%s)"
                                   % (self.name, self.last_rc))
        return self.last_rc

    def kill9(self):
        """SIGKILL pvefsd by PID; lazily detaches the dead mount it leaves."""
        if self.proc is None:
            return
        self.last_rc = pvefslib.kill_and_reap(self.proc, LIVE_DAEMONS)
        detach(self.mnt)

    def restart(self, kill9=False, **kw):
        if kill9:
            self.kill9()
        else:
            self.stop()
        return self.start(**kw)

    def log_tail(self, n=40):
        if not self.logs:
            return ""
        try:
            return "\n".join(self.logs[-1].read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def cleanup(self):
        """pvefsd: SIGTERM (5 s), then SIGKILL, then lazy unmount. Never raises."""
        try:
            if self.alive():
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            self.kill9()
        except Exception as e:  # noqa: BLE001
            log("%s: cleanup: %r" % (self.name, e))
        try:
            detach(self.mnt)
        except Exception as e:  # noqa: BLE001
            log("%s: detach: %r" % (self.name, e))
        pvefslib.kill_procs_under(self.dir)
        pvefslib.kill_cgroup(self.lxc_cgroup)


# ---------------------------------------------------------------------------- cluster
class Cluster:
    """N nodes. Use as a context manager; cleanup runs even when the body fails.

        with Cluster(3) as c:                  # corosync everywhere, pvefsd on every node
            c[1].p("nodes")                    # node 1's mount
        with Cluster(3, pvefsd=[1, 2]) as c:   # pvefsd only on n1 and n2
    """

    def __init__(self, n, pvefsd=None, token=TOKEN_MS, binary=None):
        self.n = n
        self.token = token
        self.pvefsd = binary or PVEFSD
        self.want_pvefsd = list(range(1, n + 1)) if pvefsd is None else list(pvefsd)
        self.runid = secrets.token_hex(3)
        self.prefix = "pv%d-%s" % (n, self.runid)
        self.sw = self.prefix + "-sw"
        a, b = int(self.runid[:2], 16), int(self.runid[2:4], 16)
        self.net = "10.%d.%d" % (100 + a % 150, b)
        self.base = Path(BASE_PREFIX + self.runid)
        self.made_ns = []
        self.bridges = []
        self.nodes = {}
        self.timings = {}
        self._up = False
        self.sanitizer_reports = []

    def __getitem__(self, i):
        return self.nodes[i]

    def __iter__(self):
        return iter(self.nodes[i] for i in sorted(self.nodes))

    def __enter__(self):
        try:
            self.setup()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- setup
    def setup(self):
        t0 = time.monotonic()
        reap_leftovers()
        self.base.mkdir(mode=0o755)
        os.chmod(self.base, 0o755)
        (self.base / "owner").write_text("%d\n" % os.getpid())
        for i in range(1, self.n + 1):
            self.nodes[i] = Node(self, i)
        self.net_up()
        self.write_configs()
        t1 = time.monotonic()
        for nd in self:
            nd.corosync_start()
        self.wait_quorum()
        t2 = time.monotonic()
        self.timings["corosync_quorate_s"] = t2 - t1
        self._up = True
        for i in self.want_pvefsd:
            self.nodes[i].start(wait_quorate=False)
        for i in self.want_pvefsd:
            wait_until(lambda i=i: self.nodes[i].quorate() == "1\n", START_TIMEOUT,
                       "%s: cluster/quorate = 1" % self.nodes[i].name)
        # every running node's directory, seen from every running node
        names = sorted(self.nodes[i].name for i in self.want_pvefsd)
        for i in self.want_pvefsd:
            wait_until(lambda i=i: all(os.path.isdir(self.nodes[i].p("nodes/" + nm)) for nm in names),
                       START_TIMEOUT, "%s: nodes/%s all present" % (self.nodes[i].name, names))
        self.timings["pvefsd_ready_s"] = time.monotonic() - t2
        self.timings["setup_s"] = time.monotonic() - t0
        log("%d nodes up (run %s, %s.0/24): corosync quorate in %.2f s, pvefsd ready in %.2f s, setup %.2f s"
            % (self.n, self.runid, self.net, self.timings["corosync_quorate_s"], self.timings["pvefsd_ready_s"],
               self.timings["setup_s"]))

    def _ip(self, *args, check=True):
        return run(["ip"] + list(args), timeout=15, check=check)

    def _add_bridge(self, k):
        br = "br%d" % k
        self._ip("-n", self.sw, "link", "add", br, "type", "bridge")
        # no STP, forward at once, no IGMP snooping surprises
        self._ip("-n", self.sw, "link", "set", br, "type", "bridge", "stp_state", "0", "forward_delay", "0",
                 "mcast_snooping", "0")
        self._ip("-n", self.sw, "link", "set", br, "up")
        self.bridges.append(br)
        return br

    def net_up(self):
        self._ip("netns", "add", self.sw)
        self.made_ns.append(self.sw)
        self._ip("-n", self.sw, "link", "set", "lo", "up")
        self._add_bridge(0)
        for nd in self:
            self._ip("netns", "add", nd.ns)
            self.made_ns.append(nd.ns)
            self._ip("-n", nd.ns, "link", "set", "lo", "up")
            # the veth pair is created directly inside the two namespaces
            self._ip("link", "add", "eth0", "netns", nd.ns, "type", "veth", "peer", "name", nd.port,
                     "netns", self.sw)
            self._ip("-n", nd.ns, "addr", "add", nd.addr + "/24", "dev", "eth0")
            self._ip("-n", nd.ns, "link", "set", "eth0", "up")
            self._ip("-n", self.sw, "link", "set", nd.port, "master", "br0")
            self._ip("-n", self.sw, "link", "set", nd.port, "up")

    def write_configs(self):
        """tools/pvefs-cluster create for node 1, then the same nodelist and key for the others."""
        specs = []
        for nd in self:
            specs += ["--node", "%s:%d:%s" % (nd.name, nd.i, nd.addr)]
        first = None
        for nd in self:
            extra = ["--authkey", str(first.conf_dir / "authkey")] if first else []
            run([PVEFS_CLUSTER, "create", CLUSTER_NAME] + specs +
                ["--conf-dir", str(nd.conf_dir), "--token", str(self.token)] + extra)
            first = first or nd

    # -- quorum
    def wait_quorum(self, nodes=None, members=None, quorate=True, timeout=QUORUM_TIMEOUT):
        """Waits until corosync on each of `nodes` (default: all) reports `quorate` with
        exactly `members` (default: `nodes`)."""
        nodes = list(nodes or sorted(self.nodes))
        want = sorted(members if members is not None else nodes)
        for i in nodes:
            nd = self.nodes[i]

            def ok(nd=nd):
                if not nd.corosync_alive():
                    raise HarnessError("%s: corosync exited rc=%s:\n%s" % (nd.name, nd.cs.returncode,
                                                                           nd.corosync_log_tail()))
                q, m = nd.quorum_status()
                return (q == quorate and m == want) or Pending((q, m))

            try:
                wait_until(ok, timeout, "%s: corosync quorate=%s with members %s" % (nd.name, quorate, want),
                           interval=0.1)
            except HarnessError as e:
                raise HarnessError("%s\ncorosync log of %s:\n%s" % (e, nd.name, nd.corosync_log_tail()))

    def wait_pvefs_quorate(self, nodes, value, timeout=15.0):
        """Waits until cluster/quorate reads value ("1" or "0") on every node in nodes."""
        for i in nodes:
            wait_until(lambda i=i: self.nodes[i].quorate() == value + "\n", timeout,
                       "%s: cluster/quorate = %s" % (self.nodes[i].name, value))

    # -- partitions
    def partition(self, groups):
        """partition([[1], [2, 3]]): group k's switch ports go to bridge br<k>, so only
        nodes of one group reach each other. Nodes not named stay where they are."""
        for k, group in enumerate(groups):
            while len(self.bridges) <= k:
                self._add_bridge(len(self.bridges))
            for i in group:
                self._ip("-n", self.sw, "link", "set", self.nodes[i].port, "master", "br%d" % k)
        log("partition %s" % " | ".join("{%s}" % ",".join("n%d" % i for i in g) for g in groups))

    def heal(self):
        for nd in self:
            self._ip("-n", self.sw, "link", "set", nd.port, "master", "br0")
        log("partition healed")

    # -- convergence
    def digests(self, nodes=None):
        return {i: self.nodes[i].digest() for i in (nodes or sorted(self.nodes))}

    def wait_converged(self, nodes=None, timeout=30.0):
        """Waits until every node in nodes reports the same digest and store version.
        Returns that (digest, version)."""
        nodes = list(nodes or sorted(self.nodes))

        def same():
            d = self.digests(nodes)
            return d[nodes[0]] if len(set(d.values())) == 1 else Pending(d)

        return wait_until(same, timeout, "same digest and store version on %s"
                          % ",".join("n%d" % i for i in nodes), interval=0.1)

    # -- cleanup
    def cleanup(self):
        """Stops everything this cluster started, by PID; removes namespaces and files.
        Never raises; always runs to the end."""
        t0 = time.monotonic()
        nodes = list(self.nodes.values())
        # pvefsd: SIGTERM to all at once, wait up to 5 s in all, then SIGKILL what is left
        for nd in nodes:
            if nd.alive():
                try:
                    nd.proc.send_signal(signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for nd in nodes:
            if nd.alive():
                try:
                    nd.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log("%s: pvefsd still running 5 s after SIGTERM, SIGKILL" % nd.name)
        for nd in nodes:
            nd.cleanup()
        for nd in nodes:
            try:
                nd.corosync_kill9()
            except Exception as e:  # noqa: BLE001
                log("%s: corosync cleanup: %r" % (nd.name, e))
        for ns in reversed(self.made_ns):
            # anything still in the namespace was started by this run: SIGKILL by PID
            for pid in _pids_in_netns("/run/netns/" + ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            run(["ip", "netns", "del", ns], check=False)
        self.made_ns = []
        # daemons write sanitizer (leak) reports when they exit: read them before rm -rf
        self.sanitizer_reports = [r for r in (sanitizer_report(lp) for lp in self.logs()) if r]
        if KEEP:
            log("PVEFS_CT_KEEP=1: keeping %s" % self.base)
        elif self.base.exists() and not pvefslib.remove_base(self.base):
            log("not removing %s: something is still mounted below it" % self.base)
        if self._up:
            log("cleanup of run %s took %.2f s" % (self.runid, time.monotonic() - t0))
            self._up = False

    def logs(self):
        """All pvefsd logs of all nodes (for the sanitizer check)."""
        return [lp for nd in self for lp in nd.logs]


def sanitizer_report(logpath):
    """The first ASan/UBSan/LSan report in a pvefsd log, or None."""
    try:
        text = logpath.read_text(errors="replace")
    except OSError:
        return None
    hits = [i for i in (text.find(m) for m in SANITIZER_MARKS) if i >= 0]
    if not hits:
        return None
    i = text.rfind("\n", 0, min(hits)) + 1
    return "%s/%s:\n%s" % (logpath.parent.name, logpath.name, text[i:i + 3000])


def kill_all_live_daemons():
    """Watchdog: SIGKILL every pvefsd this process started, by PID, with its session."""
    for pid, proc in list(LIVE_DAEMONS.items()):
        pvefslib.kill_group(pid, proc)


def errno_of(fn, *a, **kw):
    """Runs fn; returns 0 or the errno of the OSError it raised."""
    try:
        fn(*a, **kw)
        return 0
    except OSError as e:
        return e.errno


def ename(e):
    return errno.errorcode.get(e, str(e)) if e else "OK"
