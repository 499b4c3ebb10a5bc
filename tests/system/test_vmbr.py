"""A managed bridge as `make run` makes vmbr0: a host address (cidr) and SNAT (snat: 1) out of
every other interface, and guests on it; a guest whose NIC names a bridge the node lacks.

Each test runs pvefsd in a network namespace of its own (pvbr-<pid>-<n>), with an "uplink"
namespace behind a veth where a test needs one: nothing here touches the host's network or
sends a packet off the machine. Deleting the namespaces (always, in the fixture's finally)
takes every bridge, veth, address and nftables table made in them along.

Checked: the address (ip -j addr) and the masquerade rule (nft -j list table) appear with the
config, follow its changes, are re-made at pvefsd start when lost, and go at rmdir; status
says snat only while the table exists; a busybox container on the bridge pings the bridge's
address, and reaches the uplink's far side only while snat is on (that side has no route
back); a VM with just memory and a NIC on the bridge runs; a start naming a missing bridge is
ENOENT at write(2) with the NIC, bridge and node named, for a container and a VM."""
import errno
import itertools
import json
import os
import time

import pytest

from pvefslib import NODE, Pvefs, make_base, read_text, remove_base, run, try_write, write_errno, write_ok, wait_for, fields, have_lxc

SAN_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
_seq = itertools.count()

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def node(request, template):
    """pvefsd in netns d.ns, a dir storage 'local' with the busybox template; d.up is an
    uplink namespace: veth up0 (10.79.0.1/24, the node's side) <-> eth0 (10.79.0.2/24)."""
    n = next(_seq)
    ns, up = "pvbr-%d-%d" % (os.getpid(), n), "pvbr-%d-%du" % (os.getpid(), n)
    base = make_base("pvefs-vmbr-")
    d = Pvefs(base, netns=ns)
    d.ns, d.up = ns, up
    try:
        assert run(["ip", "netns", "add", ns]).returncode == 0
        assert run(["ip", "netns", "add", up]).returncode == 0
        for cmd in (["-n", ns, "link", "set", "lo", "up"],
                    ["-n", ns, "link", "add", "up0", "type", "veth", "peer", "name", "eth0",
                     "netns", up],
                    ["-n", ns, "addr", "add", "10.79.0.1/24", "dev", "up0"],
                    ["-n", ns, "link", "set", "up0", "up"],
                    ["-n", up, "addr", "add", "10.79.0.2/24", "dev", "eth0"],
                    ["-n", up, "link", "set", "eth0", "up"],
                    ["-n", up, "link", "set", "lo", "up"]):
            r = run(["ip"] + cmd)
            assert r.returncode == 0, (cmd, r.stderr)
        store = base / "store"
        (store / "template" / "cache").mkdir(parents=True)
        assert run(["cp", str(template), str(store / "template" / "cache")]).returncode == 0
        d.store = store
        d.start()
        os.mkdir(d.p("storage/local"))
        write_ok(d.p("storage/local/config"),
                 "type: dir\npath: %s\ncontent: images,rootdir,vztmpl\n" % store)
        yield d
    finally:
        rep = getattr(request.node, "rep_call", None)
        d.cleanup()
        logs = "".join(l.read_text(errors="replace") for l in d.logs if l.exists())
        if rep is None or rep.failed:
            print("---- pvefsd output ----\n" + d.log_tail(60))
        run(["ip", "netns", "del", ns])
        run(["ip", "netns", "del", up])
        remove_base(base)
        assert not any(m in logs for m in SAN_MARKS), "sanitizer report:\n" + logs[-3000:]


def iface(d, name, rel=""):
    return d.p("nodes/%s/network/%s%s" % (NODE, name, "/" + rel if rel else ""))


def status(d, name):
    try:
        return fields(read_text(iface(d, name, "status")))
    except OSError:
        return {}


def addrs(d, dev):
    """The addresses of dev in the node's namespace as 'a/len' strings, None if no dev."""
    r = run(["ip", "-n", d.ns, "-j", "addr", "show", "dev", dev])
    if r.returncode:
        return None
    return ["%s/%s" % (a["local"], a["prefixlen"]) for a in json.loads(r.stdout)[0]["addr_info"]]


def masq_rules(d, bridge):
    """[(saddr network, excluded oifname)] of the masquerade rules in inet pvefs_br_<bridge>;
    None when the table does not exist."""
    r = run(["ip", "netns", "exec", d.ns, "nft", "-j", "list", "table", "inet", "pvefs_br_" + bridge])
    if r.returncode:
        return None
    out = []
    for item in json.loads(r.stdout)["nftables"]:
        rule = item.get("rule")
        if not rule or not any("masquerade" in e for e in rule["expr"]):
            continue
        net = oif = None
        for e in rule["expr"]:
            m = e.get("match", {})
            left, right = m.get("left", {}), m.get("right")
            if left.get("payload", {}).get("field") == "saddr" and isinstance(right, dict):
                net = "%s/%s" % (right["prefix"]["addr"], right["prefix"]["len"])
            if left.get("meta", {}).get("key") == "oifname" and m.get("op") == "!=":
                oif = right
        out.append((net, oif))
    return out


