"""Real containers on a real 3-node cluster: each node runs its own containers in its own
network namespace, all on one VXLAN VNet of the cluster's SDN, so they reach each other
across nodes; every node's tree shows every container's state, and a container migrated
n1 -> n2 (restart mode) runs on n2 afterwards and is still reachable."""
import errno
import os
import re
import subprocess
from pathlib import Path

import pytest

from clusterlib import wait_until
from pvefslib import read_text, run, try_write, write_ok

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/share/lxc"),
                                reason="needs liblxc (apt install lxc)")


def fields(text):
    return dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)


def veth_in(node, name):
    return run(["ip", "-n", node.ns, "link", "show", name]).returncode == 0


def ctl(node, rel, cmd):
    return try_write(node.p(rel), cmd + "\n")["writes"]


def ct_ping(node, ctid, ip):
    """Pings ip from container ctid, which runs on node (lxc-attach in the node's netns)."""
    return run(["nsenter", "--net=/run/netns/" + node.ns, "--", "lxc-attach", "-P",
                str(node.data / "lxc"), "-n", str(ctid), "--", "ping", "-c1", "-W2", ip]).returncode == 0


@pytest.mark.budget(180)
def test_containers_per_node_and_migration(cluster3, tmp_path):
    c = cluster3
    n1, n2, n3 = c[1], c[2], c[3]
    store = c.base / "ct-store"
    (store / "template" / "cache").mkdir(parents=True)
    p = run([str(ROOT / "tools" / "pvefs-mktemplate"), "busybox",
             str(store / "template" / "cache" / "busybox.tar.gz")], timeout=120)
    assert p.returncode == 0, p.stderr
    # the containers' network: a VXLAN VNet over the cluster's own addresses
    os.mkdir(n1.p("sdn/zones/ctz"))
    write_ok(n1.p("sdn/zones/ctz/config"), "type: vxlan\n")
    os.mkdir(n1.p("sdn/vnets/ctnet"))
    write_ok(n1.p("sdn/vnets/ctnet/config"), "zone: ctz\ntag: 500\n")
    assert ctl(n1, "sdn/ctl", "apply") == [0]
    for nd in c:
        wait_until(lambda nd=nd: run(["ip", "-n", nd.ns, "link", "show", "vxlan_ctnet"]).returncode == 0,
                   10, "the VNet on %s" % nd.name)
    os.mkdir(n1.p("storage/ctstore"))
    write_ok(n1.p("storage/ctstore/config"),
             "type: dir\npath: %s\nshared: 1\ncontent: rootdir,vztmpl\n" % store)

    # one container per node, all made and started from n1
    cts = {"n1": 400, "n2": 401, "n3": 402}
    for node, ctid in cts.items():
        d = "nodes/%s/lxc/%d" % (node, ctid)
        os.mkdir(n1.p(d))
        write_ok(n1.p(d + "/config"),
                 "hostname: c%d\nmemory: 128\nswap: 0\nrootfs: ctstore:1\n"
                 "ostemplate: ctstore:vztmpl/busybox.tar.gz\n"
                 "net0: name=eth0,bridge=ctnet,ip=10.78.0.%d/24\n" % (ctid, ctid - 390))
        assert ctl(n1, d + "/ctl", "start") == [0], n1.read("cluster/errors")[-600:]
    for node, ctid in cts.items():
        owner = c[int(node[1])]
        # the container runs in its node's namespace: its host-side veth is there only
        assert veth_in(owner, "veth%di0" % ctid)
        for other in c:
            if other is not owner:
                assert not veth_in(other, "veth%di0" % ctid)
        for nd in c:
            wait_until(lambda nd=nd, node=node, ctid=ctid:
                       read_text(nd.p("nodes/%s/lxc/%d/state" % (node, ctid))) == "running\n", 10,
                       "%s to read ct %d as running" % (nd.name, ctid))
        st = wait_until(lambda: fields(read_text(n3.p("nodes/%s/lxc/%d/status" % (node, ctid)))).get("pid")
                        and fields(read_text(n3.p("nodes/%s/lxc/%d/status" % (node, ctid)))), 10,
                        "ct %d's figures on n3" % ctid)
        assert st["state"] == "running" and os.path.exists("/proc/%s" % st["pid"]), st

    # containers on different nodes reach each other over the VNet
    wait_until(lambda: ct_ping(n1, 400, "10.78.0.11"), 15, "ct 400 (n1) to ct 401 (n2)")
    assert ct_ping(n3, 402, "10.78.0.10")

    # migrate 400 n1 -> n2, asked on n3: stopped on n1, moved, started on n2
    r = try_write(n3.p("nodes/n1/lxc/400/ctl"), "migrate n2\n")
    assert r["writes"] == [0], (r, n3.read("cluster/errors")[-600:])
    for nd in c:
        wait_until(lambda nd=nd: os.path.isdir(nd.p("nodes/n2/lxc/400")) and
                   not os.path.exists(nd.p("nodes/n1/lxc/400")), 10,
                   "%s to show ct 400 under n2" % nd.name)
        wait_until(lambda nd=nd: read_text(nd.p("nodes/n2/lxc/400/state")) == "running\n", 10,
                   "%s to read ct 400 as running on n2" % nd.name)
    assert veth_in(n2, "veth400i0") and not veth_in(n1, "veth400i0")
    assert re.search(r"ct 400 moved from n1 to n2 \(restart\)", n1.read("cluster/log"))
    wait_until(lambda: ct_ping(n3, 402, "10.78.0.10"), 15, "ct 402 (n3) to ct 400, now on n2")

    # mv of the directory means the same; a bad target is refused, nothing moves
    r = try_write(n1.p("nodes/n2/lxc/400/ctl"), "migrate n9\n")
    assert r["writes"] == [errno.EINVAL], r
    os.rename(n2.p("nodes/n3/lxc/402"), n2.p("nodes/n1/lxc/402"))
    for nd in c:
        wait_until(lambda nd=nd: read_text(nd.p("nodes/n1/lxc/402/state")) == "running\n", 15,
                   "%s to read ct 402 as running on n1" % nd.name)
    assert veth_in(n1, "veth402i0") and not veth_in(n3, "veth402i0")
    for ctid, node in ((400, "n2"), (401, "n2"), (402, "n1")):
        assert ctl(n3, "nodes/%s/lxc/%d/ctl" % (node, ctid), "stop") == [0]


