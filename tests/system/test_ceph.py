"""Ceph through /pve against a real Ceph (tests/ceph/ceph-up.sh): ceph/status, pools, OSDs,
rbd storage volumes with their data checked by qemu-io, and a dead Ceph that fails writes
within the client timeouts while the filesystem stays responsive."""
import errno
import os
import subprocess
import time
from pathlib import Path

import pytest

from cephlib import Ceph
from pvefslib import NODE, read_text, run, try_write, write_ok, wait_for, fields


def ctl(path, cmd):
    return try_write(path, cmd + "\n")["writes"]


@pytest.fixture(scope="module")
def ceph3():
    c = Ceph(osds=3)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def use_ceph(d, c):
    write_ok(d.p("ceph/config"), "conf: %s\n" % c.conf)
    return wait_for(lambda: fields(read_text(d.p("ceph/status"))).get("health", "").startswith("HEALTH_") and
                    fields(read_text(d.p("ceph/status"))), 20, "ceph/status to show the cluster")


def rbd_io(c, pool, image, cmd):
    p = run(["qemu-io", "-f", "raw", "-c", cmd, "rbd:%s/%s:conf=%s" % (pool, image, c.conf)], timeout=60)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.budget(120)
def test_ceph_status_pools_osds(pvefs, ceph3):
    d, c = pvefs, ceph3
    st = use_ceph(d, c)
    assert st["osds"] == "3" and st["osds_up"] == "3" and st["osds_in"] == "3", st
    assert st["monitors"] == "1", st
    wait_for(lambda: sorted(os.listdir(d.p("ceph/osds"))) == ["0", "1", "2"], 10, "ceph/osds")
    o = fields(read_text(d.p("ceph/osds/1/status")))
    assert o["up"] == "1" and o["in"] == "1", o

    os.mkdir(d.p("ceph/pools/tpool"))
    assert "tpool" in c.cli("osd", "pool", "ls").stdout.split()
    assert read_text(d.p("ceph/pools/tpool/size")) == "1\n"  # the test cluster's default
    write_ok(d.p("ceph/pools/tpool/size"), "2\n")
    assert read_text(d.p("ceph/pools/tpool/size")) == "2\n"
    assert c.cli("osd", "pool", "get", "tpool", "size").stdout.split()[-1] == "2"
    write_ok(d.p("ceph/pools/tpool/min_size"), "1\n")
    assert read_text(d.p("ceph/pools/tpool/min_size")) == "1\n"
    for f, bad in (("size", "0"), ("size", "many"), ("min_size", "99"), ("pg_num", "-1")):
        assert ctl(d.p("ceph/pools/tpool/" + f), bad) == [errno.EINVAL], (f, bad)
    assert read_text(d.p("ceph/pools/tpool/size")) == "2\n"
    with pytest.raises(OSError) as ei:
        os.mkdir(d.p("ceph/pools/bad pool"))
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(OSError) as ei:
        os.mkdir(d.p("ceph/osds/7"))
    assert ei.value.errno == errno.EPERM

    # out and in through the OSD's ctl
    assert ctl(d.p("ceph/osds/2/ctl"), "out") == [0]
    assert fields(read_text(d.p("ceph/osds/2/status")))["in"] == "0"
    assert ctl(d.p("ceph/osds/2/ctl"), "sideways") == [errno.EINVAL]
    assert ctl(d.p("ceph/osds/2/ctl"), "in") == [0]
    assert fields(read_text(d.p("ceph/osds/2/status")))["in"] == "1"

    # a pool that holds a storage's images stays; an unused one goes
    os.mkdir(d.p("storage/rbd1"))
    write_ok(d.p("storage/rbd1/config"), "type: rbd\npool: tpool\ncontent: images\n")
    with pytest.raises(OSError) as ei:
        os.rmdir(d.p("ceph/pools/tpool"))
    assert ei.value.errno == errno.EBUSY
    os.rmdir(d.p("storage/rbd1"))
    os.rmdir(d.p("ceph/pools/tpool"))
    assert "tpool" not in c.cli("osd", "pool", "ls").stdout.split()
    assert not os.path.exists(d.p("ceph/pools/tpool"))


