"""drivers/net_*.c against the real kernel, through tests/net/netprobe (ASan/UBSan build).

Three "nodes" (network namespaces) hang off an underlay bridge in a fabric namespace. Each
node gets, through the library, a VNet: bridge vnet100 + vxlan vx100 (VNI 100, head-end
replication to the other nodes) and a guest namespace on a veth. Nodes 1 and 2 also carry
VNI 200 with one guest each. The tests check connectivity and isolation for real, that a
second apply changes nothing, that peer and VNI changes reach the kernel, the error paths,
and (when Open vSwitch is installed) VLAN tag isolation on a private userspace OVS.

Every namespace is named pvnl-<pid>-*, nothing touches the host's namespace, and every
process started is stopped by PID. Run as root inside a private mount namespace:
    unshare --mount --propagation private python3 -m pytest -q tests/system/test_netlink.py
"""
import errno
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "build/asan/netprobe"
SOURCES = ["tests/net/netprobe.c", "drivers/net_link.c", "drivers/net_apply.c", "drivers/net_ovs.c",
           "fs/buf.c",
           "drivers/net.h", "fs/buf.h"]
BUILD = ("gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined "
         "-o build/asan/netprobe tests/net/netprobe.c drivers/net_link.c drivers/net_apply.c "
         "drivers/net_ovs.c "
         "fs/buf.c $(pkg-config --cflags --libs libnl-route-3.0 libmnl)")
PFX = "pvnl-%d" % os.getpid()
NODES = (1, 2, 3)
SAN_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
           LSAN_OPTIONS="suppressions=%s:print_suppressions=0" % (ROOT / "tests/lsan.supp"),
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def run(*args, timeout=15, env=None, input=None):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                          env=env, input=input)


def ip(*args):
    r = run("ip", *args)
    assert r.returncode == 0, "ip %s: %s" % (" ".join(args), r.stderr)
    return r.stdout


def ns(name):
    return "%s-%s" % (PFX, name)


def probe(node, *args, env=None):
    """netprobe in namespace node; fails the test on any sanitizer report."""
    r = run("ip", "netns", "exec", ns(node), PROBE, *args, env=env or ENV)
    assert not any(m in r.stderr for m in SAN_MARKS), "sanitizer: netprobe %s\n%s" % (args, r.stderr)
    return r


def apply(node, *args, env=None):
    """An ensure command that must succeed; returns "changed" or "unchanged"."""
    r = probe(node, *args, env=env)
    assert r.returncode == 0, "netprobe %s in %s: rc %d: %s" % (args, node, r.returncode, r.stderr)
    assert r.stdout.strip() in ("changed", "unchanged"), r.stdout
    return r.stdout.strip()


def apply_batch(node, cmds, env=None):
    """Several ensure commands in one netprobe process; returns [(node, cmd, result)]."""
    r = run("ip", "netns", "exec", ns(node), PROBE, "batch", env=env or ENV,
            input="".join(" ".join(c) + "\n" for c in cmds))
    assert not any(m in r.stderr for m in SAN_MARKS), "sanitizer: netprobe batch\n" + r.stderr
    out = r.stdout.split()
    assert r.returncode == 0, "netprobe %s in %s: rc %d: %s" % (
        cmds[len(out)] if len(out) < len(cmds) else cmds, node, r.returncode, r.stderr)
    assert len(out) == len(cmds) and set(out) <= {"changed", "unchanged"}, r.stdout
    return [(node, c, res) for c, res in zip(cmds, out)]


def show(node, iface):
    r = probe(node, "show", iface)
    assert r.returncode == 0, r.stderr
    return dict(line.split(": ", 1) for line in r.stdout.splitlines())


def ping(src, addr, wait=2):
    return run("ip", "netns", "exec", ns(src), "busybox", "ping", "-c1", "-W%d" % wait,
               addr).returncode == 0


def fdb_dsts(node, dev):
    out = ip("-n", ns(node), "-d", "link", "show", dev)  # the device must exist
    assert out
    r = run("ip", "netns", "exec", ns(node), "bridge", "fdb", "show", "dev", dev)
    return sorted(re.findall(r"^00:00:00:00:00:00 dst (\S+)", r.stdout, re.M))


