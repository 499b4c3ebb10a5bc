"""nodes/<n>/network/: a node's interfaces mirrored from netlink, and bridges made through
the tree.

pvefsd runs in a network namespace of its own (pvnet-<pid>), so every link the tests make
with `ip -n` is the daemon's and nothing touches the host. Checked: lo, bridges and veths
show up with their type, state, MTU, addresses, master and ports and vanish when deleted;
counters move with traffic; mkdir + config makes a Linux bridge, changes apply, rmdir
deletes it; bad input is refused with its errno and changes nothing; an idle node writes
nothing to the store; and, with Open vSwitch installed, an OVS bridge on a private userspace
OVS (started here, stopped by PID)."""
import errno
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from pvefslib import NODE, Pvefs, make_base, read_text, remove_base, run, try_write, write_errno, wait_for, fields

NS = "pvnet-%d" % os.getpid()
PEER = NS + "-p"
SAN_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
OVS_BINS = ("ovs-vsctl", "ovsdb-server", "ovs-vswitchd", "ovsdb-tool")
OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def ip(*args, ns=NS):
    r = run(["ip", "-n", ns] + list(args))
    assert r.returncode == 0, "ip %s: %s" % (" ".join(args), r.stderr)
    return r.stdout


@pytest.fixture(scope="module")
def net():
    """pvefsd in netns NS; OVS_RUNDIR points at an empty private dir (no OVS until a test
    starts one there)."""
    assert run(["ip", "netns", "add", NS]).returncode == 0
    base = make_base("pvefs-net-")
    ovsdir = tempfile.mkdtemp(prefix="pvnet-ovs-")  # short: it holds unix socket paths
    old = os.environ.get("OVS_RUNDIR")
    os.environ["OVS_RUNDIR"] = ovsdir
    d = Pvefs(base, netns=NS)
    d.ovsdir = ovsdir
    try:
        ip("link", "set", "lo", "up")
        d.start()
        yield d
    finally:
        d.cleanup()
        logs = "".join(l.read_text(errors="replace") for l in d.logs if l.exists())
        if old is None:
            os.environ.pop("OVS_RUNDIR", None)
        else:
            os.environ["OVS_RUNDIR"] = old
        run(["ip", "netns", "del", NS])
        run(["ip", "netns", "del", PEER])
        shutil.rmtree(ovsdir, ignore_errors=True)
        remove_base(base)
        assert not any(m in logs for m in SAN_MARKS), "sanitizer report:\n" + logs[-3000:]


def nd(d, rel=""):
    return d.p("nodes/%s/network%s" % (NODE, "/" + rel if rel else ""))


def status(d, iface):
    try:
        return fields(read_text(nd(d, iface + "/status")))
    except OSError:
        return {}


def write(path, text):
    return write_errno(try_write(path, text))


def link_show(iface):
    r = run(["ip", "-n", NS, "-d", "link", "show", iface])
    return r.stdout if r.returncode == 0 else None


def facts(iface):
    """What a refused change must leave alone: existence, kind, MTU, master, state."""
    r = run(["ip", "-j", "-d", "-n", NS, "link", "show", "dev", iface])
    if r.returncode:
        return None
    l = json.loads(r.stdout)[0]
    return (l.get("linkinfo", {}).get("info_kind"), l.get("mtu"), l.get("master"),
            l.get("operstate"), tuple(l.get("flags", ())))