@pytest.mark.budget(150)
def test_rbd_volumes(pvefs, ceph3):
    d, c = pvefs, ceph3
    use_ceph(d, c)
    os.mkdir(d.p("ceph/pools/vols"))
    os.mkdir(d.p("storage/rbd1"))
    write_ok(d.p("storage/rbd1/config"), "type: rbd\npool: vols\ncontent: images,rootdir\n")
    vols = d.p("storage/rbd1/volumes")
    os.mkdir(vols / "vm-100-disk-0")
    v = vols / "vm-100-disk-0"
    assert read_text(v / "format") == "raw\n"
    write_ok(v / "size", "8M\n")
    assert read_text(v / "size") == "%d\n" % (8 << 20)
    assert ctl(v / "size", "4M") == [errno.EINVAL]
    rc, out = rbd_io(c, "vols", "vm-100-disk-0", "write -P 0xaa 0 1M")
    assert rc == 0, out

    os.mkdir(v / "snapshots" / "s1")
    assert "s1" in run(["rbd", "-c", str(c.conf), "snap", "ls", "vols/vm-100-disk-0"]).stdout
    rc, out = rbd_io(c, "vols", "vm-100-disk-0", "write -P 0xbb 0 1M")
    assert rc == 0, out
    assert ctl(v / "ctl", "rollback s1") == [0]
    rc, out = rbd_io(c, "vols", "vm-100-disk-0", "read -P 0xaa 0 1M")
    assert rc == 0 and "fail" not in out.lower(), out

    # clone from the snapshot, read the data through the clone, then cut it loose
    assert ctl(v / "ctl", "clone vm-101-disk-0") == [errno.EINVAL]  # rbd clones need a snapshot
    assert ctl(v / "ctl", "clone vm-101-disk-0 s1") == [0]
    cl = vols / "vm-101-disk-0"
    assert "parent: vols/vm-100-disk-0@s1" in read_text(cl / "status")
    rc, out = rbd_io(c, "vols", "vm-101-disk-0", "read -P 0xaa 0 1M")
    assert rc == 0 and "fail" not in out.lower(), out
    assert ctl(cl / "ctl", "flatten") == [0]
    assert "parent:" not in read_text(cl / "status")

    # a vmdk imported through the storage's ctl: a raw image with the vmdk's data
    src = d.base / "import.vmdk"
    run(["qemu-img", "create", "-q", "-f", "vmdk", str(src), "8M"], check=True)
    assert run(["qemu-io", "-f", "vmdk", "-c", "write -P 0x3c 0 1M", str(src)]).returncode == 0
    assert ctl(d.p("storage/rbd1/ctl"), "import vm-102-disk-0 %s" % src) == [0]
    im = vols / "vm-102-disk-0"
    assert read_text(im / "format") == "raw\n" and read_text(im / "size") == "%d\n" % (8 << 20)
    rc, out = rbd_io(c, "vols", "vm-102-disk-0", "read -P 0x3c 0 1M")
    assert rc == 0 and "fail" not in out.lower(), out
    assert ctl(d.p("storage/rbd1/ctl"), "import vm-102-disk-0 %s" % src) == [errno.EEXIST]
    assert ctl(d.p("storage/rbd1/ctl"), "import vm-103-disk-0 %s qcow2" % src) == [errno.EINVAL]
    assert ctl(d.p("storage/rbd1/ctl"), "import vm-103-disk-0 %s.gone" % src) == [errno.ENOENT]
    assert "vm-103-disk-0" not in run(["rbd", "-c", str(c.conf), "ls", "vols"]).stdout.split()
    os.rmdir(im)

    # grow through ctl, then remove everything through rmdir
    assert ctl(v / "ctl", "resize +8M") == [0]
    assert read_text(v / "size") == "%d\n" % (16 << 20)
    os.rmdir(v / "snapshots" / "s1")
    os.rmdir(cl)
    os.rmdir(v)
    assert run(["rbd", "-c", str(c.conf), "ls", "vols"]).stdout.split() == []
    assert os.listdir(vols) == []
    os.rmdir(d.p("storage/rbd1"))
    os.rmdir(d.p("ceph/pools/vols"))


