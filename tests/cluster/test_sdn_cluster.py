"""SDN on a real 3-node cluster, each node a network namespace: a VXLAN zone with two VNets
applied on every node over netlink, endpoints on different nodes ping over the overlay and
not across VNets, tag changes and removals follow, a dead node is reported offline and
converges when it returns; bad input is refused, and a bad stored entry is reported on every
node while the rest applies; a peers list naming every node skips each node itself."""
import errno
import json
import os
import re
import time

import pytest

from clusterlib import wait_until
from pvefslib import read_text, run, try_write, write_errno, write_ok


def sh(*cmd, check=True):
    p = run(list(cmd))
    if check:
        assert p.returncode == 0, (cmd, p.stderr)
    return p


def link(nd, name):
    """ip -d -j link show of name in node nd's namespace, or None."""
    p = run(["ip", "-n", nd.ns, "-d", "-j", "link", "show", name])
    return json.loads(p.stdout)[0] if p.returncode == 0 else None


def fdb_peers(nd, dev):
    p = run(["ip", "netns", "exec", nd.ns, "bridge", "fdb", "show", "dev", dev])
    return sorted(re.findall(r"^00:00:00:00:00:00 dst (\S+)", p.stdout, re.M))


def vni(nd, dev):
    l = link(nd, dev)
    return l and l.get("linkinfo", {}).get("info_data", {}).get("id")


class Endpoint:
    """A guest stand-in: its own netns, a veth whose other end is a port of a VNet bridge."""

    def __init__(self, nd, bridge, ip, tag):
        self.ns = "%s-ep%s" % (nd.ns, tag)
        self.nd, self.bridge, self.ip = nd, bridge, ip
        sh("ip", "netns", "add", self.ns)
        host = "e%s" % tag
        sh("ip", "-n", nd.ns, "link", "add", host, "type", "veth", "peer", "name", "eth0",
           "netns", self.ns)
        sh("ip", "-n", nd.ns, "link", "set", host, "master", bridge, "up")
        sh("ip", "-n", self.ns, "addr", "add", ip + "/24", "dev", "eth0")
        sh("ip", "-n", self.ns, "link", "set", "eth0", "up")
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        self.host = host

    def ping(self, ip):
        return run(["ip", "netns", "exec", self.ns, "busybox", "ping", "-c1", "-W1", ip]).returncode == 0

    def reattach(self):
        run(["ip", "-n", self.nd.ns, "link", "set", self.host, "master", self.bridge, "up"])

    def remove(self):
        run(["ip", "netns", "del", self.ns])


def apply(nd):
    r = try_write(nd.p("sdn/ctl"), "apply\n")
    assert write_errno(r) == 0, (r, nd.read("cluster/errors")[-800:])
    gen = int(re.search(r"generation: (\d+)", nd.read("sdn/status")).group(1))
    return gen


def wait_applied(c, vnet, nodes, gen, timeout=15):
    for nd in c:
        def ok(nd=nd):
            st = nd.read("sdn/vnets/%s/status" % vnet)
            return all(re.search(r"^node\.%s: applied$" % x.name, st, re.M) for x in nodes) and \
                re.search(r"^generation: %d$" % gen, st, re.M) and st
        wait_until(ok, timeout, "%s: %s applied on %s" % (nd.name, vnet, [x.name for x in nodes]))