def sysctl(d, path):
    return run(["ip", "netns", "exec", d.ns, "cat", "/proc/sys/" + path]).stdout.strip()


def write(path, text):
    return write_errno(try_write(path, text))


def start_errno(path):
    """write(2) of "start" to a ctl: 0 or the errno it failed with."""
    fd = os.open(str(path), os.O_WRONLY)
    try:
        os.write(fd, b"start\n")
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)


def test_bridge_address_and_snat(node):
    d = node
    os.mkdir(iface(d, "vmbr3"))
    assert write(iface(d, "vmbr3", "config"), "type: bridge\ncidr: 10.78.0.1/24\nsnat: 1\n") == 0, \
        d.errors()[-2:]
    assert "10.78.0.1/24" in addrs(d, "vmbr3")
    assert masq_rules(d, "vmbr3") == [("10.78.0.0/24", "vmbr3")]
    assert sysctl(d, "net/ipv4/ip_forward") == "1"
    st = status(d, "vmbr3")  # recorded before the write returned
    assert "10.78.0.1/24" in st["addresses"].split() and st["snat"] == "inet pvefs_br_vmbr3", st
    assert read_text(iface(d, "vmbr3", "config")) == "cidr: 10.78.0.1/24\nsnat: 1\ntype: bridge\n"

    # another address: the old one goes, the rule follows the network
    assert write(iface(d, "vmbr3", "config"), "type: bridge\ncidr: 10.78.1.1/24\nsnat: 1\n") == 0
    assert addrs(d, "vmbr3") is not None and "10.78.0.1/24" not in addrs(d, "vmbr3")
    assert "10.78.1.1/24" in addrs(d, "vmbr3")
    assert masq_rules(d, "vmbr3") == [("10.78.1.0/24", "vmbr3")]

    # IPv6 too: its own rule, and forwarding for IPv6
    doc6 = "type: bridge\ncidr: 10.78.1.1/24\ncidr6: fd00:78::1/64\nsnat: 1\n"
    assert write(iface(d, "vmbr3", "config"), doc6) == 0, d.errors()[-2:]
    assert "fd00:78::1/64" in addrs(d, "vmbr3")
    assert sorted(masq_rules(d, "vmbr3")) == [("10.78.1.0/24", "vmbr3"), ("fd00:78::/64", "vmbr3")]
    assert sysctl(d, "net/ipv6/conf/all/forwarding") == "1"
    assert write(iface(d, "vmbr3", "config"), "type: bridge\ncidr: 10.78.1.1/24\nsnat: 1\n") == 0
    assert "fd00:78::1/64" not in addrs(d, "vmbr3")
    assert masq_rules(d, "vmbr3") == [("10.78.1.0/24", "vmbr3")]

    # snat off: the table goes, status says so
    assert write(iface(d, "vmbr3", "config"), "type: bridge\ncidr: 10.78.1.1/24\n") == 0
    assert masq_rules(d, "vmbr3") is None
    assert status(d, "vmbr3")["snat"] == "-"
    assert "10.78.1.1/24" in addrs(d, "vmbr3")

    # refused: nothing to masquerade, or an address in the wrong key; nothing changes
    for doc in ("type: bridge\nsnat: 1\n", "type: bridge\ncidr: fd00::1/64\n",
                "type: bridge\ncidr: 10.78.1.1\n"):
        assert write(iface(d, "vmbr3", "config"), doc) == errno.EINVAL, doc
        assert masq_rules(d, "vmbr3") is None and "10.78.1.1/24" in addrs(d, "vmbr3"), doc
    assert read_text(iface(d, "vmbr3", "config")) == "cidr: 10.78.1.1/24\ntype: bridge\n"

    # rmdir takes the rules and the device
    assert write(iface(d, "vmbr3", "config"), "type: bridge\ncidr: 10.78.1.1/24\nsnat: 1\n") == 0
    assert masq_rules(d, "vmbr3") == [("10.78.1.0/24", "vmbr3")]
    os.rmdir(iface(d, "vmbr3"))
    assert addrs(d, "vmbr3") is None
    assert masq_rules(d, "vmbr3") is None
    assert not os.path.exists(iface(d, "vmbr3"))


def test_reapplied_at_start(node):
    """What a reboot (or a hand) removed is made again when pvefsd starts."""
    d = node
    os.mkdir(iface(d, "vmbr4"))
    assert write(iface(d, "vmbr4", "config"), "type: bridge\ncidr: 10.78.4.1/24\nsnat: 1\n") == 0
    assert run(["ip", "netns", "exec", d.ns, "nft", "delete", "table", "inet",
                "pvefs_br_vmbr4"]).returncode == 0
    assert run(["ip", "-n", d.ns, "addr", "del", "10.78.4.1/24", "dev", "vmbr4"]).returncode == 0
    wait_for(lambda: status(d, "vmbr4").get("snat") == "-", 5, "status to see the table gone")
    d.restart()
    assert masq_rules(d, "vmbr4") == [("10.78.4.0/24", "vmbr4")]
    assert "10.78.4.1/24" in addrs(d, "vmbr4")
    assert status(d, "vmbr4")["snat"] == "inet pvefs_br_vmbr4"
    # and a bridge that is gone entirely
    assert run(["ip", "-n", d.ns, "link", "del", "vmbr4"]).returncode == 0
    assert run(["ip", "netns", "exec", d.ns, "nft", "delete", "table", "inet",
                "pvefs_br_vmbr4"]).returncode == 0
    d.restart()
    assert "10.78.4.1/24" in addrs(d, "vmbr4")
    assert masq_rules(d, "vmbr4") == [("10.78.4.0/24", "vmbr4")]
    os.rmdir(iface(d, "vmbr4"))
    assert masq_rules(d, "vmbr4") is None


