"""SDN on one node, in a network namespace of its own: a simple zone routes its subnet (the
gateway on the VNet bridge, SNAT in nftables), VLAN isolation through a userspace Open
vSwitch, and the zone types this kernel cannot carry report an error, never success."""
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from pvefslib import Pvefs, make_base, read_text, remove_base, run, try_write, write_errno, write_ok, wait_for

OVS_BINS = ("ovs-vsctl", "ovsdb-server", "ovs-vswitchd", "ovsdb-tool")
OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


def sh(*cmd, env=None):
    p = run(list(cmd), env=env) if env else run(list(cmd))
    assert p.returncode == 0, (cmd, p.stderr)
    return p


class Ovs:
    """A private userspace Open vSwitch inside netns ns; stopped by PID."""

    def __init__(self, ns):
        self.dir = tempfile.mkdtemp(prefix="pvsdn-ovs-")  # short: it holds socket paths
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_LOGDIR=self.dir, OVS_DBDIR=self.dir)
        self.procs = []
        sh("ovsdb-tool", "create", self.dir + "/conf.db", str(OVS_SCHEMA))
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, "ovsdb-server", self.dir + "/conf.db",
             "--remote=punix:%s/db.sock" % self.dir, "--unixctl=%s/ovsdb-server.ctl" % self.dir,
             "--log-file=%s/ovsdb-server.log" % self.dir], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: os.path.exists(self.dir + "/db.sock"), 5, "ovsdb-server")
        sh("ovs-vsctl", "--no-wait", "init", env=self.env)
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, "ovs-vswitchd", "unix:%s/db.sock" % self.dir,
             "--unixctl=%s/ovs-vswitchd.ctl" % self.dir,
             "--log-file=%s/ovs-vswitchd.log" % self.dir], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: os.path.exists(self.dir + "/ovs-vswitchd.ctl"), 5, "ovs-vswitchd")

    def vsctl(self, *args):
        return sh("ovs-vsctl", "--timeout=10", *args, env=self.env)

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(3)
        shutil.rmtree(self.dir, ignore_errors=True)


HAVE_OVS = all(shutil.which(b) for b in OVS_BINS) and OVS_SCHEMA.exists()


@pytest.fixture
def sdnnode(request):
    ns = "pvsdn-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
    sh("ip", "netns", "add", ns)
    base = make_base("pvefs-sdn-")
    d = Pvefs(base, netns=ns)
    d.ns = ns
    d.ovs = None
    saved = os.environ.get("OVS_RUNDIR")
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        if HAVE_OVS:
            d.ovs = Ovs(ns)
            os.environ["OVS_RUNDIR"] = d.ovs.dir  # the daemon's ovs-vsctl finds this OVS
        d.start()
        yield d
    finally:
        if saved is None:
            os.environ.pop("OVS_RUNDIR", None)
        else:
            os.environ["OVS_RUNDIR"] = saved
        rep = getattr(request.node, "rep_call", None)
        d.cleanup()
        if rep is None or rep.failed:
            print("---- pvefsd output ----\n" + d.log_tail(60))
        if d.ovs:
            d.ovs.stop()
        run(["ip", "netns", "del", ns])
        for e in getattr(d, "eps", []):
            run(["ip", "netns", "del", e])
        remove_base(base)


def apply(d):
    r = try_write(d.p("sdn/ctl"), "apply\n")
    assert write_errno(r) == 0, (r, d.errors()[-2:])
    return int(re.search(r"generation: (\d+)", read_text(d.p("sdn/status"))).group(1))


def vnet_result(d, vnet, gen):
    def ok():
        st = read_text(d.p("sdn/vnets/%s/status" % vnet))
        m = re.search(r"^node\.n1: (.*)$", st, re.M)
        return m and re.search(r"^generation: %d$" % gen, st, re.M) and \
            not m.group(1).startswith("pending") and m.group(1)
    return wait_for(ok, 10, "n1's result for " + vnet)


def addrs(d, dev):
    p = run(["ip", "-n", d.ns, "-o", "addr", "show", "dev", dev])
    return re.findall(r"inet (\S+)", p.stdout)


