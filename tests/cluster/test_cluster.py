"""Multi-node tests: 3 and 5 real corosync nodes, one pvefsd each (see clusterlib.py).

The harness self-tests (test_harness_*) need only corosync and tools/pvefs-cluster; every
other test runs pvefsd in cluster mode (no --local) on each node.

Writes are "acknowledged" when open, every write(2) and close(2) returned 0; an
acknowledged write must be visible on every node at once and must never be lost.
"""
import errno
import os
import re
import secrets
import stat
import subprocess
import threading
import time

import pytest

import clusterlib
from clusterlib import Cluster, HarnessError, Pending, detach, errno_of, is_mounted, log, wait_until
import pvefslib
from pvefslib import qemu_config, read_text, try_write, write_errno, write_ok

ONLINE_WITHIN = 10.0     # s from a kill to "offline" on the other nodes
QUORUM_LOSS_WITHIN = 15.0
HEAL_WITHIN = 20.0


# ---------------------------------------------------------------------------- helpers
def names_in(nd, rel):
    return set(os.listdir(nd.p(rel)))


def status_of(nd, other):
    """nodes/<other>/status as read on nd, as {key: value}."""
    out = {}
    for line in read_text(nd.p("nodes/%s/status" % other)).splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def shows_offline(nd, other):
    m = nd.members()
    st = status_of(nd, other)
    return (m.get(other, (None, None))[1] == "offline" and st.get("online") == "0") or Pending((m.get(other), st))


def shows_online(nd, other):
    m = nd.members()
    st = status_of(nd, other)
    ok = (m.get(other, (None, None))[1] == "online" and st.get("online") == "1"
          and int(st.get("memtotal", "0") or 0) > 0)
    return ok or Pending((m.get(other), st))


