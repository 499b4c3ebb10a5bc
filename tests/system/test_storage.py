"""dir storage through /pve: definitions, volumes on real qcow2 files (qemu-img),
snapshots checked with qemu-io, status from the monitor, and bad input refused cleanly."""
import errno
import json
import os
import subprocess
import time

import pytest

from pvefslib import NODE, read_text, run, try_write, write_ok, wait_for


def qemu_io(path, cmd):
    p = run(["qemu-io", "-f", "qcow2", "-c", cmd, str(path)], timeout=30)
    return p.returncode, p.stdout + p.stderr


def img_info(path):
    p = run(["qemu-img", "info", "--output=json", "-U", str(path)], timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def dir_storage(d, sid, extra=""):
    root = d.base / ("store-" + sid)
    root.mkdir(exist_ok=True)
    os.mkdir(d.p("storage/" + sid))
    write_ok(d.p("storage/%s/config" % sid), "type: dir\npath: %s\ncontent: images,rootdir\n%s" % (root, extra))
    return root


def ctl(path, cmd):
    return try_write(path, cmd + "\n")["writes"]


def test_storage_definition_roundtrip(pvefs):
    d = pvefs
    os.mkdir(d.p("storage/local1"))
    # a new storage is a usable dir storage at once
    cfg = read_text(d.p("storage/local1/config"))
    assert "type: dir\n" in cfg and "path: /" in cfg, cfg
    root = d.base / "s1"
    root.mkdir()
    write_ok(d.p("storage/local1/config"),
             "type: dir\nshared: 0\npath: %s\ncontent: rootdir,images\nformat: qcow2\nnodes: %s\n" % (root, NODE))
    assert read_text(d.p("storage/local1/config")) == (
        "content: rootdir,images\nformat: qcow2\nnodes: %s\npath: %s\nshared: 0\ntype: dir\n" % (NODE, root))
    assert sorted(os.listdir(d.p("storage/local1"))) == ["config", "ctl", "status", "volumes"]
    # storage.cfg's own section form, pasted from a Proxmox host, is taken too
    p = run(["/bin/bash", "-c", "printf 'dir: local1\\n\\tpath %s\\n\\tcontent iso,images\\n\\tshared 0\\n' > %s"
             % (root, d.p("storage/local1/config"))])
    assert p.returncode == 0, p.stderr
    assert read_text(d.p("storage/local1/config")) == "content: iso,images\npath: %s\nshared: 0\ntype: dir\n" % root
    # the monitor publishes this node's view within a cycle or two
    st = wait_for(lambda: (os.path.exists(d.p("nodes/%s/storage/local1/status" % NODE)) and
                           "active: 1" in read_text(d.p("nodes/%s/storage/local1/status" % NODE)) and
                           read_text(d.p("nodes/%s/storage/local1/status" % NODE))), 10, "node storage status")
    fig = dict(l.split(": ", 1) for l in st.splitlines())
    sv = os.statvfs(root)
    assert int(fig["total"]) == sv.f_blocks * sv.f_frsize, st
    assert 0 < int(fig["avail"]) <= int(fig["total"]), st
    cl = read_text(d.p("storage/local1/status"))
    assert "node.%s: active" % NODE in cl and "active: 1\n" in cl, cl
    os.rmdir(d.p("storage/local1"))
    assert not os.path.exists(d.p("storage/local1"))
    wait_for(lambda: not os.path.exists(d.p("nodes/%s/storage/local1" % NODE)), 10, "node storage dir to go")


def test_dir_volume_lifecycle(pvefs):
    d = pvefs
    root = dir_storage(d, "local1")
    vols = d.p("storage/local1/volumes")
    os.mkdir(vols / "vm-100-disk-0")
    v = vols / "vm-100-disk-0"
    f = root / "images" / "100" / "vm-100-disk-0.qcow2"
    assert f.is_file()
    assert read_text(v / "format") == "qcow2\n"
    assert read_text(v / "size") == "0\n"
    assert sorted(os.listdir(v)) == ["ctl", "format", "size", "snapshots", "status", "used_by"]
    st = read_text(v / "status")
    assert "volid: local1:vm-100-disk-0\n" in st and "path: %s\n" % f in st and "node: %s\n" % NODE in st, st

    # grow by writing a larger size; a shrink is refused and changes nothing
    write_ok(v / "size", "16M\n")
    assert read_text(v / "size") == "%d\n" % (16 << 20)
    assert img_info(f)["virtual-size"] == 16 << 20
    assert ctl(v / "size", "8M") == [errno.EINVAL]
    assert img_info(f)["virtual-size"] == 16 << 20
    assert ctl(v / "ctl", "resize +16M") == [0]
    assert read_text(v / "size") == "%d\n" % (32 << 20)
    assert img_info(f)["virtual-size"] == 32 << 20

    # snapshot, change the data, roll back: the data is back (read by qemu-io)
    rc, out = qemu_io(f, "write -P 0xaa 0 1M")
    assert rc == 0, out
    os.mkdir(v / "snapshots" / "before")
    assert os.listdir(v / "snapshots") == ["before"]
    assert [s["name"] for s in img_info(f).get("snapshots", [])] == ["before"]
    rc, out = qemu_io(f, "write -P 0xbb 0 1M")
    assert rc == 0, out
    rc, out = qemu_io(f, "read -P 0xbb 0 1M")
    assert rc == 0 and "failed" not in out, out
    assert ctl(v / "ctl", "rollback before") == [0]
    rc, out = qemu_io(f, "read -P 0xaa 0 1M")
    assert rc == 0 and "failed" not in out.lower(), out

    # clone from the snapshot: a new volume with the snapshot's data
    assert ctl(v / "ctl", "clone vm-101-disk-0 before") == [0]
    c = vols / "vm-101-disk-0"
    cf = root / "images" / "101" / "vm-101-disk-0.qcow2"
    assert os.path.isdir(c) and cf.is_file()
    rc, out = qemu_io(cf, "read -P 0xaa 0 1M")
    assert rc == 0 and "failed" not in out.lower(), out

    # snapshots go by rmdir
    os.rmdir(v / "snapshots" / "before")
    assert os.listdir(v / "snapshots") == []
    assert img_info(f).get("snapshots", []) == []

    # a guest that names the volume keeps it (and its storage) alive
    d.mkvm(100, "memory: 512\nscsi0: local1:vm-100-disk-0,size=32M\n")
    assert read_text(v / "used_by") == "qemu/100\n"
    with pytest.raises(OSError) as ei:
        os.rmdir(v)
    assert ei.value.errno == errno.EBUSY
    with pytest.raises(OSError) as ei:
        os.rmdir(d.p("storage/local1"))
    assert ei.value.errno == errno.EBUSY
    assert f.is_file()
    write_ok(d.vm(100, "config"), "memory: 512\n")
    assert read_text(v / "used_by") == ""
    os.rmdir(v)
    assert not f.exists() and not os.path.exists(v)
    os.rmdir(c)
    assert not cf.exists()
    assert "freed local1:vm-100-disk-0" in d.log()


def test_dir_volume_raw_and_alloc_by_ctl(pvefs):
    d = pvefs
    root = dir_storage(d, "local1")
    vols = d.p("storage/local1/volumes")
    # a script allocates with a size in one write
    assert ctl(d.p("storage/local1/ctl"), "alloc vm-102-disk-0 4M raw") == [0]
    f = root / "images" / "102" / "vm-102-disk-0.raw"
    assert f.is_file() and f.stat().st_size == 4 << 20
    assert read_text(vols / "vm-102-disk-0" / "format") == "raw\n"
    # an extension in the name picks the format
    os.mkdir(vols / "vm-103-disk-0.raw")
    assert (root / "images" / "103" / "vm-103-disk-0.raw").is_file()
    # raw has no snapshots: a clean refusal, nothing recorded
    with pytest.raises(OSError) as ei:
        os.mkdir(vols / "vm-102-disk-0" / "snapshots" / "s1")
    assert ei.value.errno == errno.EOPNOTSUPP
    assert os.listdir(vols / "vm-102-disk-0" / "snapshots") == []
    # a volume made outside pvefs shows after a rescan
    (root / "images" / "104").mkdir()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(root / "images/104/vm-104-disk-0.qcow2"), "1M"],
                   check=True)
    assert ctl(d.p("storage/local1/ctl"), "rescan") == [0]
    names = sorted(os.listdir(vols))
    assert "vm-104-disk-0.qcow2" in names or "vm-104-disk-0" in names, names