@pytest.mark.budget(90)
def test_rbd_external_cluster_with_priv_keyring(pvefs, ceph3):
    """An rbd storage with monitors of its own and its key in priv/ceph/<id>.keyring (as
    Proxmox keeps an external cluster's keyring), not through ceph/config."""
    d, c = pvefs, ceph3
    assert c.cli("osd", "pool", "create", "extp", "8").returncode == 0
    os.makedirs(d.p("priv/ceph"), exist_ok=True)
    write_ok(d.p("priv/ceph/ext.keyring"), (c.dir / "keyring").read_text())
    os.mkdir(d.p("storage/ext"))
    write_ok(d.p("storage/ext/config"),
             "type: rbd\nmonhost: [v2:127.0.0.1:%d]\npool: extp\nusername: admin\n" % c.port)
    assert "monhost:" not in read_text(d.p("ceph/config"))  # ceph/config does not name this cluster
    os.mkdir(d.p("storage/ext/volumes/vm-400-disk-0"))
    assert run(["rbd", "-c", str(c.conf), "ls", "extp"]).stdout.split() == ["vm-400-disk-0"]
    os.rmdir(d.p("storage/ext/volumes/vm-400-disk-0"))
    assert run(["rbd", "-c", str(c.conf), "ls", "extp"]).stdout.split() == []
    # an import reaches the same monitors with the same key (handed to qemu-img off its argv)
    src = d.base / "ext.vmdk"
    run(["qemu-img", "create", "-q", "-f", "vmdk", str(src), "4M"], check=True)
    assert run(["qemu-io", "-f", "vmdk", "-c", "write -P 0x7e 0 1M", str(src)]).returncode == 0
    assert ctl(d.p("storage/ext/ctl"), "import vm-402-disk-0 %s" % src) == [0]
    rc, out = rbd_io(c, "extp", "vm-402-disk-0", "read -P 0x7e 0 1M")
    assert rc == 0 and "fail" not in out.lower(), out
    os.rmdir(d.p("storage/ext/volumes/vm-402-disk-0"))
    assert run(["rbd", "-c", str(c.conf), "ls", "extp"]).stdout.split() == []
    # without a key the monitors refuse us: a clean error that says why, nothing recorded
    os.mkdir(d.p("storage/ext2"))
    write_ok(d.p("storage/ext2/config"),
             "type: rbd\nmonhost: [v2:127.0.0.1:%d]\npool: extp\nusername: nobody\n" % c.port)
    r = try_write(d.p("storage/ext2/ctl"), "alloc vm-401-disk-0 1M\n")
    assert r["writes"][0] in (errno.ETIMEDOUT, errno.EACCES, errno.EPERM, errno.ENOENT), r
    assert os.listdir(d.p("storage/ext2/volumes")) == []
    assert any("ext2" in l for l in d.errors()), d.errors()[-3:]
    os.rmdir(d.p("storage/ext2"))
    os.rmdir(d.p("storage/ext"))


@pytest.mark.budget(120)
def test_osd_killed_shows_down_and_io_goes_on(pvefs, ceph3):
    d, c = pvefs, ceph3
    use_ceph(d, c)
    os.mkdir(d.p("ceph/pools/ft"))
    write_ok(d.p("ceph/pools/ft/size"), "3\n")
    write_ok(d.p("ceph/pools/ft/min_size"), "2\n")
    os.mkdir(d.p("storage/rbdft"))
    write_ok(d.p("storage/rbdft/config"), "type: rbd\npool: ft\n")
    t0 = time.monotonic()
    c.kill("osd.2")
    wait_for(lambda: fields(read_text(d.p("ceph/status"))).get("osds_up") == "2", 15, "osds_up: 2")
    down_s = time.monotonic() - t0
    assert fields(read_text(d.p("ceph/osds/2/status")))["up"] == "0"
    # I/O still works with one OSD of three gone
    os.mkdir(d.p("storage/rbdft/volumes/vm-300-disk-0"))
    write_ok(d.p("storage/rbdft/volumes/vm-300-disk-0/size"), "4M\n")
    rc, out = rbd_io(c, "ft", "vm-300-disk-0", "write -P 0x5a 0 1M")
    assert rc == 0, out
    # the dead OSD goes out (through its ctl), so the next tests' new pools map to live OSDs
    assert ctl(d.p("ceph/osds/2/ctl"), "out") == [0]
    assert fields(read_text(d.p("ceph/osds/2/status")))["in"] == "0"
    print("osd.2 killed: ceph/status showed it down after %.2f s" % down_s)