class Writers:
    """One thread per writing node; each writes `per_node` documents in its own namespace:
    configs of its own VMs (vmids 1000 + 10*i + j, j < vms) and scratch files
    priv/w<i>-<k>. Records, per path, the last acknowledged content and any attempt
    after it that failed (whose outcome is unknown). A writer stops at its first error."""

    def __init__(self, cluster, nodes, per_node, vms=4, tag=None):
        self.c = cluster
        self.nodes = list(nodes)
        self.per_node = per_node
        self.vms = vms
        self.tag = tag or secrets.token_hex(3)
        self.acked = {}       # rel path -> content
        self.pending = {}     # rel path -> content of a failed attempt after the last ack
        self.errors = {}      # node -> (rel, errno, k)
        self.count = {i: 0 for i in self.nodes}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = []

    def vmids(self, i):
        return [1000 + 10 * i + j for j in range(self.vms)]

    def prepare(self):
        for i in self.nodes:
            nd = self.c[i]
            for vmid in self.vmids(i):
                os.mkdir(nd.vm(vmid))
                rel = "nodes/%s/qemu/%d/config" % (nd.name, vmid)
                body = qemu_config(name="w%d" % vmid, memory=512)
                write_ok(nd.p(rel), body)
                self.acked[rel] = body

    def _run(self, i):
        nd = self.c[i]
        for k in range(self.per_node):
            if self.stop.is_set():
                return
            if k % 2 == 0:
                vmid = self.vmids(i)[(k // 2) % self.vms]
                rel = "nodes/%s/qemu/%d/config" % (nd.name, vmid)
                body = qemu_config(name="w%d" % vmid, memory=512 + k, cores=1 + k % 4,
                                   comment="%s writer n%d #%d" % (self.tag, i, k))
            else:
                rel = "priv/w%d-%s-%d" % (i, self.tag, k)
                body = "%s scratch from n%d #%d\n%s\n" % (self.tag, i, k, "x" * (k % 200))
            r = try_write(nd.p(rel), [body], flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            e = write_errno(r)
            with self.lock:
                if e:
                    self.pending[rel] = body
                    self.errors[i] = (rel, e, k)
                    return
                self.acked[rel] = body
                self.pending.pop(rel, None)
                self.count[i] += 1

    def start(self):
        for i in self.nodes:
            t = threading.Thread(target=self._run, args=(i,), name="writer-n%d" % i, daemon=True)
            t.start()
            self.threads.append(t)

    def total(self):
        with self.lock:
            return sum(self.count.values())

    def wait_total(self, n, timeout):
        wait_until(lambda: self.total() >= n or not any(t.is_alive() for t in self.threads), timeout,
                   "%d acknowledged writes" % n)

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = [t.name for t in self.threads if t.is_alive()]
        if alive:
            self.stop.set()
            raise HarnessError("writers still running after %.0f s: %s (counts %s)" % (timeout, alive, self.count))

    def verify(self, nd):
        """Every acknowledged write is on nd with its exact content (or, when a later
        attempt failed with an unknown outcome, that attempt's content)."""
        bad = []
        for rel, body in sorted(self.acked.items()):
            try:
                got = read_text(nd.p(rel))
            except OSError as e:
                got = e
            if got != body and got != self.pending.get(rel):
                bad.append((rel, body, got))
        assert not bad, "%s: %d of %d acknowledged writes missing or different, e.g. %r" % (
            nd.name, len(bad), len(self.acked), bad[:3])


def assert_reads(nd, rel, want, what):
    """nd reads rel as want right now. On a mismatch, says whether (and when) the right
    content showed up later: a lag, or a stale cache that never catches up."""
    got = read_text(nd.p(rel))
    if got == want:
        return
    t0 = time.monotonic()
    later = None
    while time.monotonic() - t0 < 3:
        if read_text(nd.p(rel)) == want:
            later = time.monotonic() - t0
            break
        time.sleep(0.01)
    raise AssertionError("%s: %s read stale right after the acknowledged write (%s): got %r, want %r; %s"
                         % (nd.name, rel, what, got, want,
                            "correct %.3f s later" % later if later is not None else "still stale after 3 s"))


def assert_errno(e, want, what):
    assert e == want, "%s: got %s, want %s" % (what, clusterlib.ename(e), clusterlib.ename(want))


# ---------------------------------------------------------------------------- harness self-tests
@pytest.mark.budget(60)
def test_harness_corosync_quorum():
    """3 corosyncs in 3 namespaces: quorate with all members from every netns; a
    partition, heal, kill -9 and restart behave; cleanup leaves nothing behind."""
    t0 = time.monotonic()
    with Cluster(3, pvefsd=[]) as c:
        for nd in c:
            assert nd.quorum_status() == (True, [1, 2, 3]), nd.name
        # the configs come from tools/pvefs-cluster and share one key
        keys = {(nd.conf_dir / "authkey").read_bytes() for nd in c}
        assert len(keys) == 1 and len(keys.pop()) == 256
        assert oct(stat.S_IMODE(os.stat(c[1].conf_dir / "authkey").st_mode)) == "0o400"
        c.partition([[1], [2, 3]])
        c.wait_quorum([1], members=[1], quorate=False)
        c.wait_quorum([2, 3])
        c.heal()
        c.wait_quorum()
        cspid = c[3].cs.pid
        c[3].corosync_kill9()
        assert not any(n.startswith("qb-%d-" % cspid) for n in os.listdir("/dev/shm"))
        c.wait_quorum([1, 2], members=[1, 2])
        c[3].corosync_start()
        c.wait_quorum()
        pids = [nd.cs.pid for nd in c]
        names = list(c.made_ns)
        base = c.base
        log("harness self-test body took %.2f s" % (time.monotonic() - t0))
    left = set(clusterlib.netns_list()) & set(names)
    assert not left, "namespaces left behind: %s" % left
    assert not base.exists(), "%s left behind" % base
    for pid in pids:
        assert not clusterlib._alive(pid), "corosync %d still alive" % pid
        assert not any(n.startswith("qb-%d-" % pid) for n in os.listdir("/dev/shm")), "/dev/shm leftovers of %d" % pid


@pytest.mark.budget(60)
def test_harness_corosync_5_nodes_partition():
    with Cluster(5, pvefsd=[]) as c:
        c.partition([[1, 2], [3, 4, 5]])
        c.wait_quorum([1, 2], members=[1, 2], quorate=False)
        c.wait_quorum([3, 4, 5])
        c.heal()
        c.wait_quorum()


@pytest.mark.budget(60)
def test_node_not_in_nodelist_refused(make_cluster):
    """pvefsd --node NAME (cluster mode) refuses a name corosync's nodelist does not have,
    before it opens or mounts anything: such a node would join as a member nobody
    configured, and the HA manager would mark it for fencing."""
    c = make_cluster(3, pvefsd=[1])
    n1 = c[1]
    stranger = c.base / "n4"
    data, mnt = stranger / "data", stranger / "mnt"
    data.mkdir(parents=True)
    mnt.mkdir()
    mounts_before = sorted(pvefslib.mount_entries())
    cmd = ["nsenter", "--net=" + n1.nspath, "--", c.pvefsd, "-f", "--node", "n4", "--data", str(data), str(mnt)]
    try:
        p = clusterlib.run(cmd, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        detach(mnt)
        pytest.fail("pvefsd --node n4 still ran after 20 s: it was not refused")
    assert p.returncode == 1, "rc=%d, stderr:\n%s" % (p.returncode, p.stderr)
    assert "pvefsd: node n4 is not in corosync's nodelist (it has n1 n2 n3)" in p.stderr, p.stderr
    assert not any(m in p.stderr for m in clusterlib.SANITIZER_MARKS), p.stderr
    assert not is_mounted(mnt)
    assert sorted(pvefslib.mount_entries()) == mounts_before
    assert os.listdir(data) == [], "the refused daemon wrote to its data directory: %s" % os.listdir(data)
    # the cluster never saw it
    assert "n4" not in n1.members(), n1.members()
    # the same daemon under a name the nodelist has does start (the check is by name)
    n2 = c[2]
    n2.start()
    assert n2.quorate() == "1\n"


def test_harness_pvefs_cluster_tool(tmp_path):
    tool = clusterlib.PVEFS_CLUSTER
    d = tmp_path / "cs"
    clusterlib.run([tool, "create", "demo", "--node", "a:1:10.9.9.1", "--node", "b:2:10.9.9.2",
                    "--conf-dir", str(d), "--token", "1500"])
    conf = (d / "corosync.conf").read_text()
    assert "cluster_name: demo" in conf and "token: 1500" in conf and "two_node: 1" in conf
    assert "config_version: 1" in conf and "keyfile: %s/authkey" % d in conf
    assert "crypto_cipher: aes256" in conf and "crypto_hash: sha256" in conf
    assert "state_dir: %s/state" % d in conf and "logfile: %s/corosync.log" % d in conf
    assert "blackbox: off" in conf and "sched_rr: no" in conf and "move_to_root_cgroup: no" in conf
    assert stat.S_IMODE(os.stat(d / "authkey").st_mode) == 0o400 and os.path.getsize(d / "authkey") == 256
    clusterlib.run([tool, "add", "c:3:10.9.9.3", "--conf-dir", str(d)])
    conf = (d / "corosync.conf").read_text()
    assert "config_version: 2" in conf and "two_node" not in conf
    assert re.search(r"nodeid: 3\s+name: c\s+ring0_addr: 10.9.9.3", conf)
    st = clusterlib.run([tool, "status", "--conf-dir", str(d)]).stdout
    assert re.search(r"^3\s+c\s+10.9.9.3$", st, re.M) and "nodes: 3" in st, st
    # duplicates are refused and leave the file alone
    for spec in ("c:4:10.9.9.4", "d:3:10.9.9.4", "d:4:10.9.9.3", "bad"):
        p = clusterlib.run([tool, "add", spec, "--conf-dir", str(d)], check=False)
        assert p.returncode != 0, spec
    assert (d / "corosync.conf").read_text() == conf
    # corosync itself accepts the file: `corosync -t` checks it, in a netns that has node a's address
    ns = "pvtool-" + secrets.token_hex(3)
    clusterlib.run(["ip", "netns", "add", ns])
    try:
        clusterlib.run(["ip", "-n", ns, "link", "set", "lo", "up"])
        clusterlib.run(["ip", "-n", ns, "addr", "add", "10.9.9.1/32", "dev", "lo"])
        p = clusterlib.run(["nsenter", "--net=/run/netns/" + ns, "--", "corosync", "-t", "-c",
                            str(d / "corosync.conf")], check=False)
        assert p.returncode == 0, "corosync -t: rc=%d %s%s" % (p.returncode, p.stdout, p.stderr)
    finally:
        clusterlib.run(["ip", "netns", "del", ns], check=False)


# ---------------------------------------------------------------------------- replication
def test_config_mkdir_rmdir_rename_replicate(cluster3):
    c = cluster3
    n1, n2, n3 = c[1], c[2], c[3]
    os.mkdir(n1.vm(100))
    for nd in (n2, n3):
        assert os.path.isdir(nd.p("nodes/n1/qemu/100")), nd.name
        assert "100" in names_in(nd, "nodes/n1/qemu"), nd.name
        assert os.readlink(nd.p("vms/100")) == "../nodes/n1/qemu/100", nd.name
    # each version is visible everywhere as soon as close() returned, even where the old one was cached
    for k in range(10):
        cfg = qemu_config(name="repl", memory=1024 + 64 * k, comment="written on n1, round %d" % k)
        write_ok(n1.vm(100, "config"), cfg)
        for nd in c:
            assert_reads(nd, "nodes/n1/qemu/100/config", cfg, "round %d, written on n1" % k)
            assert os.stat(nd.p("nodes/n1/qemu/100/config")).st_size == len(cfg), (nd.name, k)
    # every node has its node directory, everywhere
    for nd in c:
        assert {"n1", "n2", "n3"} <= names_in(nd, "nodes"), (nd.name, names_in(nd, "nodes"))
    # mkdir / rmdir from another node
    os.mkdir(n2.vm(101))
    for nd in c:
        assert os.path.isdir(nd.p("nodes/n2/qemu/101")), nd.name
    os.rmdir(n2.vm(101))
    for nd in c:
        assert "101" not in names_in(nd, "nodes/n2/qemu"), nd.name
        assert errno_of(os.stat, nd.p("nodes/n2/qemu/101")) == errno.ENOENT, nd.name
        assert not os.path.lexists(nd.p("vms/101")), nd.name
    # migrate-style rename of the VM directory to another node
    os.rename(n1.p("nodes/n1/qemu/100"), n1.p("nodes/n2/qemu/100"))
    for nd in c:
        assert "100" not in names_in(nd, "nodes/n1/qemu"), nd.name
        assert "100" in names_in(nd, "nodes/n2/qemu"), nd.name
        assert read_text(nd.p("nodes/n2/qemu/100/config")) == cfg, nd.name
        assert os.readlink(nd.p("vms/100")) == "../nodes/n2/qemu/100", nd.name
        assert read_text(nd.p("vms/100/config")) == cfg, nd.name
    c.wait_converged(timeout=10)


@pytest.mark.budget(120)
def test_concurrent_writers_converge(cluster3):
    c = cluster3
    w = Writers(c, [1, 2, 3], per_node=334)
    w.prepare()
    t0 = time.monotonic()
    w.start()
    w.join(90)
    dt = time.monotonic() - t0
    log("%d acknowledged writes from 3 nodes in %.2f s (%.0f/s)" % (w.total(), dt, w.total() / dt))
    assert not w.errors, "writes failed: %s" % {i: (r, clusterlib.ename(e), k) for i, (r, e, k) in w.errors.items()}
    assert w.total() == 1002
    digest = c.wait_converged(timeout=15)
    log("converged at %s" % (digest,))
    for nd in c:
        w.verify(nd)


@pytest.mark.budget(150)
def test_kill9_during_writes_then_catch_up(cluster3):
    c = cluster3
    w = Writers(c, [1, 2, 3], per_node=300)
    w.prepare()
    w.start()
    w.wait_total(200, 60)
    c[3].kill9()
    log("killed n3's pvefsd after %d acknowledged writes" % w.total())
    quorate_seen = set()
    while any(t.is_alive() for t in w.threads[:2]):
        quorate_seen.add((c[1].quorate(), c[2].quorate()))
        time.sleep(0.05)
    w.join(60)
    assert quorate_seen <= {("1\n", "1\n")}, "n1/n2 lost quorum while n3's pvefsd was dead: %s" % quorate_seen
    assert c[1].quorate() == "1\n" and c[2].quorate() == "1\n"
    assert 1 not in w.errors and 2 not in w.errors, "writes on n1/n2 failed: %s" % w.errors
    assert w.count[1] == 300 and w.count[2] == 300
    c.wait_converged([1, 2], timeout=15)
    for i in (1, 2):
        w.verify(c[i])
    t0 = time.monotonic()
    c[3].start()
    digest = c.wait_converged(timeout=60)
    log("n3 restarted and caught up in %.2f s (%s)" % (time.monotonic() - t0, digest))
    w.verify(c[3])


@pytest.mark.budget(120)
def test_restart_while_others_write(cluster3):
    """n1 and n2 write without pause while n3's pvefsd is stopped, started and restarted."""
    c = cluster3
    w = Writers(c, [1, 2], per_node=10 ** 6)  # until told to stop
    w.prepare()
    w.start()
    w.wait_total(100, 60)
    rc = c[3].stop()
    assert rc == 0, "n3's pvefsd exited %s on SIGTERM" % rc
    w.wait_total(w.total() + 100, 60)
    c[3].start()
    w.wait_total(w.total() + 100, 60)
    c[3].restart()
    w.wait_total(w.total() + 100, 60)
    w.stop.set()
    w.join(30)
    log("%d acknowledged writes across the restarts" % w.total())
    assert not w.errors, "writes failed: %s" % w.errors
    c.wait_converged(timeout=60)
    for nd in c:
        w.verify(nd)


# ---------------------------------------------------------------------------- partitions
def _check_minority_readonly(c, minority, majority, vmid):
    """The minority: quorate 0, writes EROFS, reads fine, local/ without write bits.
    The majority writes on. Then heal: everyone converges to the majority's state."""
    problems = []
    cfg0 = qemu_config(name="part", memory=1024, comment="before the partition")
    a = c[minority[0]]
    os.mkdir(a.vm(vmid))
    write_ok(a.vm(vmid, "config"), cfg0)
    assert stat.S_IMODE(os.stat(a.p("local")).st_mode) & 0o200, "local/ not writable before the partition"
    groups = [minority, majority]
    c.partition(groups)
    c.wait_pvefs_quorate(minority, "0", QUORUM_LOSS_WITHIN)
    c.wait_pvefs_quorate(majority, "1", QUORUM_LOSS_WITHIN)
    for i in minority:
        nd = c[i]
        cfgp = nd.p("nodes/%s/qemu/%d/config" % (a.name, vmid))
        assert_errno(write_errno(try_write(cfgp, [qemu_config(name="nope", memory=2048)])), errno.EROFS,
                     "%s: write config without quorum" % nd.name)
        assert_errno(errno_of(os.mkdir, nd.vm(vmid + 1)), errno.EROFS, "%s: mkdir without quorum" % nd.name)
        assert_errno(write_errno(try_write(nd.p("priv/minority"), ["x\n"], flags=os.O_WRONLY | os.O_CREAT)),
                     errno.EROFS, "%s: create scratch file without quorum" % nd.name)
        assert_errno(errno_of(os.rmdir, nd.p("nodes/%s/qemu/%d" % (a.name, vmid))), errno.EROFS,
                     "%s: rmdir without quorum" % nd.name)
        # reads keep working
        assert read_text(cfgp) == cfg0, nd.name
        assert nd.members(), nd.name
        assert os.readlink(nd.p("local")) == "nodes/%s" % nd.name
        mode = stat.S_IMODE(os.stat(nd.p("local")).st_mode)
        if mode & 0o222:  # reported at the end, so that the heal is exercised too
            problems.append("%s: local/ has mode %o without quorum (want no write bits)" % (nd.name, mode))
    # the majority keeps writing
    b = c[majority[0]]
    cfg1 = qemu_config(name="part", memory=4096, comment="written by the majority")
    write_ok(b.p("nodes/%s/qemu/%d/config" % (a.name, vmid)), cfg1)
    os.mkdir(b.vm(vmid + 2))
    write_ok(b.p("priv/majority-%d" % vmid), "majority\n")
    for i in majority:
        got = read_text(c[i].p("nodes/%s/qemu/%d/config" % (a.name, vmid)))
        assert got == cfg1, "n%d (majority): the config %s wrote reads back as %r" % (i, b.name, got)
        assert os.path.isdir(c[i].p("nodes/%s/qemu/%d" % (b.name, vmid + 2))), "n%d (majority)" % i
    for i in minority:  # the minority still serves its old state
        got = read_text(c[i].p("nodes/%s/qemu/%d/config" % (a.name, vmid)))
        assert got == cfg0, "n%d (minority): config changed to %r during the partition" % (i, got)
    t0 = time.monotonic()
    c.heal()
    c.wait_pvefs_quorate(sorted(c.nodes), "1", HEAL_WITHIN)
    digest = c.wait_converged(timeout=30)
    log("healed and converged in %.2f s (%s)" % (time.monotonic() - t0, digest))
    for nd in c:
        assert read_text(nd.p("nodes/%s/qemu/%d/config" % (a.name, vmid))) == cfg1, nd.name
        assert os.path.isdir(nd.p("nodes/%s/qemu/%d" % (b.name, vmid + 2))), nd.name
        assert read_text(nd.p("priv/majority-%d" % vmid)) == "majority\n", nd.name
        assert stat.S_IMODE(os.stat(nd.p("local")).st_mode) & 0o200, "%s: local/ still read-only" % nd.name
    # and the former minority can write again
    write_ok(a.vm(vmid, "config"), cfg0)
    for nd in c:
        assert read_text(nd.p("nodes/%s/qemu/%d/config" % (a.name, vmid))) == cfg0, nd.name
    assert not problems, "\n".join(problems)


@pytest.mark.budget(90)
def test_partition_minority_readonly_3(cluster3):
    _check_minority_readonly(cluster3, [1], [2, 3], 300)


@pytest.mark.budget(90)
def test_partition_minority_readonly_5(cluster5):
    _check_minority_readonly(cluster5, [1, 2], [3, 4, 5], 400)


# ---------------------------------------------------------------------------- join
@pytest.mark.budget(400)
def test_new_node_syncs_10000_objects(make_cluster):
    c = make_cluster(3, pvefsd=[1, 2])
    n1 = c[1]
    dirs, per_dir = 10, 1000
    t0 = time.monotonic()
    for k in range(dirs):
        os.mkdir(n1.p("priv/bulk%d" % k))
        for j in range(per_dir):
            with open(n1.p("priv/bulk%d/f%d" % (k, j)), "w") as f:
                f.write("object %d/%d\n" % (k, j))
    t_write = time.monotonic() - t0
    log("10,000 scratch files written on n1 in %.1f s (%.0f/s)" % (t_write, dirs * per_dir / t_write))
    c.wait_converged([1, 2], timeout=60)
    entries = int(re.search(r"^pvefs_store_entries\s+(\d+)", n1.metrics(), re.M).group(1))
    assert entries >= dirs * per_dir, entries
    t0 = time.monotonic()
    c[3].start(timeout=120)
    t_start = time.monotonic() - t0
    digest = c.wait_converged(timeout=180)
    t_sync = time.monotonic() - t0
    log("n3 joined with an empty data dir: quorate/mounted after %.1f s, same digest after %.1f s (%s)"
        % (t_start, t_sync, digest))
    n3 = c[3]
    t0 = time.monotonic()
    for k in range(dirs):
        names = names_in(n3, "priv/bulk%d" % k)
        assert names == {"f%d" % j for j in range(per_dir)}, (k, len(names))
        for j in range(per_dir):
            assert read_text(n3.p("priv/bulk%d/f%d" % (k, j))) == "object %d/%d\n" % (k, j)
    log("all 10,000 files read back on n3 in %.1f s" % (time.monotonic() - t0))


# ---------------------------------------------------------------------------- membership and status
@pytest.mark.budget(120)
def test_members_and_node_status_follow_kills(cluster3):
    c = cluster3
    for nd in c:
        m = nd.members()
        assert set(m) == {"n1", "n2", "n3"}, (nd.name, m)
        assert all(v[1] == "online" for v in m.values()), (nd.name, m)
        assert [m["n%d" % i][0] for i in (1, 2, 3)] == ["1", "2", "3"], (nd.name, m)
        for other in c:
            wait_until(lambda nd=nd, other=other: shows_online(nd, other.name), ONLINE_WITHIN,
                       "%s: nodes/%s/status online with figures" % (nd.name, other.name))
    # pvefsd of n3 killed: offline for n1 and n2, live
    t0 = time.monotonic()
    c[3].kill9()
    for i in (1, 2):
        wait_until(lambda i=i: shows_offline(c[i], "n3"), ONLINE_WITHIN, "n%d: n3 offline after pvefsd kill" % i)
    log("n3 offline everywhere %.2f s after its pvefsd was killed" % (time.monotonic() - t0))
    assert c[1].quorate() == "1\n"
    c[3].start()
    for i in (1, 2):
        wait_until(lambda i=i: shows_online(c[i], "n3"), ONLINE_WITHIN, "n%d: n3 online again" % i)
    # corosync of n2 killed: offline for n1 and n3, who stay quorate
    t0 = time.monotonic()
    c[2].corosync_kill9()
    for i in (1, 3):
        wait_until(lambda i=i: shows_offline(c[i], "n2"), ONLINE_WITHIN, "n%d: n2 offline after corosync kill" % i)
    log("n2 offline everywhere %.2f s after its corosync was killed" % (time.monotonic() - t0))
    c.wait_pvefs_quorate([1, 3], "1", 5)
    # corosync back: n2's pvefsd reconnects by itself
    c[2].corosync_start()
    c.wait_quorum()
    for i in (1, 3):
        wait_until(lambda i=i: shows_online(c[i], "n2"), 20, "n%d: n2 online after its corosync restarted" % i)
    assert c[2].alive(), "n2's pvefsd died when its corosync was killed"
    c.wait_pvefs_quorate([1, 2, 3], "1", 10)


# ---------------------------------------------------------------------------- command forwarding
def test_node_ctl_forwarded(cluster3):
    c = cluster3
    n1, n2 = c[1], c[2]
    ctl = n1.p("nodes/n2/ctl")
    assert_errno(write_errno(try_write(ctl, ["ping\n"])), 0, "n1: ping into nodes/n2/ctl")
    marker = "forwarded-" + secrets.token_hex(4)
    assert_errno(write_errno(try_write(ctl, ["log %s\n" % marker])), 0, "n1: log into nodes/n2/ctl")
    pat = re.compile(r"^\S+ n2 \S+: .*%s" % marker, re.M)
    wait_until(lambda: pat.search(n2.read("cluster/log")), 5, "the forwarded log line in n2's cluster/log")
    # an unknown command is still refused with EINVAL (by n2)
    assert_errno(write_errno(try_write(ctl, ["frobnicate\n"])), errno.EINVAL, "n1: bogus command into nodes/n2/ctl")
    # with n2's pvefsd gone there is nobody to run it
    n2.kill9()
    wait_until(lambda: shows_offline(n1, "n2"), ONLINE_WITHIN, "n1: n2 offline")
    t0 = time.monotonic()
    assert_errno(write_errno(try_write(ctl, ["ping\n"])), errno.EHOSTUNREACH, "n1: ping into nodes/n2/ctl, n2 down")
    assert time.monotonic() - t0 < 5, "the refused forward took %.1f s" % (time.monotonic() - t0)
    # n1's own ctl still works
    assert_errno(write_errno(try_write(n1.p("nodes/n1/ctl"), ["ping\n"])), 0, "n1: own ctl")