def ct_cat(node, ctid, path):
    p = run(["nsenter", "--net=/run/netns/" + node.ns, "--", "lxc-attach", "-P",
             str(node.data / "lxc"), "-n", str(ctid), "--", "cat", path])
    return p.stdout if p.returncode == 0 else None


@pytest.mark.budget(150)
def test_migration_copies_a_local_rootfs(cluster3):
    """Storage that only the source reaches: the rootfs travels to the target's storage over
    a TCP stream between the two nodes' addresses, owners and modes kept; the source's
    copy and catalog entry go."""
    c = cluster3
    n1, n2, n3 = c[1], c[2], c[3]
    l1, l2 = c.base / "l1", c.base / "l2"
    (l1 / "template" / "cache").mkdir(parents=True)
    l2.mkdir()
    p = run([str(ROOT / "tools" / "pvefs-mktemplate"), "busybox",
             str(l1 / "template" / "cache" / "busybox.tar.gz")], timeout=120)
    assert p.returncode == 0, p.stderr
    for sid, path, node in (("l1", l1, "n1"), ("l2", l2, "n2")):
        os.mkdir(n1.p("storage/" + sid))
        write_ok(n1.p("storage/%s/config" % sid),
                 "type: dir\npath: %s\nnodes: %s\ncontent: rootdir,vztmpl\n" % (path, node))
    d = "nodes/n1/lxc/410"
    os.mkdir(n1.p(d))
    write_ok(n1.p(d + "/config"), "hostname: c410\nmemory: 64\nswap: 0\nrootfs: l1:1\n"
             "ostemplate: l1:vztmpl/busybox.tar.gz\n")
    rootfs = fields(n1.read("nodes/n1/lxc/410/config"))["rootfs"]
    vol = rootfs.split(",")[0].split(":")[1]
    src = Path(fields(n1.read("storage/l1/volumes/%s/status" % vol))["path"])
    (src / "root" / "marker").write_text("made on n1\n")
    os.chown(src / "root" / "marker", 1234, 5678)
    os.chmod(src / "root" / "marker", 0o640)
    assert ctl(n1, d + "/ctl", "start") == [0], n1.read("cluster/errors")[-600:]

    # the same storage id on n2 is not there: refused, and the container runs on
    r = try_write(n3.p(d + "/ctl"), "migrate n2\n")
    assert r["writes"] == [errno.EINVAL], r
    assert "l1" in n3.read("cluster/errors").splitlines()[-1]
    assert read_text(n1.p(d + "/state")) == "running\n"

    # to l2 on n2, asked on n3
    r = try_write(n3.p(d + "/ctl"), "migrate n2 l2\n")
    assert r["writes"] == [0], (r, n3.read("cluster/errors")[-600:])
    for nd in c:
        wait_until(lambda nd=nd: read_text(nd.p("nodes/n2/lxc/410/state")) == "running\n", 15,
                   "%s to read ct 410 as running on n2" % nd.name)
    cfg = fields(n2.read("nodes/n2/lxc/410/config"))
    assert cfg["rootfs"] == "l2:" + rootfs.split(":", 1)[1], cfg
    st = fields(n3.read("storage/l2/volumes/%s/status" % vol))
    assert st["node"] == "n2", st
    dst = Path(st["path"])
    assert dst.is_relative_to(l2) and not src.exists(), (dst, src)
    assert not os.path.exists(n1.p("storage/l1/volumes/" + vol))
    m = os.stat(dst / "root" / "marker")
    assert (m.st_uid, m.st_gid, m.st_mode & 0o777) == (1234, 5678, 0o640)
    assert ct_cat(n2, 410, "/root/marker") == "made on n1\n"
    log = n1.read("cluster/log")
    assert re.search(r"ct 410: rootfs copied from l1:%s on n1 to l2:%s on n2" % (vol, vol), log), log[-800:]
    assert "ct 410 moved from n1 to n2 (restart, volumes copied)" in log
    assert ctl(n2, "nodes/n2/lxc/410/ctl", "stop") == [0]

    # a non-shared storage whose path is one directory for both nodes (as here, where the
    # nodes share the host's filesystem): handed over, never copied onto itself
    loc = c.base / "loc"
    loc.mkdir()
    os.mkdir(n1.p("storage/loc"))
    write_ok(n1.p("storage/loc/config"), "type: dir\npath: %s\ncontent: rootdir\n" % loc)
    r = try_write(n1.p("nodes/n2/lxc/410/ctl"), "migrate n3 loc\n")
    assert r["writes"] == [0], (r, n1.read("cluster/errors")[-600:])
    vol_dir = Path(fields(n3.read("storage/loc/volumes/%s/status" % vol))["path"])
    assert fields(n3.read("storage/loc/volumes/%s/status" % vol))["node"] == "n3"
    assert (vol_dir / "root" / "marker").read_text() == "made on n1\n"
    r = try_write(n1.p("nodes/n3/lxc/410/ctl"), "migrate n1\n")
    assert r["writes"] == [0], (r, n1.read("cluster/errors")[-600:])
    assert fields(n2.read("storage/loc/volumes/%s/status" % vol))["node"] == "n1"
    assert (vol_dir / "root" / "marker").read_text() == "made on n1\n"
    assert not [f for f in os.listdir(vol_dir.parent) if f.startswith(".pvefs-xfer")]
    # each node's cluster/log holds what that node did: n3 was the source
    assert re.search(r"ct 410: rootfs loc:%s is one directory for n3 and n1: handed over" % vol,
                     n3.read("cluster/log")), n3.read("cluster/log")[-800:]
    assert ctl(n1, "nodes/n1/lxc/410/ctl", "start") == [0], n1.read("cluster/errors")[-600:]
    assert ct_cat(n1, 410, "/root/marker") == "made on n1\n"
    assert ctl(n1, "nodes/n1/lxc/410/ctl", "stop") == [0]