def del_ns(names):
    for n in names:
        run("ip", "netns", "del", n)


@pytest.fixture(scope="module")
def netprobe():
    newest = max((ROOT / s).stat().st_mtime for s in SOURCES)
    if not PROBE.exists() or PROBE.stat().st_mtime < newest:
        PROBE.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["bash", "-c", BUILD], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
        if r.returncode:
            pytest.skip("cannot build netprobe (%s): %s" % (BUILD, r.stderr[-1500:]))
    return PROBE


def vnet_commands(i, vni, peers_of):
    """The ensure commands that give node i the VNet vni with one guest port."""
    port = ("gst%d" if vni == 100 else "hst%d") % i
    return [("bridge", "vnet%d" % vni, "1450"),
            ("vxlan", "vx%d" % vni, str(vni), "10.99.0.%d" % i, "4789", "vnet%d" % vni, "1450"),
            ("peers", "vx%d" % vni) + tuple("10.99.0.%d" % j for j in peers_of if j != i),
            ("veth", port, port + "p")]


def port_commands(i, vni):
    port = ("gst%d" if vni == 100 else "hst%d") % i
    return [("master", port, "vnet%d" % vni), ("mtu", port, "1450"), ("up", port)]


def attach_guest(i, vni, guest, addr):
    """Move the veth peer into the guest namespace as eth0 (what LXC does for a CT NIC)."""
    port = ("gst%d" if vni == 100 else "hst%d") % i
    ip("-n", ns("n%d" % i), "link", "set", port + "p", "netns", ns(guest), "name", "eth0")
    ip("-n", ns(guest), "link", "set", "lo", "up")
    ip("-n", ns(guest), "link", "set", "eth0", "mtu", "1450", "up")
    ip("-n", ns(guest), "addr", "add", addr, "dev", "eth0")


@pytest.fixture(scope="module")
def fabric(netprobe):
    names = [ns("fab")] + [ns(x) for i in NODES for x in ("n%d" % i, "g%d" % i)] + \
        [ns("h1"), ns("h2")]
    first = []
    try:
        for n in names:
            ip("netns", "add", n)
        ip("-n", ns("fab"), "link", "add", "fab0", "type", "bridge")
        ip("-n", ns("fab"), "link", "set", "fab0", "up")
        for i in NODES:
            node = "n%d" % i
            ip("-n", ns("fab"), "link", "add", "ul%d" % i, "type", "veth", "peer", "name", "ul0",
               "netns", ns(node))
            ip("-n", ns("fab"), "link", "set", "ul%d" % i, "master", "fab0", "up")
            ip("-n", ns(node), "addr", "add", "10.99.0.%d/24" % i, "dev", "ul0")
            ip("-n", ns(node), "link", "set", "ul0", "up")
            ip("-n", ns(node), "link", "set", "lo", "up")
            first += apply_batch(node, vnet_commands(i, 100, NODES) + port_commands(i, 100))
            attach_guest(i, 100, "g%d" % i, "10.100.0.%d/24" % i)
            if i in (1, 2):
                first += apply_batch(node, vnet_commands(i, 200, (1, 2)) + port_commands(i, 200))
                attach_guest(i, 200, "h%d" % i, "10.100.0.1%d/24" % i)
        yield first
    finally:
        del_ns(names)


def test_first_apply_reports_changed(fabric):
    assert [(n, c) for n, c, res in fabric if res != "changed"] == []