def test_mirror_links(net):
    st = wait_for(lambda: status(net, "lo").get("state") == "up" and status(net, "lo"), 5, "lo")
    assert st["type"] == "loopback" and "127.0.0.1/8" in st["addresses"].split()
    ip("link", "add", "tbr0", "type", "bridge")
    ip("link", "add", "tva", "type", "veth", "peer", "name", "tvb")
    ip("link", "set", "tva", "master", "tbr0")
    ip("link", "set", "tvb", "mtu", "1400")
    ip("addr", "add", "10.66.0.1/24", "dev", "tbr0")
    ip("link", "set", "tbr0", "up")
    want = {
        "tbr0": lambda s: s.get("type") == "bridge" and s.get("ports") == "tva" and
        "10.66.0.1/24" in s.get("addresses", "").split() and s.get("state") in ("up", "lower-down"),
        "tva": lambda s: s.get("type") == "veth" and s.get("master") == "tbr0" and
        s.get("peer") == "tvb" and s.get("state") == "down",
        "tvb": lambda s: s.get("mtu") == "1400" and s.get("master") == "-",
    }
    for iface, ok in want.items():
        wait_for(lambda: ok(status(net, iface)), 5, "%s's status" % iface)
    assert "managed" not in status(net, "tbr0")
    c = fields(read_text(nd(net, "tva/counters")))
    assert set(c) == {"rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors",
                      "tx_errors", "rx_dropped", "tx_dropped"}
    ip("link", "del", "tbr0")
    ip("link", "del", "tva")
    for iface in want:
        wait_for(lambda: not os.path.exists(nd(net, iface)), 5, "%s to vanish" % iface)


