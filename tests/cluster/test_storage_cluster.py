"""Storage on a real 3-node cluster: definitions replicate, a shared storage shows on every
node and a local one only on its node, each node reports its own view, and a volume of a
local storage is changed on the node that holds it, wherever the write comes from."""
import errno
import os
import subprocess

from clusterlib import wait_until
from pvefslib import read_text, try_write, write_ok


def fields(text):
    return dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)


def test_shared_and_local_storage(cluster3):
    c = cluster3
    n1, n2, n3 = c[1], c[2], c[3]
    shared = c.base / "shared-store"
    local = c.base / "n1-store"
    shared.mkdir()
    local.mkdir()
    os.mkdir(n1.p("storage/shared1"))
    write_ok(n1.p("storage/shared1/config"), "type: dir\npath: %s\nshared: 1\ncontent: images\n" % shared)
    os.mkdir(n2.p("storage/loc1"))
    write_ok(n2.p("storage/loc1/config"), "type: dir\npath: %s\nnodes: n1\ncontent: images\n" % local)

    def views_ok():
        for nd in c:
            for other in c:
                want = {"shared1", "loc1"} if other.name == "n1" else {"shared1"}
                got = set(os.listdir(nd.p("nodes/%s/storage" % other.name)))
                if got != want:
                    return False
        return True
    wait_until(views_ok, 15, "every node to show shared1 everywhere and loc1 only under n1")

    # each node's own figures, read from another node through the status channel
    def active_everywhere():
        for nd in c:
            for other in c:
                st = fields(read_text(nd.p("nodes/%s/storage/shared1/status" % other.name)))
                if st.get("active") != "1" or int(st.get("total", "0")) <= 0:
                    return False
        return True
    wait_until(active_everywhere, 15, "shared1 active on every node, seen from every node")
    cl = read_text(n3.p("storage/shared1/status"))
    for nd in c:
        assert "node.%s: active" % nd.name in cl, cl
    assert "node.n1: active" in read_text(n2.p("storage/loc1/status"))
    assert "node.n2" not in read_text(n2.p("storage/loc1/status"))

    # a volume of the local storage lives on n1, whoever asks
    r = try_write(n2.p("storage/loc1/ctl"), "alloc vm-100-disk-0 4M\n")
    assert r["writes"] == [errno.EHOSTUNREACH], r
    os.mkdir(n1.p("storage/loc1/volumes/vm-100-disk-0"))
    f = local / "images" / "100" / "vm-100-disk-0.qcow2"
    assert f.is_file()
    for nd in c:
        assert "node: n1\n" in read_text(nd.p("storage/loc1/volumes/vm-100-disk-0/status"))
    write_ok(n3.p("storage/loc1/volumes/vm-100-disk-0/size"), "8M\n")  # forwarded to n1
    info = subprocess.run(["qemu-img", "info", "-U", str(f)], capture_output=True, text=True).stdout
    assert "8 MiB" in info, info
    for nd in c:
        assert read_text(nd.p("storage/loc1/volumes/vm-100-disk-0/size")) == "%d\n" % (8 << 20)
    os.mkdir(n2.p("storage/loc1/volumes/vm-100-disk-0/snapshots/s1"))  # forwarded too
    assert "s1" in subprocess.run(["qemu-img", "snapshot", "-l", "-U", str(f)], capture_output=True,
                                  text=True).stdout
    os.rmdir(n3.p("storage/loc1/volumes/vm-100-disk-0/snapshots/s1"))
    os.rmdir(n3.p("storage/loc1/volumes/vm-100-disk-0"))
    assert not f.exists()

    # a shared storage's volume can be made anywhere and is seen everywhere
    os.mkdir(n3.p("storage/shared1/volumes/vm-200-disk-0"))
    assert (shared / "images" / "200" / "vm-200-disk-0.qcow2").is_file()
    for nd in c:
        assert os.path.isdir(nd.p("storage/shared1/volumes/vm-200-disk-0"))
        assert "node:" not in read_text(nd.p("storage/shared1/volumes/vm-200-disk-0/status"))

    # removing the definition takes it off every node's view
    os.rmdir(n2.p("storage/loc1"))
    wait_until(lambda: all("loc1" not in os.listdir(nd.p("nodes/n1/storage")) for nd in c), 15,
               "loc1 to leave nodes/n1/storage")