def test_show_and_list(fabric):
    br = show("n1", "vnet100")
    assert (br["type"], br["mtu"], br["state"], br["master"]) == ("bridge", "1450", "up", "-")
    assert sorted(br["ports"].split()) == ["gst1", "vx100"]
    assert br["vlan_filtering"] in ("0", "unsupported")
    vx = show("n1", "vx100")
    assert (vx["type"], vx["vni"], vx["local"], vx["dstport"], vx["learning"]) == \
        ("vxlan", "100", "10.99.0.1", "4789", "0")
    assert (vx["master"], vx["mtu"], vx["state"]) == ("vnet100", "1450", "up")
    assert vx["peers"] == "10.99.0.2 10.99.0.3"
    assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", vx["mac"])
    d = ip("-n", ns("n1"), "-d", "link", "show", "vx100")
    assert "vxlan id 100 " in d and "nolearning" in d and "dstport 4789" in d and "master vnet100" in d
    port = show("n1", "gst1")
    assert (port["type"], port["master"], port["peer"], port["state"]) == ("veth", "vnet100", "-", "up")
    ul = show("n1", "ul0")
    assert "10.99.0.1/24" in ul["addresses"].split()
    assert int(ul["tx_packets"]) > 0 and int(ul["rx_bytes"]) > 0
    assert show("n1", "lo")["type"] == "loopback"
    r = probe("n1", "list")
    assert r.returncode == 0
    rows = {line.split()[1]: line.split() for line in r.stdout.splitlines()}
    assert rows["vx100"][2:] == ["vxlan", "up", "vnet100"] and rows["lo"][2] == "loopback"
    r = probe("n1", "show", "nosuch0")
    assert r.returncode == errno.ENODEV and "nosuch0: no such network interface" in r.stderr


def test_overlay_ping_all_pairs(fabric):
    bad = ["g%d->g%d" % (i, j) for i in NODES for j in NODES
           if i != j and not ping("g%d" % i, "10.100.0.%d" % j)]
    assert bad == []


def test_vni_isolation(fabric):
    assert ping("h1", "10.100.0.12"), "VNI 200 itself must work"
    # Same IP subnet, other VNI: nothing may get through.
    assert not ping("h1", "10.100.0.2", wait=1)


def test_reapply_changes_nothing(fabric):
    before = {i: fdb_dsts("n%d" % i, "vx100") for i in NODES}
    idx = show("n1", "vx100")["ifindex"]
    again = []
    for node in sorted({n for n, _, _ in fabric}):
        again += apply_batch(node, [c for n, c, _ in fabric if n == node])
    # And one command per process, as a caller that does not batch would.
    again += [(n, c, apply(n, *c)) for n, c, _ in fabric[:3]]
    assert [(n, c) for n, c, res in again if res != "unchanged"] == []
    assert {i: fdb_dsts("n%d" % i, "vx100") for i in NODES} == before
    assert show("n1", "vx100")["ifindex"] == idx
    # Other spellings of the same set: order, duplicates.
    assert apply("n1", "peers", "vx100", "10.99.0.3", "10.99.0.2", "10.99.0.2") == "unchanged"


def test_peer_set_changes(fabric):
    assert apply("n1", "peers", "vx100", "10.99.0.2") == "changed"
    assert fdb_dsts("n1", "vx100") == ["10.99.0.2"]
    assert apply("n1", "peers", "vx100", "10.99.0.2", "10.99.0.3", "10.99.0.9") == "changed"
    assert fdb_dsts("n1", "vx100") == ["10.99.0.2", "10.99.0.3", "10.99.0.9"]
    assert apply("n1", "peers", "vx100", "10.99.0.3", "10.99.0.2") == "changed"
    assert fdb_dsts("n1", "vx100") == ["10.99.0.2", "10.99.0.3"]
    assert apply("n1", "peers", "vx100", "10.99.0.2", "10.99.0.3") == "unchanged"
    assert ping("g1", "10.100.0.3")
    r = probe("n1", "peers", "vx100", "10.99.0.2", "not-an-ip")
    assert r.returncode == errno.EINVAL and "not-an-ip" in r.stderr
    assert fdb_dsts("n1", "vx100") == ["10.99.0.2", "10.99.0.3"]