@pytest.mark.budget(180)
def test_vxlan_zone_on_three_nodes(cluster3):
    c = cluster3
    n1, n2, n3 = c[1], c[2], c[3]
    eps = []
    try:
        os.mkdir(n1.p("sdn/zones/z1"))
        write_ok(n1.p("sdn/zones/z1/config"), "type: vxlan\nmtu: 1450\n")
        for v, tag in (("v1", 100), ("v2", 200)):
            os.mkdir(n2.p("sdn/vnets/" + v))
            write_ok(n2.p("sdn/vnets/%s/config" % v), "zone: z1\ntag: %d\n" % tag)
        # pending until applied: nothing exists yet
        assert "pending: yes" in n3.read("sdn/status")
        assert link(n1, "v1") is None
        gen = apply(n3)
        wait_applied(c, "v1", c, gen)
        wait_applied(c, "v2", c, gen)
        assert "pending: no" in n1.read("sdn/status")
        for nd in c:
            others = sorted(x.addr for x in c if x is not nd)
            assert vni(nd, "vxlan_v1") == 100 and vni(nd, "vxlan_v2") == 200
            assert link(nd, "vxlan_v1")["master"] == "v1"
            assert link(nd, "v1")["mtu"] == 1450
            assert fdb_peers(nd, "vxlan_v1") == others, nd.name
            assert link(nd, "vxlan_v1")["linkinfo"]["info_data"].get("local") == nd.addr
        # endpoints: same VNet across nodes ping; across VNets they do not
        a1 = Endpoint(n1, "v1", "10.91.0.1", 1)
        a3 = Endpoint(n3, "v1", "10.91.0.3", 1)
        b2 = Endpoint(n2, "v2", "10.91.0.12", 2)
        eps += [a1, a3, b2]
        wait_until(lambda: a1.ping("10.91.0.3"), 10, "v1 endpoints n1 -> n3")
        assert a3.ping("10.91.0.1")
        assert not a1.ping("10.91.0.12"), "a v1 endpoint reached a v2 endpoint"

        # applying again changes nothing
        log0 = n1.read("cluster/log")
        gen = apply(n1)
        wait_applied(c, "v1", c, gen)
        time.sleep(1.5)
        new = n1.read("cluster/log")[len(log0):]
        assert "change" not in new or re.search(r"0 changes", new), new

        # a new tag: the devices follow, and so does traffic
        write_ok(n1.p("sdn/vnets/v1/config"), "zone: z1\ntag: 101\n")
        assert vni(n1, "vxlan_v1") == 100, "a config edit acted before apply"
        gen = apply(n2)
        wait_applied(c, "v1", c, gen)
        for nd in c:
            assert vni(nd, "vxlan_v1") == 101
        wait_until(lambda: a1.ping("10.91.0.3"), 10, "v1 endpoints after the VNI change")

        # removing a VNet removes its devices everywhere
        os.rmdir(n3.p("sdn/vnets/v2"))
        b2.remove()
        eps.remove(b2)
        gen = apply(n3)
        wait_applied(c, "v1", c, gen)
        for nd in c:
            wait_until(lambda nd=nd: link(nd, "v2") is None and link(nd, "vxlan_v2") is None, 10,
                       "v2 gone on %s" % nd.name)

        # a dead node: the others apply and say it is offline; its peers drop out
        n3.kill9()
        n3.corosync_kill9()
        c.wait_quorum([1, 2])
        os.mkdir(n1.p("sdn/vnets/v3"))
        write_ok(n1.p("sdn/vnets/v3/config"), "zone: z1\ntag: 300\n")
        gen = apply(n1)
        wait_applied([n1, n2], "v3", [n1, n2], gen)
        assert re.search(r"^node\.n3: offline$", n1.read("sdn/vnets/v3/status"), re.M)
        assert re.search(r"^node\.n3: offline$", n2.read("sdn/status"), re.M)
        wait_until(lambda: fdb_peers(n1, "vxlan_v3") == [n2.addr], 10, "n1's v3 peers without n3")
        assert link(n3, "v3") is None
        # it returns and converges
        n3.corosync_start()
        n3.start()
        wait_applied(c, "v3", c, gen, timeout=30)
        assert vni(n3, "vxlan_v3") == 300
        wait_until(lambda: fdb_peers(n1, "vxlan_v3") == sorted([n2.addr, n3.addr]), 10,
                   "n1's v3 peers with n3 back")
        a3.reattach()
        wait_until(lambda: a1.ping("10.91.0.3"), 15, "v1 endpoints after n3 came back")
    finally:
        for e in eps:
            e.remove()