def test_counters_move(net):
    assert run(["ip", "netns", "add", PEER]).returncode == 0
    ip("link", "add", "tc0", "type", "veth", "peer", "name", "eth0", "netns", PEER)
    ip("addr", "add", "10.67.0.1/24", "dev", "tc0")
    ip("link", "set", "tc0", "up")
    ip("addr", "add", "10.67.0.2/24", "dev", "eth0", ns=PEER)
    ip("link", "set", "eth0", "up", ns=PEER)
    wait_for(lambda: status(net, "tc0").get("peer") == "-", 5, "tc0 with its peer moved away")
    before = fields(read_text(nd(net, "tc0/counters")))
    r = run(["ip", "netns", "exec", NS, "busybox", "ping", "-c3", "-W2", "10.67.0.2"], timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    after = fields(read_text(nd(net, "tc0/counters")))
    assert int(after["tx_packets"]) >= int(before["tx_packets"]) + 3, (before, after)
    assert int(after["rx_bytes"]) > int(before["rx_bytes"]), (before, after)
    # the monitor's sample reaches the node's status (what the status channel carries)
    wait_for(lambda: any(l.startswith("net.tc0: ") and int(l.split()[3]) >= 3
                         for l in read_text(net.p("nodes/%s/status" % NODE)).splitlines()),
             5, "net.tc0 in the node's status")


def test_bridge_through_config(net):
    for a, b in (("pa", "pa-p"), ("pb", "pb-p")):
        ip("link", "add", a, "type", "veth", "peer", "name", b)
    os.mkdir(nd(net, "vmbr7"))
    st = status(net, "vmbr7")
    assert st == {"name": "vmbr7", "state": "absent", "managed": "1"}, st
    assert write(nd(net, "vmbr7/config"), "type: bridge\nmtu: 9000\nports: pa\ncomments: lab\n") == 0
    out = link_show("vmbr7")
    assert out and " bridge " in out and "mtu 9000" in out, out
    assert "master vmbr7" in link_show("pa")
    st = status(net, "vmbr7")  # recorded before the write returned
    assert st["type"] == "bridge" and st["mtu"] == "9000" and st["ports"] == "pa", st
    assert st["managed"] == "1"
    assert read_text(nd(net, "vmbr7/config")) == "comments: lab\nmtu: 9000\nports: pa\ntype: bridge\n"

    # more ports and another MTU: the difference is applied
    assert write(nd(net, "vmbr7/config"), "type: bridge\nmtu: 1600\nports: pa pb\n") == 0
    assert "mtu 1600" in link_show("vmbr7")
    assert "master vmbr7" in link_show("pa") and "master vmbr7" in link_show("pb")
    # a port the config drops is released; one it never listed is left alone
    ip("link", "add", "pg", "type", "veth", "peer", "name", "pg-p")
    ip("link", "set", "pg", "master", "vmbr7")
    assert write(nd(net, "vmbr7/config"), "type: bridge\nmtu: 1600\nports: pb\n") == 0
    assert "master" not in link_show("pa")
    assert "master vmbr7" in link_show("pb") and "master vmbr7" in link_show("pg")
    assert sorted(status(net, "vmbr7")["ports"].split()) == ["pb", "pg"]

    os.rmdir(nd(net, "vmbr7"))
    assert link_show("vmbr7") is None
    assert not os.path.exists(nd(net, "vmbr7"))
    # a pvefs-made entry without a config yet is simply removed
    os.mkdir(nd(net, "vmbr8"))
    os.rmdir(nd(net, "vmbr8"))
    for a in ("pa", "pb", "pg"):
        ip("link", "del", a)


def test_bad_input_changes_nothing(net):
    ip("link", "add", "bq", "type", "veth", "peer", "name", "bq-p")
    ip("link", "add", "obr", "type", "bridge")
    ip("link", "add", "bq2", "type", "veth", "peer", "name", "bq2-p")
    ip("link", "set", "bq2", "master", "obr")
    os.mkdir(nd(net, "vmbr9"))
    good = "type: bridge\nmtu: 1500\nports: bq\n"
    assert write(nd(net, "vmbr9/config"), good) == 0
    wait_for(lambda: os.path.isdir(nd(net, "bq2")), 5, "bq2 mirrored")
    before = (facts("vmbr9"), facts("bq"), facts("bq2"))
    bad = [
        ("type: switch\n", errno.EINVAL),
        ("type: bridge\nmtu: 100\n", errno.EINVAL),
        ("type: bridge\nmtu: 70000\n", errno.EINVAL),
        ("type: bridge\nports: nosuch0\n", errno.EINVAL),
        ("type: bridge\nports: bq bq\n", errno.EINVAL),
        ("type: bridge\nports: bq vmbr9\n", errno.EINVAL),
        ("type: bridge\nports: bq bq2\n", errno.EBUSY),  # bq2 is obr's port
        ("type: ovs-bridge\n", errno.EINVAL),  # a bridge stays a bridge
        ("mtu: 1500\n", errno.EINVAL),  # no type
    ]
    for doc, want in bad:
        assert write(nd(net, "vmbr9/config"), doc) == want, doc
        assert (facts("vmbr9"), facts("bq"), facts("bq2")) == before, doc
        assert read_text(nd(net, "vmbr9/config")) == "mtu: 1500\nports: bq\ntype: bridge\n"
    errs = read_text(net.p("cluster/errors"))
    assert "port nosuch0 does not exist on node %s" % NODE in errs
    assert "port bq2 is already a port of obr" in errs

    for name in ("abcdefghijklmnop", "a:b", "sp ace"):  # 16 characters, ':' and ' '
        with pytest.raises(OSError) as ei:
            os.mkdir(nd(net, name))
        assert ei.value.errno == errno.EINVAL, name
        assert link_show(name) is None

    # interfaces pvefs did not make: no config, no rmdir
    assert write(nd(net, "lo/config"), "type: bridge\n") == errno.EPERM
    assert write(nd(net, "obr/config"), "type: bridge\nports: bq2\n") == errno.EPERM
    for iface in ("lo", "obr"):
        with pytest.raises(OSError) as ei:
            os.rmdir(nd(net, iface))
        assert ei.value.errno == errno.EPERM
        assert link_show(iface) is not None
    assert "was not made by pvefs" in read_text(net.p("cluster/errors"))
    # the status record is pvefs's to write
    assert write(nd(net, "lo/status"), "name: lo\n") == errno.EACCES

    # an OVS bridge without a reachable OVS: the library's message, nothing made
    os.mkdir(nd(net, "ovb0"))
    assert write(nd(net, "ovb0/config"), "type: ovs-bridge\n") == errno.ENOENT
    assert "cannot reach the OVS database" in read_text(net.p("cluster/errors"))
    assert link_show("ovb0") is None and status(net, "ovb0")["state"] == "absent"
    os.rmdir(nd(net, "ovb0"))
    os.rmdir(nd(net, "vmbr9"))
    for iface in ("bq", "bq2", "obr"):
        ip("link", "del", iface)


def test_idle_writes_nothing(net):
    ip("link", "add", "idl0", "type", "veth", "peer", "name", "idl1")
    ip("link", "set", "idl0", "up")
    ip("link", "set", "idl1", "up")
    wait_for(lambda: status(net, "idl1").get("state") == "up", 5, "idl1 up")
    time.sleep(2.5)  # IPv6 link-local addresses settle
    v0 = net.store_version()
    time.sleep(5)
    assert net.store_version() == v0, "an idle node wrote to the store"
    ip("link", "del", "idl0")


def test_managed_bridge_survives_restart(net):
    """A managed bridge deleted behind pvefs's back reads absent, and pvefsd re-makes it from
    its config when it starts (as ifupdown does at boot)."""
    os.mkdir(nd(net, "vmbr5"))
    assert write(nd(net, "vmbr5/config"), "type: bridge\nmtu: 1500\n") == 0
    ip("link", "del", "vmbr5")
    wait_for(lambda: status(net, "vmbr5").get("state") == "absent", 5, "vmbr5 absent")
    assert read_text(nd(net, "vmbr5/config")) == "mtu: 1500\ntype: bridge\n"
    net.restart()
    assert link_show("vmbr5") and status(net, "vmbr5").get("type") == "bridge"
    os.rmdir(nd(net, "vmbr5"))
    assert link_show("vmbr5") is None


def _stop(proc):
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=3)