def test_vni_change_recreates(fabric):
    old = show("n3", "vx100")
    assert apply("n3", "vxlan", "vx100", "101", "10.99.0.3", "4789", "vnet100", "1450") == "changed"
    d = ip("-n", ns("n3"), "-d", "link", "show", "vx100")
    assert "vxlan id 101 " in d and "master vnet100" in d and "nolearning" in d
    new = show("n3", "vx100")
    assert new["ifindex"] != old["ifindex"] and (new["vni"], new["state"]) == ("101", "up")
    assert fdb_dsts("n3", "vx100") == [] and new["peers"] == "-"  # gone with the device
    # Back to VNI 100: recreate, peers again, and the overlay works.
    assert apply("n3", "vxlan", "vx100", "100", "10.99.0.3", "4789", "vnet100", "1450") == "changed"
    assert apply("n3", "peers", "vx100", "10.99.0.1", "10.99.0.2") == "changed"
    assert ping("g3", "10.100.0.1")
    # A changed local address or port also recreates; mtu alone does not.
    idx = show("n3", "vx100")["ifindex"]
    assert apply("n3", "vxlan", "vx100", "100", "10.99.0.3", "4789", "vnet100", "1400") == "changed"
    assert show("n3", "vx100")["ifindex"] == idx
    assert apply("n3", "vxlan", "vx100", "100", "10.99.0.3", "4789", "vnet100", "1450") == "changed"


def test_vlan_filtering(fabric):
    supported = run("ip", "-n", ns("n1"), "link", "add", "vlftest", "type", "bridge",
                    "vlan_filtering", "1").returncode == 0
    run("ip", "-n", ns("n1"), "link", "del", "vlftest")
    r = probe("n1", "vlanfilter", "vnet100", "1")
    if supported:
        assert r.returncode == 0 and r.stdout.strip() == "changed", r.stderr
        assert show("n1", "vnet100")["vlan_filtering"] == "1"
        assert apply("n1", "vlanfilter", "vnet100", "1") == "unchanged"
        assert apply("n1", "vlanfilter", "vnet100", "0") == "changed"
    else:
        assert r.returncode == errno.EOPNOTSUPP, r.stderr
        assert "lacks VLAN-aware bridges" in r.stderr and "vnet100" in r.stderr
        assert apply("n1", "vlanfilter", "vnet100", "0") == "unchanged"
    r = probe("n1", "vlanfilter", "vx100", "1")
    assert r.returncode == errno.EINVAL and "not a bridge" in r.stderr


def test_link_primitives_and_errors(fabric):
    n = "n2"
    assert apply(n, "veth", "t1", "t1p") == "changed"
    assert apply(n, "veth", "t1", "t1p") == "unchanged"
    r = probe(n, "veth", "t1", "other")
    assert r.returncode == errno.EEXIST and "peer t1p" in r.stderr
    assert show(n, "t1")["peer"] == "t1p"
    cmds = [("master", "t1", "vnet100"), ("mtu", "t1", "1400"), ("up", "t1"), ("down", "t1"),
            ("master", "t1", "-")]
    res = apply_batch(n, [c for cmd in cmds for c in (cmd, cmd)])
    assert [r for _, _, r in res] == ["changed", "unchanged"] * len(cmds), res
    t1 = show(n, "t1")
    assert (t1["master"], t1["mtu"], t1["state"]) == ("-", "1400", "down")
    r = probe(n, "bridge", "t1")
    assert r.returncode == errno.EEXIST and "taken by a veth" in r.stderr
    r = probe(n, "vxlan", "vx9", "9", "-", "0", "nobr0")
    assert r.returncode == errno.ENODEV and "master bridge nobr0 does not exist" in r.stderr
    assert run("ip", "-n", ns(n), "link", "show", "vx9").returncode != 0  # nothing half-made
    r = probe(n, "vxlan", "vx9", "16777216", "-", "0", "-")
    assert r.returncode == errno.EINVAL and "out of range" in r.stderr
    r = probe(n, "master", "t1", "ul0")
    assert r.returncode == errno.EINVAL and "not a bridge" in r.stderr
    assert apply(n, "del", "t1") == "changed"
    assert apply(n, "del", "t1") == "unchanged"
    assert run("ip", "-n", ns(n), "link", "show", "t1p").returncode != 0  # the pair went together


def test_threads(fabric):
    r = probe("n3", "threads", "4", "5")
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stderr


OVS_BINS = ("ovs-vsctl", "ovsdb-server", "ovs-vswitchd", "ovsdb-tool")
OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


def stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=3)