@pytest.mark.budget(150)
def test_dead_ceph_fails_cleanly(pvefs):
    d = pvefs
    c = Ceph(osds=1, mgr=False)
    try:
        c.start()
        use_ceph(d, c)
        os.mkdir(d.p("ceph/pools/one"))
        os.mkdir(d.p("storage/rbd1"))
        write_ok(d.p("storage/rbd1/config"), "type: rbd\npool: one\n")
        os.mkdir(d.p("storage/rbd1/volumes/vm-100-disk-0"))
        v = d.p("storage/rbd1/volumes/vm-100-disk-0")
        c.kill("osd.0")
        t0 = time.monotonic()
        r = try_write(v / "size", "8M\n")
        took = time.monotonic() - t0
        assert r["writes"][0] in (errno.ETIMEDOUT, errno.EIO), r
        assert took < 20, "the write took %.1f s" % took
        assert read_text(v / "size") == "0\n"
        # the rest of the tree answers at once meanwhile
        t0 = time.monotonic()
        read_text(d.p("ceph/status"))
        os.listdir(d.p("storage/rbd1/volumes"))
        read_text(d.p("cluster/quorate"))
        assert time.monotonic() - t0 < 1.0
        # then the monitors go too: ceph/status says so and stays quick to read
        c.kill("mon.a")
        wait_for(lambda: fields(read_text(d.p("ceph/status"))).get("health") == "unreachable", 30,
                 "ceph/status to report Ceph unreachable")
        t0 = time.monotonic()
        for _ in range(20):
            read_text(d.p("ceph/status"))
        assert time.monotonic() - t0 < 1.0
        r = try_write(d.p("storage/rbd1/volumes/vm-100-disk-0/ctl"), "snapshot s1\n")
        assert r["writes"][0] in (errno.ETIMEDOUT, errno.EIO, errno.ENOTCONN, errno.ESHUTDOWN), r
        assert os.listdir(v / "snapshots") == []
        print("write against a dead OSD failed after %.2f s" % took)
    finally:
        c.stop()


@pytest.mark.budget(150)
def test_rbd_template_linked_clone(pvefs, ceph3):
    d, c = pvefs, ceph3
    use_ceph(d, c)
    os.mkdir(d.p("ceph/pools/tpl"))
    os.mkdir(d.p("storage/rbd2"))
    write_ok(d.p("storage/rbd2/config"), "type: rbd\npool: tpl\ncontent: images\n")
    vols = d.p("storage/rbd2/volumes")
    assert ctl(d.p("storage/rbd2/ctl"), "alloc vm-130-disk-0 8M") == [0]
    rc, out = rbd_io(c, "tpl", "vm-130-disk-0", "write -P 0x6b 0 1M")
    assert rc == 0, out
    d.mkvm(130, "memory: 128\nname: tpl\nscsi0: rbd2:vm-130-disk-0,size=8M\n")
    vm = d.vm(130)
    assert ctl(vm / "ctl", "template") == [0], d.errors()[-3:]

    # a linked clone of a template: a copy-on-write child of the protected __base__ snapshot
    assert ctl(vm / "ctl", "clone 131") == [0], d.errors()[-3:]
    assert os.listdir(vols / "vm-130-disk-0" / "snapshots") == ["__base__"]
    assert "parent: tpl/vm-130-disk-0@__base__" in read_text(vols / "vm-131-disk-0" / "status")
    cfg = fields(read_text(d.vm(131, "config")))
    assert cfg["scsi0"] == "rbd2:vm-131-disk-0,size=8M" and cfg["name"] == "tpl-clone", cfg
    assert "template" not in cfg
    rc, out = rbd_io(c, "tpl", "vm-131-disk-0", "read -P 0x6b 0 1M")
    assert rc == 0 and "fail" not in out.lower(), out

    # full: a volume of its own, and no snapshot left behind for it
    assert ctl(vm / "ctl", "clone 132 full") == [0], d.errors()[-3:]
    assert "parent:" not in read_text(vols / "vm-132-disk-0" / "status")
    assert os.listdir(vols / "vm-130-disk-0" / "snapshots") == ["__base__"]
    rc, out = rbd_io(c, "tpl", "vm-132-disk-0", "read -P 0x6b 0 1M")
    assert rc == 0 and "fail" not in out.lower(), out