def attach(d, ctid, cmd, timeout=30):
    p = run(["nsenter", "--net=/run/netns/" + d.ns, "--", "lxc-attach", "-P", str(d.data / "lxc"),
             "-n", str(ctid), "--", "/bin/sh", "-c", cmd], timeout=timeout)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.skipif(not have_lxc(), reason="needs liblxc (apt install lxc)")
@pytest.mark.budget(180)
def test_container_on_snat_bridge(node):
    d = node
    os.mkdir(iface(d, "vmbr0"))
    assert write(iface(d, "vmbr0", "config"), "type: bridge\ncidr: 10.78.0.1/24\n") == 0
    d.mkct(301, "arch: amd64\nhostname: ct301\nmemory: 128\nswap: 0\nostype: unmanaged\n"
                "rootfs: local:1\nostemplate: local:vztmpl/busybox.tar.gz\n"
                "net0: name=eth0,bridge=vmbr0,ip=10.78.0.2/24,gw=10.78.0.1\n")
    try:
        assert start_errno(d.ct(301, "ctl")) == 0, d.errors()[-3:]
        rc, out = attach(d, 301, "ping -c1 -W3 10.78.0.1")
        assert rc == 0, "the container cannot reach its bridge's address:\n" + out
        # without SNAT the uplink's far side cannot answer: it has no route to 10.78.0.0/24
        rc, out = attach(d, 301, "ping -c1 -W2 10.79.0.2")
        assert rc != 0, "reached the uplink without SNAT: the check below would prove nothing"
        assert write(iface(d, "vmbr0", "config"), "type: bridge\ncidr: 10.78.0.1/24\nsnat: 1\n") == 0
        rc, out = attach(d, 301, "ping -c1 -W3 10.79.0.2")
        assert rc == 0, "the container does not get out through SNAT:\n" + out
    finally:
        try_write(d.ct(301, "ctl"), "stop\n")


@pytest.mark.skipif(not have_lxc(), reason="needs liblxc (apt install lxc)")
@pytest.mark.budget(120)
def test_container_missing_bridge(node):
    d = node
    d.mkct(302, "arch: amd64\nhostname: ct302\nmemory: 128\nswap: 0\nostype: unmanaged\n"
                "rootfs: local:1\nostemplate: local:vztmpl/busybox.tar.gz\n"
                "net0: name=eth0,bridge=vmbr7,ip=10.78.0.3/24\n")
    before = d.errors()
    assert start_errno(d.ct(302, "ctl")) == errno.ENOENT
    new = d.new_errors(before)
    assert any("ENOENT ct 302: net0: bridge vmbr7 does not exist on node %s" % NODE in l
               for l in new), new
    assert read_text(d.ct(302, "state")).strip() == "stopped"
    # the LXC config was never written: LXC was not asked
    assert not (d.data / "lxc" / "302" / "config").exists()


def test_vm_missing_bridge(node):
    d = node
    d.mkvm(201, "memory: 128\nnet0: virtio,bridge=vmbr7\n")
    before = d.errors()
    assert start_errno(d.vm(201, "ctl")) == errno.ENOENT
    new = d.new_errors(before)
    assert any("ENOENT vm 201: net0: bridge vmbr7 does not exist on node %s" % NODE in l
               for l in new), new
    assert read_text(d.vm(201, "state")).strip() == "stopped"


@pytest.mark.budget(180)
def test_vm_on_managed_bridge_runs(node):
    """The README's VM: no disk, just memory and a NIC on vmbr0; TCG runs it (SeaBIOS finds
    nothing to boot and waits, which is running)."""
    d = node
    os.mkdir(iface(d, "vmbr0"))
    assert write(iface(d, "vmbr0", "config"), "type: bridge\ncidr: 10.78.0.1/24\nsnat: 1\n") == 0
    d.mkvm(202, "memory: 128\nnet0: virtio,bridge=vmbr0\n")
    try:
        assert start_errno(d.vm(202, "ctl")) == 0, d.errors()[-3:]
        assert read_text(d.vm(202, "state")).strip() == "running"
        # its tap is a port of the bridge
        r = run(["ip", "-n", d.ns, "-j", "link", "show", "master", "vmbr0"])
        assert r.returncode == 0 and json.loads(r.stdout), r.stdout + r.stderr
    finally:
        try_write(d.vm(202, "ctl"), "stop\n")