def wait_for(path, proc, what):
    deadline = time.monotonic() + 5
    while not os.path.exists(path):
        assert proc.poll() is None, "%s exited with %s" % (what, proc.returncode)
        assert time.monotonic() < deadline, "%s did not create %s" % (what, path)
        time.sleep(0.02)


@pytest.mark.skipif(not all(shutil.which(b) for b in OVS_BINS) or not OVS_SCHEMA.exists(),
                    reason="Open vSwitch (openvswitch-switch) is not installed")
def test_ovs_tag_isolation(netprobe):
    d = tempfile.mkdtemp(prefix="pvnl-ovs-")  # short: it holds unix socket paths
    env = dict(ENV, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d)
    names = [ns("ovs")] + [ns("o%d" % g) for g in (1, 2, 3)]
    procs = []
    try:
        for n in names:
            ip("netns", "add", n)
        # No database yet: a clear ENOENT.
        r = probe("ovs", "ovsbr", "obr0", "netdev", env=env)
        assert r.returncode == errno.ENOENT and "cannot reach the OVS database" in r.stderr
        r = run("ovsdb-tool", "create", d + "/conf.db", OVS_SCHEMA)
        assert r.returncode == 0, r.stderr
        common = ["--log-file=%s/%%s.log" % d]
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns("ovs"), "ovsdb-server", d + "/conf.db",
             "--remote=punix:%s/db.sock" % d, "--unixctl=%s/ovsdb-server.ctl" % d,
             common[0] % "ovsdb-server"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        wait_for(d + "/db.sock", procs[-1], "ovsdb-server")
        r = run("ovs-vsctl", "--db=unix:%s/db.sock" % d, "--no-wait", "init", env=env)
        assert r.returncode == 0, r.stderr
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns("ovs"), "ovs-vswitchd", "unix:%s/db.sock" % d,
             "--unixctl=%s/ovs-vswitchd.ctl" % d, common[0] % "ovs-vswitchd"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(d + "/ovs-vswitchd.ctl", procs[-1], "ovs-vswitchd")

        assert apply("ovs", "ovsbr", "obr0", "netdev", env=env) == "changed"
        assert apply("ovs", "ovsbr", "obr0", "netdev", env=env) == "unchanged"
        tags = {1: 10, 2: 10, 3: 20}
        res = apply_batch("ovs", [("veth", "op%d" % g, "op%dp" % g) for g in tags])
        assert {r for _, _, r in res} == {"changed"}
        for g in tags:
            ip("-n", ns("ovs"), "link", "set", "op%dp" % g, "netns", ns("o%d" % g), "name", "eth0")
            ip("-n", ns("o%d" % g), "link", "set", "eth0", "up")
            ip("-n", ns("o%d" % g), "addr", "add", "10.55.0.%d/24" % g, "dev", "eth0")
        ports = [("ovsport", "obr0", "op%d" % g, str(t)) for g, t in tags.items()]
        res = apply_batch("ovs", [("up", "op%d" % g) for g in tags] + ports + ports, env=env)
        assert [r for _, _, r in res] == ["changed"] * 6 + ["unchanged"] * 3, res
        r = run("ovs-vsctl", "get", "port", "op3", "tag", env=env)
        assert r.stdout.strip() == "20"
        assert ping("o1", "10.55.0.2")
        assert not ping("o1", "10.55.0.3", wait=1), "tag 20 must not see tag 10"
        assert apply("ovs", "ovsport", "obr0", "op3", "10", env=env) == "changed"
        assert ping("o1", "10.55.0.3")
        assert apply("ovs", "ovsport", "obr0", "op3", "0", env=env) == "changed"
        assert run("ovs-vsctl", "get", "port", "op3", "tag", env=env).stdout.strip() == "[]"
        r = probe("ovs", "ovsport", "nobr", "op3", "10", env=env)
        assert r.returncode == errno.ENODEV and "nobr does not exist" in r.stderr
        assert apply("ovs", "ovsdel", "op3", env=env) == "changed"
        assert apply("ovs", "ovsdel", "op3", env=env) == "unchanged"
    finally:
        for p in reversed(procs):
            stop(p)
        del_ns(names)
        shutil.rmtree(d, ignore_errors=True)
