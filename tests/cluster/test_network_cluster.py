"""nodes/<n>/network/ on a 3-node cluster: each node mirrors its own namespace's links,
every node reads them (records through the store, counters through the status channel),
and a bridge written from n1 into nodes/n2/network/ is made in n2's namespace only."""
import errno
import os

from clusterlib import wait_until
from pvefslib import read_text, run, try_write, write_errno


def fields(text):
    return dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)


def status(node, rel):
    try:
        return fields(read_text(node.p(rel)))
    except OSError:
        return {}


def link(node, name):
    r = run(["ip", "-n", node.ns, "-d", "link", "show", name])
    return r.stdout if r.returncode == 0 else None


def test_network_per_node(cluster3):
    c = cluster3
    n1, n2, n3 = c[1], c[2], c[3]
    for cmd in (["link", "add", "cx0", "type", "veth", "peer", "name", "cx1"],
                ["link", "set", "cx0", "mtu", "1400"], ["link", "set", "cx0", "up"],
                ["link", "set", "cx1", "up"], ["addr", "add", "10.79.0.1/24", "dev", "cx0"]):
        assert run(["ip", "-n", n2.ns] + cmd).returncode == 0
    for nd in c:
        wait_until(lambda nd=nd: status(nd, "nodes/n2/network/cx0/status").get("mtu") == "1400" and
                   "10.79.0.1/24" in status(nd, "nodes/n2/network/cx0/status").get("addresses", ""),
                   10, "%s to read n2's cx0" % nd.name)
        assert status(nd, "nodes/n2/network/lo/status").get("type") == "loopback"
        assert not os.path.exists(nd.p("nodes/n1/network/cx0"))  # n1 has no cx0
    # counters of n2's link, read on n3 from the status channel
    wait_until(lambda: status(n3, "nodes/n2/network/cx0/counters").get("tx_packets", "-") != "-",
               10, "n2's cx0 counters on n3")

    # a bridge on n2, made from n1
    os.mkdir(n1.p("nodes/n2/network/cbr0"))
    r = try_write(n1.p("nodes/n2/network/cbr0/config"), "type: bridge\nmtu: 1400\nports: cx1\n")
    assert write_errno(r) == 0, (r, n1.read("cluster/errors")[-600:])
    out = link(n2, "cbr0")
    assert out and " bridge " in out and "mtu 1400" in out, out
    assert "master cbr0" in link(n2, "cx1")
    assert link(n1, "cbr0") is None and link(n3, "cbr0") is None
    for nd in c:
        wait_until(lambda nd=nd: status(nd, "nodes/n2/network/cbr0/status").get("ports") == "cx1",
                   10, "%s to read cbr0's ports" % nd.name)
    # the owner checks the ports in its own namespace: cx0 is n2's, not n1's
    r = try_write(n3.p("nodes/n2/network/cbr0/config"), "type: bridge\nports: nosuch9\n")
    assert write_errno(r) == errno.EINVAL
    assert "port nosuch9 does not exist on node n2" in n3.read("cluster/errors")
    # rmdir from n3 deletes the device on n2
    os.rmdir(n3.p("nodes/n2/network/cbr0"))
    assert link(n2, "cbr0") is None
    for nd in c:
        wait_until(lambda nd=nd: not os.path.exists(nd.p("nodes/n2/network/cbr0")), 10,
                   "%s to lose cbr0" % nd.name)