def test_storage_bad_input(pvefs):
    d = pvefs
    root = dir_storage(d, "local1")
    vols = d.p("storage/local1/volumes")
    os.mkdir(vols / "vm-100-disk-0")
    v = vols / "vm-100-disk-0"
    good_cfg = read_text(d.p("storage/local1/config"))
    before = d.store_version()

    def refused_mkdir(path, err):
        with pytest.raises(OSError) as ei:
            os.mkdir(path)
        assert ei.value.errno == err, (path, ei.value)
        assert not os.path.exists(path)

    refused_mkdir(d.p("storage/Bad"), errno.EINVAL)
    refused_mkdir(d.p("storage/1x"), errno.EINVAL)
    refused_mkdir(vols / "disk0", errno.EINVAL)
    refused_mkdir(vols / "vm-1-disk-0", errno.EINVAL)
    with pytest.raises(FileExistsError):
        os.mkdir(vols / "vm-100-disk-0")
    refused_mkdir(v / "snapshots" / "1bad", errno.EINVAL)
    refused_mkdir(d.p("nodes/%s/storage/x1" % NODE), errno.EPERM)
    for bad in ("type: zfs\npath: /x\n",                     # unknown type
                "type: dir\npath: /x\nfoo: 1\n",             # unknown option
                "type: dir\n",                               # dir needs a path
                "type: dir\npath: /x\npool: rbd\n",          # an rbd option on dir
                "type: rbd\ncontent: iso\n",                 # rbd holds no ISOs
                "type: dir\npath: relative\n",               # not absolute
                "path: /x\n"):                               # no type
        r = try_write(d.p("storage/local1/config"), bad)
        assert errno.EINVAL in r["writes"] + [r.get("close")], (bad, r)
        assert read_text(d.p("storage/local1/config")) == good_cfg, bad
    for f, cmd, err in (("size", "abc", errno.EINVAL), ("size", "-5", errno.EINVAL),
                        ("ctl", "resize", errno.EINVAL),
                        ("ctl", "bogus", errno.EINVAL), ("ctl", "rollback nosuch", errno.ENOENT),
                        ("ctl", "clone vm-100-disk-0", errno.EEXIST), ("ctl", "clone nope", errno.EINVAL),
                        ("ctl", "snapshot 9x", errno.EINVAL)):
        assert ctl(v / f, cmd) == [err], (f, cmd)
    assert ctl(d.p("storage/local1/ctl"), "alloc vm-100-disk-0") == [errno.EEXIST]
    assert ctl(d.p("storage/local1/ctl"), "alloc vm-105-disk-0 lots") == [errno.EINVAL]
    assert ctl(d.p("storage/local1/ctl"), "frobnicate") == [errno.EINVAL]
    r = try_write(v / "status", "size: 1\n")
    assert r["open"] == errno.EACCES, r
    assert read_text(v / "size") == "0\n"
    assert sorted(os.listdir(vols)) == ["vm-100-disk-0"]
    assert sorted(os.listdir(root / "images")) == ["100"]
    assert d.store_version() == before, "a refused change wrote to the store"