@pytest.mark.budget(90)
def test_sdn_bad_input_changes_nothing(cluster3):
    c = cluster3
    n1, n2 = c[1], c[2]
    os.mkdir(n1.p("sdn/zones/z1"))
    write_ok(n1.p("sdn/zones/z1/config"), "type: vxlan\n")
    os.mkdir(n1.p("sdn/vnets/v1"))
    write_ok(n1.p("sdn/vnets/v1/config"), "zone: z1\ntag: 100\n")
    gen = apply(n1)
    wait_applied(c, "v1", c, gen)
    before = n2.read("sdn/running")
    os.mkdir(n2.p("sdn/vnets/v2"))
    cases = [
        ("sdn/vnets/v2/config", "zone: nosuch\ntag: 5\n", "does not exist"),
        ("sdn/vnets/v2/config", "zone: z1\ntag: 100\n", "share a tag"),
        ("sdn/vnets/v2/config", "zone: z1\ntag: 99999999\n", ""),
        ("sdn/zones/z1/config", "type: vxlan\nbridge: vmbr0\n", "bridge is an option"),
        ("sdn/zones/z1/config", "type: simple\n", "simple zone"),
    ]
    for path, doc, why in cases:
        r = try_write(n2.p(path), doc)
        assert write_errno(r) == errno.EINVAL, (path, doc, r)
        assert why in n2.read("cluster/errors").splitlines()[-1], n2.read("cluster/errors")[-300:]
    for bad in ("10.0.0.1-24", "10.0.0.0-33", "10.0.0.0", "nonsense"):
        with pytest.raises(OSError) as ei:
            os.mkdir(n2.p("sdn/vnets/v1/subnets/" + bad))
        assert ei.value.errno == errno.EINVAL, bad
    for bad in ("Z1", "toolongname", "1abc"):
        with pytest.raises(OSError) as ei:
            os.mkdir(n2.p("sdn/zones/" + bad))
        assert ei.value.errno == errno.EINVAL, bad
    # a zone in use cannot go
    with pytest.raises(OSError) as ei:
        os.rmdir(n1.p("sdn/zones/z1"))
    assert ei.value.errno == errno.EBUSY
    # VNIs are unique across VXLAN zones
    os.mkdir(n1.p("sdn/zones/z2"))
    write_ok(n1.p("sdn/zones/z2/config"), "type: vxlan\n")
    r = try_write(n2.p("sdn/vnets/v2/config"), "zone: z2\ntag: 100\n")
    assert write_errno(r) == errno.EINVAL, r
    assert "VNI 100" in n2.read("cluster/errors").splitlines()[-1]
    # a VNet with no zone yet is a bad entry: the apply stores the rest, fails naming it, and
    # every node reports it as an error while v1 stays applied; no v2 device anywhere
    r = try_write(n2.p("sdn/ctl"), "apply\n")
    assert write_errno(r) == errno.EINVAL, r
    last = n2.read("cluster/errors").splitlines()[-1]
    assert "VNet v2 names zone ''" in last and "v1" not in last, last
    gen2 = int(re.search(r"generation: (\d+)", n2.read("sdn/status")).group(1))
    assert gen2 == gen + 1
    after = n1.read("sdn/running")
    kept = set(after.splitlines())
    assert all(l in kept for l in before.splitlines()[1:]), (before, after)
    wait_applied(c, "v1", c, gen2)
    for nd in c:
        def v2_error(nd=nd):
            st = nd.read("sdn/vnets/v2/status")
            return all(re.search(r"^node\.%s: error VNet v2 names zone ''" % x.name, st, re.M)
                       for x in c) and st
        wait_until(v2_error, 15, "%s: v2 reported as an error on every node" % nd.name)
        assert not re.search(r"^node\.\S+: applied$", nd.read("sdn/status"), re.M)
    for nd in c:
        assert link(nd, "v2") is None and vni(nd, "vxlan_v1") == 100


@pytest.mark.budget(90)
def test_vxlan_peers_list_naming_every_node(cluster3):
    """The same peers list on every node, each node in it by an address of its own that is not
    its cluster address: that address is its VXLAN source and it never floods to itself."""
    c = cluster3
    for nd in c:
        sh("ip", "-n", nd.ns, "addr", "add", "10.98.0.%d/32" % nd.i, "dev", "lo")
    listed = ["10.98.0.%d" % nd.i for nd in c]
    n1 = c[1]
    os.mkdir(n1.p("sdn/zones/zp"))
    write_ok(n1.p("sdn/zones/zp/config"), "type: vxlan\npeers: %s\n" % ",".join(listed))
    os.mkdir(n1.p("sdn/vnets/vp"))
    write_ok(n1.p("sdn/vnets/vp/config"), "zone: zp\ntag: 700\n")
    gen = apply(n1)
    wait_applied(c, "vp", c, gen)
    for nd in c:
        own = "10.98.0.%d" % nd.i
        assert link(nd, "vxlan_vp")["linkinfo"]["info_data"].get("local") == own, nd.name
        assert fdb_peers(nd, "vxlan_vp") == sorted(a for a in listed if a != own), nd.name