def endpoint(d, name, ip, bridge=None, ovs_tag=None):
    """A netns with eth0 (ip/24) whose peer is a port of bridge or an OVS access port."""
    ens = "%s-%s" % (d.ns, name)
    d.eps = getattr(d, "eps", []) + [ens]
    sh("ip", "netns", "add", ens)
    sh("ip", "-n", d.ns, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", ens)
    if bridge:
        sh("ip", "-n", d.ns, "link", "set", name, "master", bridge)
    else:
        d.ovs.vsctl("add-port", "ovsbr0", name, "tag=%d" % ovs_tag)
    sh("ip", "-n", d.ns, "link", "set", name, "up")
    sh("ip", "-n", ens, "addr", "add", ip + "/24", "dev", "eth0")
    sh("ip", "-n", ens, "link", "set", "eth0", "up")
    return ens


def ping(ens, ip):
    return run(["ip", "netns", "exec", ens, "busybox", "ping", "-c1", "-W1", ip]).returncode == 0


@pytest.mark.budget(60)
def test_simple_zone_gateway_and_snat(sdnnode):
    d = sdnnode
    os.mkdir(d.p("sdn/zones/s1"))
    write_ok(d.p("sdn/zones/s1/config"), "type: simple\n")
    os.mkdir(d.p("sdn/vnets/sv1"))
    write_ok(d.p("sdn/vnets/sv1/config"), "zone: s1\nalias: routed\n")
    os.mkdir(d.p("sdn/vnets/sv1/subnets/10.92.0.0-24"))
    write_ok(d.p("sdn/vnets/sv1/subnets/10.92.0.0-24/config"), "gateway: 10.92.0.1\nsnat: 1\n")
    # a gateway outside its subnet is refused
    r = try_write(d.p("sdn/vnets/sv1/subnets/10.92.0.0-24/config"), "gateway: 10.93.0.1\n")
    assert write_errno(r) == errno.EINVAL and "outside" in d.errors()[-1]
    gen = apply(d)
    assert vnet_result(d, "sv1", gen) == "applied"
    assert addrs(d, "sv1") == ["10.92.0.1/24"]
    nft = run(["ip", "netns", "exec", d.ns, "nft", "list", "table", "inet", "pvefs_sdn"])
    assert nft.returncode == 0 and "ip saddr 10.92.0.0/24" in nft.stdout and "masquerade" in nft.stdout
    ep = endpoint(d, "sep1", "10.92.0.5", bridge="sv1")
    assert ping(ep, "10.92.0.1"), "the endpoint does not reach its gateway"
    # SNAT off and the gateway moved: the old ones go, nftables is clean
    write_ok(d.p("sdn/vnets/sv1/subnets/10.92.0.0-24/config"), "gateway: 10.92.0.254\n")
    gen = apply(d)
    assert vnet_result(d, "sv1", gen) == "applied"
    assert addrs(d, "sv1") == ["10.92.0.254/24"]
    nft = run(["ip", "netns", "exec", d.ns, "nft", "list", "table", "inet", "pvefs_sdn"])
    assert nft.returncode != 0, nft.stdout


@pytest.mark.budget(60)
@pytest.mark.skipif(not HAVE_OVS, reason="Open vSwitch (openvswitch-switch) is not installed")
def test_vlan_zone_on_userspace_ovs(sdnnode):
    d = sdnnode
    d.ovs.vsctl("add-br", "ovsbr0", "--", "set", "bridge", "ovsbr0", "datapath_type=netdev")
    os.mkdir(d.p("sdn/zones/vz"))
    write_ok(d.p("sdn/zones/vz/config"), "type: vlan\nbridge: ovsbr0\n")
    for v, tag in (("va", 10), ("vb", 20)):
        os.mkdir(d.p("sdn/vnets/" + v))
        write_ok(d.p("sdn/vnets/%s/config" % v), "zone: vz\ntag: %d\n" % tag)
    gen = apply(d)
    assert vnet_result(d, "va", gen) == "applied", read_text(d.p("sdn/vnets/va/status"))
    assert vnet_result(d, "vb", gen) == "applied"
    assert d.ovs.vsctl("get", "port", "ln_va", "tag").stdout.strip() == "10"
    a = endpoint(d, "epa", "10.94.0.1", bridge="va")
    o10 = endpoint(d, "ep10", "10.94.0.2", ovs_tag=10)
    endpoint(d, "ep20", "10.94.0.3", ovs_tag=20)
    b = endpoint(d, "epb", "10.94.0.4", bridge="vb")
    wait_for(lambda: ping(a, "10.94.0.2"), 10, "VNet va to the tag-10 OVS port")
    assert ping(b, "10.94.0.3"), "VNet vb does not reach the tag-20 OVS port"
    assert not ping(a, "10.94.0.3"), "tag 10 reached tag 20"
    assert not ping(o10, "10.94.0.4"), "tag 10 reached VNet vb"
    # a VNet removed: its OVS port and veths go
    os.rmdir(d.p("sdn/vnets/vb"))
    apply(d)
    wait_for(lambda: run(["ovs-vsctl", "port-to-br", "ln_vb"], env=d.ovs.env).returncode != 0, 10,
             "ln_vb out of OVS")
    # the agent removes OVS ports before links: the bridge goes a moment later
    wait_for(lambda: run(["ip", "-n", d.ns, "link", "show", "vb"]).returncode != 0, 10,
             "VNet bridge vb gone")


@pytest.mark.budget(60)
def test_zones_this_kernel_cannot_carry_report_errors(sdnnode):
    d = sdnnode
    sh("ip", "-n", d.ns, "link", "add", "vmbr0", "type", "bridge")
    os.mkdir(d.p("sdn/zones/vl"))
    write_ok(d.p("sdn/zones/vl/config"), "type: vlan\nbridge: vmbr0\n")
    os.mkdir(d.p("sdn/vnets/x5"))
    write_ok(d.p("sdn/vnets/x5/config"), "zone: vl\ntag: 5\n")
    os.mkdir(d.p("sdn/zones/ev"))
    write_ok(d.p("sdn/zones/ev/config"), "type: evpn\ncontroller: ctl1\nvrf-vxlan: 4000\n")
    os.mkdir(d.p("sdn/vnets/e1"))
    write_ok(d.p("sdn/vnets/e1/config"), "zone: ev\ntag: 5000\n")
    gen = apply(d)
    res = vnet_result(d, "x5", gen)
    assert res.startswith("error"), res
    probe = run(["ip", "-n", d.ns, "link", "add", "vfprobe", "type", "bridge", "vlan_filtering", "1"])
    if probe.returncode != 0:
        print("SKIP part: this kernel has no VLAN-aware bridges (%s); the error must say so"
              % probe.stderr.strip())
        assert "VLAN-aware" in res, res
    res = vnet_result(d, "e1", gen)
    assert res.startswith("error") and "FRR" in res, res
    assert "vni 5000" in (d.data / "sdn" / "frr.conf").read_text()
    st = read_text(d.p("sdn/status"))
    assert re.search(r"^node\.n1: error \(2 VNets", st, re.M), st


def link_json(d, dev):
    p = run(["ip", "-n", d.ns, "-d", "-j", "link", "show", dev])
    assert p.returncode == 0, (dev, p.stderr)
    return json.loads(p.stdout)[0]


def fdb_peers(d, dev):
    """dst of the vxlan's all-zeros FDB entries (head-end replication), from bridge -j."""
    p = run(["ip", "netns", "exec", d.ns, "bridge", "-j", "fdb", "show", "dev", dev])
    assert p.returncode == 0, p.stderr
    return sorted(e["dst"] for e in json.loads(p.stdout or "[]")
                  if e.get("mac") == "00:00:00:00:00:00" and "dst" in e)


def node_line(text):
    m = re.search(r"^node\.n1: (.*)$", text, re.M)
    assert m, text
    return m.group(1)


@pytest.mark.budget(60)
def test_vxlan_peers_naming_this_node(sdnnode):
    """The usual Proxmox list of all nodes, this one included: it is the local address of the
    VXLAN device, never one of its replication targets (standalone, --local)."""
    d = sdnnode
    sh("ip", "-n", d.ns, "link", "add", "und0", "type", "bridge")  # no dummy module here
    sh("ip", "-n", d.ns, "addr", "add", "10.95.0.2/24", "dev", "und0")
    sh("ip", "-n", d.ns, "link", "set", "und0", "up")
    os.mkdir(d.p("sdn/zones/vx"))
    write_ok(d.p("sdn/zones/vx/config"), "type: vxlan\npeers: 10.95.0.1,10.95.0.2,10.95.0.3\n")
    os.mkdir(d.p("sdn/vnets/xv1"))
    write_ok(d.p("sdn/vnets/xv1/config"), "zone: vx\ntag: 500\n")
    gen = apply(d)
    assert vnet_result(d, "xv1", gen) == "applied", read_text(d.p("sdn/vnets/xv1/status"))
    info = link_json(d, "vxlan_xv1")["linkinfo"]["info_data"]
    assert info.get("id") == 500 and info.get("local") == "10.95.0.2", info
    assert fdb_peers(d, "vxlan_xv1") == ["10.95.0.1", "10.95.0.3"]
    # its address moves to another listed one: local and peers follow at the next apply
    sh("ip", "-n", d.ns, "addr", "del", "10.95.0.2/24", "dev", "und0")
    sh("ip", "-n", d.ns, "addr", "add", "10.95.0.3/24", "dev", "und0")
    gen = apply(d)
    assert vnet_result(d, "xv1", gen) == "applied"
    assert link_json(d, "vxlan_xv1")["linkinfo"]["info_data"].get("local") == "10.95.0.3"
    assert fdb_peers(d, "vxlan_xv1") == ["10.95.0.1", "10.95.0.2"]


def kernel_vlan_aware(d):
    """(True, "") if this kernel makes VLAN-aware bridges, else (False, why)."""
    p = run(["ip", "-n", d.ns, "link", "add", "vfprobe", "type", "bridge", "vlan_filtering", "1"])
    run(["ip", "-n", d.ns, "link", "del", "vfprobe"])
    return p.returncode == 0, p.stderr.strip()


@pytest.mark.budget(60)
def test_vlanaware_vnet_is_vlan_aware_or_an_error(sdnnode):
    d = sdnnode
    os.mkdir(d.p("sdn/zones/s1"))
    write_ok(d.p("sdn/zones/s1/config"), "type: simple\n")
    os.mkdir(d.p("sdn/zones/vx"))
    write_ok(d.p("sdn/zones/vx/config"), "type: vxlan\npeers: 10.96.0.1\n")
    for v, doc in (("va1", "zone: s1\nvlanaware: 1\n"), ("vx1", "zone: vx\ntag: 7\nvlanaware: 1\n"),
                   ("plain", "zone: s1\n")):
        os.mkdir(d.p("sdn/vnets/" + v))
        write_ok(d.p("sdn/vnets/%s/config" % v), doc)
    gen = apply(d)
    # one VNet's trouble is its own: the plain one applies either way
    assert vnet_result(d, "plain", gen) == "applied"
    assert link_json(d, "plain")["linkinfo"]["info_data"].get("vlan_filtering", 0) == 0
    can, why = kernel_vlan_aware(d)
    for v in ("va1", "vx1"):
        res = vnet_result(d, v, gen)
        if can:
            assert res == "applied", res
            assert link_json(d, v)["linkinfo"]["info_data"]["vlan_filtering"] == 1
        else:
            print("SKIP part: this kernel has no VLAN-aware bridges (%s): checking that %s says "
                  "so instead of applied" % (why, v))
            assert res.startswith("error vlan-aware bridges are not supported by this kernel"), res
    if can:
        p = run(["ip", "netns", "exec", d.ns, "bridge", "-j", "vlan", "show", "dev", "vxlan_vx1"])
        vl = json.loads(p.stdout)[0]["vlans"]
        assert any(x.get("vlan") == 2 and x.get("vlanEnd") == 4094 for x in vl), vl
    else:
        assert re.search(r"^node\.n1: error \(2 VNets", read_text(d.p("sdn/status")), re.M)
    # vlanaware off again: the bridge is plain, and applied on any kernel
    write_ok(d.p("sdn/vnets/va1/config"), "zone: s1\n")
    gen = apply(d)
    assert vnet_result(d, "va1", gen) == "applied"
    assert link_json(d, "va1")["linkinfo"]["info_data"].get("vlan_filtering", 0) == 0


@pytest.mark.budget(60)
def test_status_never_says_applied_for_what_was_not(sdnnode):
    d = sdnnode
    st = read_text(d.p("sdn/status"))
    assert "generation: 0" in st and node_line(st).startswith("none"), st
    os.mkdir(d.p("sdn/vnets/nz"))  # a VNet with no config yet: no zone
    os.mkdir(d.p("sdn/zones/s1"))
    write_ok(d.p("sdn/zones/s1/config"), "type: simple\n")
    st = read_text(d.p("sdn/status"))
    assert node_line(st).startswith("none") and "pending: yes" in st, st
    assert node_line(read_text(d.p("sdn/vnets/nz/status"))).startswith("none")
    before = d.errors()
    r = try_write(d.p("sdn/ctl"), "apply\n")
    assert write_errno(r) == errno.EINVAL, r
    err = d.new_errors(before)
    assert err and "VNet nz names zone ''" in err[-1], err
    st = wait_for(lambda: (lambda t: not node_line(t).startswith("pending") and t)(
        read_text(d.p("sdn/status"))), 10, "n1's result")
    assert "applied" not in node_line(st) and node_line(st).startswith("error (1 VNets"), st
    assert vnet_result(d, "nz", 1).startswith("error VNet nz names zone ''")
    assert run(["ip", "-n", d.ns, "link", "show", "nz"]).returncode != 0


@pytest.mark.budget(60)
def test_ipv6_subnet_and_a_bad_entry_beside_it(sdnnode):
    d = sdnnode
    os.mkdir(d.p("sdn/zones/s6"))
    write_ok(d.p("sdn/zones/s6/config"), "type: simple\n")
    os.mkdir(d.p("sdn/vnets/v6n"))
    write_ok(d.p("sdn/vnets/v6n/config"), "zone: s6\n")
    sub6 = "sdn/vnets/v6n/subnets/2a08:2142:302:3::-64"
    os.mkdir(d.p(sub6))
    # outside the subnet, and of the other family: refused
    for bad in ("gateway: 2a08:2142:302:4::1\n", "gateway: 10.97.0.1\n"):
        r = try_write(d.p(sub6 + "/config"), bad)
        assert write_errno(r) == errno.EINVAL and "outside" in d.errors()[-1], (bad, r)
    write_ok(d.p(sub6 + "/config"), "gateway: 2a08:2142:302:3::1\nsnat: 1\n")
    os.mkdir(d.p("sdn/vnets/v6n/subnets/10.97.0.0-24"))
    write_ok(d.p("sdn/vnets/v6n/subnets/10.97.0.0-24/config"), "gateway: 10.97.0.1\n")
    # a bad entry beside it: a VNet made and never configured
    os.mkdir(d.p("sdn/vnets/nz"))
    # ... blocks no write to an unrelated one
    os.mkdir(d.p("sdn/vnets/other"))
    write_ok(d.p("sdn/vnets/other/config"), "zone: s6\n")
    before = d.errors()
    r = try_write(d.p("sdn/ctl"), "apply\n")
    assert write_errno(r) == errno.EINVAL, r
    err = d.new_errors(before)
    assert err and "nz" in err[-1] and "v6n" not in err[-1] and "other" not in err[-1], err
    gen = int(re.search(r"generation: (\d+)", read_text(d.p("sdn/status"))).group(1))
    assert gen == 1
    assert "subnet.v6n.2a08:2142:302:3::-64.gateway: 2a08:2142:302:3::1" in \
        read_text(d.p("sdn/running"))
    assert vnet_result(d, "v6n", gen) == "applied", read_text(d.p("sdn/vnets/v6n/status"))
    assert vnet_result(d, "other", gen) == "applied"
    assert vnet_result(d, "nz", gen).startswith("error VNet nz names zone ''")
    p = run(["ip", "-n", d.ns, "-j", "-6", "addr", "show", "dev", "v6n"])
    six = [(a["local"], a["prefixlen"]) for i in json.loads(p.stdout) for a in i["addr_info"]
           if a.get("scope") == "global"]
    assert six == [("2a08:2142:302:3::1", 64)], p.stdout
    assert addrs(d, "v6n") == ["10.97.0.1/24"]
    nft = run(["ip", "netns", "exec", d.ns, "nft", "list", "table", "inet", "pvefs_sdn"])
    assert nft.returncode == 0 and "ip6 saddr 2a08:2142:302:3::/64" in nft.stdout, nft.stdout
    # the bad one fixed: everything applies, the write succeeds
    write_ok(d.p("sdn/vnets/nz/config"), "zone: s6\n")
    gen = apply(d)
    assert vnet_result(d, "nz", gen) == "applied"
    assert node_line(read_text(d.p("sdn/status"))) == "applied"
    # the IPv6 subnet goes: its address goes, the IPv4 one stays
    os.rmdir(d.p(sub6))
    gen = apply(d)
    assert vnet_result(d, "v6n", gen) == "applied"
    p = run(["ip", "-n", d.ns, "-j", "-6", "addr", "show", "dev", "v6n", "scope", "global"])
    assert not [a for i in json.loads(p.stdout) for a in i["addr_info"] if "local" in a], p.stdout
    assert addrs(d, "v6n") == ["10.97.0.1/24"]


@pytest.mark.budget(60)
def test_routed_single_address_subnets(sdnnode):
    """Proxmox's "hetzner" case: /32 (and /128) subnets whose gateway lies outside them get
    the gateway as a host address on the VNet bridge and a route through it."""
    d = sdnnode
    os.mkdir(d.p("sdn/zones/s1"))
    write_ok(d.p("sdn/zones/s1/config"), "type: simple\n")
    os.mkdir(d.p("sdn/vnets/hz"))
    write_ok(d.p("sdn/vnets/hz/config"), "zone: s1\n")
    subs = {"10.99.0.65-32": "10.99.9.1", "10.99.0.66-32": "10.99.9.1",
            "fd00:99::5-128": "fd00:99:9::1"}
    for sub, gw in subs.items():
        os.mkdir(d.p("sdn/vnets/hz/subnets/" + sub))
        write_ok(d.p("sdn/vnets/hz/subnets/%s/config" % sub), "gateway: %s\n" % gw)
    # a wider subnet still needs its gateway inside
    os.mkdir(d.p("sdn/vnets/hz/subnets/10.99.1.0-24"))
    r = try_write(d.p("sdn/vnets/hz/subnets/10.99.1.0-24/config"), "gateway: 10.99.9.1\n")
    assert write_errno(r) == errno.EINVAL and "outside" in d.errors()[-1], r
    os.rmdir(d.p("sdn/vnets/hz/subnets/10.99.1.0-24"))
    gen = apply(d)
    assert vnet_result(d, "hz", gen) == "applied", read_text(d.p("sdn/vnets/hz/status"))

    def routes(fam):
        p = run(["ip", "-n", d.ns, "-j", fam, "route", "show", "dev", "hz"])
        assert p.returncode == 0, p.stderr
        return sorted(r["dst"] for r in json.loads(p.stdout or "[]"))

    def global_addrs():
        p = run(["ip", "-n", d.ns, "-j", "addr", "show", "dev", "hz", "scope", "global"])
        # iproute2 leaves {} for the addresses its scope filter drops
        return sorted("%s/%d" % (a["local"], a["prefixlen"])
                      for i in json.loads(p.stdout) for a in i["addr_info"] if "local" in a)

    assert global_addrs() == ["10.99.9.1/32", "fd00:99:9::1/128"]
    assert routes("-4") == ["10.99.0.65", "10.99.0.66"]
    assert "fd00:99::5" in routes("-6")
    # one goes: its route goes, the shared gateway stays for the other
    os.rmdir(d.p("sdn/vnets/hz/subnets/10.99.0.66-32"))
    os.rmdir(d.p("sdn/vnets/hz/subnets/fd00:99::5-128"))
    gen = apply(d)
    assert vnet_result(d, "hz", gen) == "applied"
    assert routes("-4") == ["10.99.0.65"]
    assert "fd00:99::5" not in routes("-6")
    assert global_addrs() == ["10.99.9.1/32"]