@pytest.mark.budget(240)
def test_vm_boots_with_rbd_disk(pvefs, ceph3):
    """A VM whose disk is an rbd volume: libvirt's network disk through QEMU's rbd driver."""
    d, c = pvefs, ceph3
    root = Path(__file__).resolve().parents[2]
    guest = root / "build" / "guest"
    p = subprocess.run(["bash", str(root / "tests" / "qemu" / "build-guest.sh"), str(guest)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    use_ceph(d, c)
    os.mkdir(d.p("ceph/pools/vmp"))
    os.mkdir(d.p("storage/rbdvm"))
    write_ok(d.p("storage/rbdvm/config"), "type: rbd\npool: vmp\ncontent: images\n")
    vm = d.p("nodes/%s/qemu/140" % NODE)
    os.mkdir(vm)
    write_ok(vm / "config", "memory: 128\ncores: 1\nkvm: 0\nserial0: socket\nvirtio0: rbdvm:0.03125\n"
             "args: -kernel %s/vmlinux -initrd %s/initrd.gz -append \"console=ttyS0 panic=-1\"\n"
             % (guest, guest))
    assert "virtio0: rbdvm:vm-140-disk-0,size=32M" in read_text(vm / "config")
    assert run(["rbd", "-c", str(c.conf), "ls", "vmp"]).stdout.split() == ["vm-140-disk-0"]
    r = try_write(vm / "ctl", "start\n")
    assert r["writes"] == [0], (r, d.errors()[-2:])
    serial = d.data / "serial" / "140.serial"
    wait_for(lambda: serial.exists() and "PVEFS-DISK vda size=65536" in serial.read_text(errors="replace"),
             90, "the guest to see its 32 MiB rbd disk")
    assert try_write(vm / "ctl", "stop\n")["writes"] == [0]
    # an external cluster's storage (its own monitors, its key in priv/ceph/<id>.keyring):
    # the key must reach QEMU as a libvirt secret, which the embedded libvirt cannot do;
    # the start is refused and says so, nothing runs
    os.makedirs(d.p("priv/ceph"), exist_ok=True)
    write_ok(d.p("priv/ceph/extvm.keyring"), (c.dir / "keyring").read_text())
    os.mkdir(d.p("storage/extvm"))
    write_ok(d.p("storage/extvm/config"),
             "type: rbd\nmonhost: 127.0.0.1:%d\npool: vmp\nusername: admin\n" % (c.port + 1))
    vm2 = d.p("nodes/%s/qemu/141" % NODE)
    os.mkdir(vm2)
    write_ok(vm2 / "config", "memory: 128\ncores: 1\nkvm: 0\nserial0: socket\nvirtio0: extvm:0.03125\n"
             "args: -kernel %s/vmlinux -initrd %s/initrd.gz -append \"console=ttyS0 panic=-1\"\n"
             % (guest, guest))
    r = try_write(vm2 / "ctl", "start\n")
    assert r["writes"] == [errno.EOPNOTSUPP], r
    assert "libvirtd" in d.errors()[-1], d.errors()[-1]
    assert read_text(vm2 / "state") == "stopped\n"