def make_image(path, fmt, size="8M", pattern=None):
    run(["qemu-img", "create", "-q", "-f", fmt, str(path), size], check=True)
    if pattern is not None:
        p = run(["qemu-io", "-f", fmt, "-c", "write -P 0x%02x 0 1M" % pattern, str(path)], timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr


def test_dir_import_images(pvefs):
    d = pvefs
    root = dir_storage(d, "local1")
    vols = d.p("storage/local1/volumes")
    sctl = d.p("storage/local1/ctl")
    src = d.base / "import-src"
    src.mkdir()
    make_image(src / "disk.vmdk", "vmdk", pattern=0x3c)
    make_image(src / "disk.vhdx", "vhdx", size="4M", pattern=0x5e)

    # a vmdk becomes a qcow2 volume holding the same data
    assert ctl(sctl, "import vm-110-disk-0 %s qcow2" % (src / "disk.vmdk")) == [0]
    v = vols / "vm-110-disk-0"
    f = root / "images" / "110" / "vm-110-disk-0.qcow2"
    assert read_text(v / "format") == "qcow2\n"
    assert read_text(v / "size") == "%d\n" % (8 << 20)
    assert "path: %s\n" % f in read_text(v / "status")
    assert img_info(f)["format"] == "qcow2" and img_info(f)["virtual-size"] == 8 << 20
    rc, out = qemu_io(f, "read -P 0x3c 0 1M")
    assert rc == 0 and "fail" not in out.lower(), out
    assert "imported local1:vm-110-disk-0" in d.log()
    # a vhdx, with the format from the volume name
    assert ctl(sctl, "import vm-111-disk-0.raw %s" % (src / "disk.vhdx")) == [0]
    rf = root / "images" / "111" / "vm-111-disk-0.raw"
    assert read_text(vols / "vm-111-disk-0.raw" / "format") == "raw\n"
    assert rf.stat().st_size == 4 << 20
    p = run(["qemu-io", "-f", "raw", "-c", "read -P 0x5e 0 1M", str(rf)], timeout=30)
    assert p.returncode == 0 and "fail" not in (p.stdout + p.stderr).lower(), p.stdout + p.stderr

    # refusals change neither the catalog, the directory nor the store
    (src / "notes.txt").write_text("not a disk\n")
    make_image(src / "base.qcow2", "qcow2")
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(src / "base.qcow2"),
         str(src / "overlay.qcow2")], check=True)
    names, files, before = sorted(os.listdir(vols)), sorted(os.listdir(root / "images")), d.store_version()
    for cmd, err in (("import vm-112-disk-0 %s" % (src / "missing.vmdk"), errno.ENOENT),
                     ("import vm-110-disk-0 %s" % (src / "disk.vmdk"), errno.EEXIST),
                     ("import vm-112-disk-0 %s" % (src / "notes.txt"), errno.EINVAL),
                     ("import vm-112-disk-0 import-src/disk.vmdk", errno.EINVAL),
                     ("import vm-112-disk-0 %s" % src, errno.EINVAL),                # a directory
                     ("import vm-112-disk-0 %s" % (src / "overlay.qcow2"), errno.EINVAL),  # backing file
                     ("import vm-112-disk-0 %s bogus" % (src / "disk.vmdk"), errno.EINVAL),
                     ("import subvol-112-disk-0 %s" % (src / "disk.vmdk"), errno.EINVAL),
                     ("import vm-112-disk-0", errno.EINVAL)):
        assert ctl(sctl, cmd) == [err], cmd
    assert sorted(os.listdir(vols)) == names
    assert sorted(os.listdir(root / "images")) == files
    assert not (root / "images" / "112").exists()
    assert d.store_version() == before, "a refused import wrote to the store"
    assert any("notes.txt is not a disk image" in l for l in d.errors()), d.errors()[-3:]