@pytest.mark.skipif(not all(shutil.which(b) for b in OVS_BINS) or not OVS_SCHEMA.exists(),
                    reason="Open vSwitch (openvswitch-switch) is not installed")
def test_ovs_bridge(net):
    d = net.ovsdir
    env = dict(os.environ, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d)
    vsctl = ["ovs-vsctl", "--timeout=5", "--db=unix:%s/db.sock" % d]
    procs = []
    try:
        assert run(["ovsdb-tool", "create", d + "/conf.db", str(OVS_SCHEMA)]).returncode == 0
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", NS, "ovsdb-server", d + "/conf.db",
             "--remote=punix:%s/db.sock" % d, "--unixctl=%s/ovsdb-server.ctl" % d,
             "--log-file=%s/ovsdb-server.log" % d], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: os.path.exists(d + "/db.sock"), 5, "ovsdb-server")
        assert run(vsctl + ["--no-wait", "init"], env=env).returncode == 0
        procs.append(subprocess.Popen(
            ["ip", "netns", "exec", NS, "ovs-vswitchd", "unix:%s/db.sock" % d,
             "--unixctl=%s/ovs-vswitchd.ctl" % d, "--log-file=%s/ovs-vswitchd.log" % d],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: os.path.exists(d + "/ovs-vswitchd.ctl"), 5, "ovs-vswitchd")

        ip("link", "add", "op0", "type", "veth", "peer", "name", "op0-p")
        os.mkdir(nd(net, "obr0"))
        r = try_write(nd(net, "obr0/config"), "type: ovs-bridge\nports: op0\n")
        assert write_errno(r) == 0, read_text(net.p("cluster/errors"))[-800:]
        assert run(vsctl + ["br-exists", "obr0"], env=env).returncode == 0
        assert run(vsctl + ["list-ports", "obr0"], env=env).stdout.split() == ["op0"]
        st = status(net, "obr0")
        assert st["managed"] == "1" and st["state"] != "absent", st
        os.rmdir(nd(net, "obr0"))
        assert run(vsctl + ["br-exists", "obr0"], env=env).returncode == 2
        assert not os.path.exists(nd(net, "obr0"))
        ip("link", "del", "op0")
    finally:
        for p in reversed(procs):
            _stop(p)
