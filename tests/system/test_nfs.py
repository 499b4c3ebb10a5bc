"""Read-only NFS re-export of the mount (NFS-Ganesha FSAL_VFS + libnfs clients), and the kernel
export path (name_to_handle_at / open_by_handle_at) that any NFS server relies on."""
import ctypes
import errno
import json
import os
import shutil
import stat

import pytest

from pvefslib import HELPERS, NODE, PYTHON, QEMU_CANON, ename, make_base, remove_base, run, write_ok

# ------------------------------------------------------------------ kernel export path (ctypes)
AT_FDCWD = -100
MAX_HANDLE_SZ = 128


class FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * MAX_HANDLE_SZ)]


_libc = ctypes.CDLL(None, use_errno=True)


def name_to_handle(path):
    fh = FileHandle()
    fh.handle_bytes = MAX_HANDLE_SZ
    mount_id = ctypes.c_int()
    if _libc.name_to_handle_at(AT_FDCWD, os.fsencode(str(path)), ctypes.byref(fh), ctypes.byref(mount_id), 0) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "name_to_handle_at(%s): %s" % (path, os.strerror(e)))
    return fh


def open_by_handle(mnt, fh):
    """Returns (errno or 0, st_ino, first 4 KiB for files)."""
    mfd = os.open(str(mnt), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = _libc.open_by_handle_at(mfd, ctypes.byref(fh), os.O_RDONLY)
        if fd < 0:
            return ctypes.get_errno(), None, None
        try:
            st = os.fstat(fd)
            data = None if stat.S_ISDIR(st.st_mode) else os.read(fd, 65536)
            return 0, st.st_ino, data
        finally:
            os.close(fd)
    finally:
        os.close(mfd)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def test_open_by_handle_survives_drop_caches_and_restart(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    write_ok(d.vm(100, "notes.txt"), "scratch file\n")
    paths = ["cluster", "cluster/quorate", "nodes/%s/status" % NODE, "nodes/%s/qemu" % NODE,
             "nodes/%s/qemu/100" % NODE, "nodes/%s/qemu/100/config" % NODE, "nodes/%s/qemu/100/notes.txt" % NODE]
    handles = {p: name_to_handle(d.p(p)) for p in paths}
    inos = {p: os.stat(d.p(p)).st_ino for p in paths}
    want = {"cluster/quorate": b"1\n", "nodes/%s/qemu/100/config" % NODE: QEMU_CANON.encode(),
            "nodes/%s/qemu/100/notes.txt" % NODE: b"scratch file\n"}

    def check(label):
        bad = []
        for p in paths:
            e, ino, data = open_by_handle(d.mnt, handles[p])
            if e:
                bad.append("%s: %s" % (p, ename(e)))
            elif ino != inos[p]:
                bad.append("%s: ino %s != %s" % (p, ino, inos[p]))
            elif p in want and data != want[p]:
                bad.append("%s: read %r" % (p, data[:60]))
            elif p.endswith("status") and b"node: " + NODE.encode() not in data:
                bad.append("%s: read %r" % (p, data[:60]))
        assert not bad, "%s: %s" % (label, bad)

    check("same mount")
    drop_caches()
    check("after drop_caches")
    d.restart()
    check("after a pvefsd restart")
    drop_caches()
    check("after restart + drop_caches")


def test_handle_of_removed_object_is_stale(pvefs):
    d = pvefs
    d.mkvm(101, QEMU_CANON)
    fh_dir = name_to_handle(d.vm(101))
    fh_cfg = name_to_handle(d.vm(101, "config"))
    os.rmdir(d.vm(101))
    drop_caches()
    for fh in (fh_dir, fh_cfg):
        e, _, _ = open_by_handle(d.mnt, fh)
        assert e == errno.ESTALE, ename(e)
    # the same id created again is a new object: the old handles must not resolve to it
    d.mkvm(101, QEMU_CANON.replace("memory: 1024", "memory: 2048"))
    drop_caches()
    for fh in (fh_dir, fh_cfg):
        e, _, _ = open_by_handle(d.mnt, fh)
        assert e == errno.ESTALE, "old handle resolved to the re-created VM 101 (%s)" % ename(e)


# ------------------------------------------------------------------ NFS-Ganesha end to end
@pytest.mark.budget(170)
def test_nfs_reexport(helper_bin):
    for tool in ("ganesha.nfsd", "rpcbind", "nfs-ls", "nfs-cat", "unshare", "ip"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed (apt install nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils)" % tool)
    import glob
    if not glob.glob("/usr/lib/*/ganesha/libfsalvfs.so*") + glob.glob("/usr/lib*/ganesha/libfsalvfs.so*"):
        pytest.skip("FSAL_VFS is not installed (apt install nfs-ganesha-vfs)")
    nfscli = helper_bin.get("nfscli")
    assert nfscli, "could not compile helpers/nfscli.c: %s" % helper_bin.get("nfscli.error")

    base = make_base("pvefs-nfs-")
    try:
        p = run(["unshare", "--mount", "--net", "--propagation", "private",
                 PYTHON, str(HELPERS / "nfs_scenario.py"), str(base), str(nfscli)], timeout=150)
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("nfs_scenario.py rc=%d\nstdout: %s\nstderr: %s" % (p.returncode, p.stdout, p.stderr))
        if "skip" in res:
            pytest.skip(res["skip"])
        logs = "\nganesha log:\n%s\npvefsd log:\n%s" % (res.get("ganesha_log"), res.get("pvefsd_log", ""))
        assert "exception" not in res, res["exception"] + logs
        s = res["steps"]
        print(json.dumps(s, indent=1))
        problems = []  # collect every failed expectation: one broken step must not hide the others

        def ok(label):
            if s[label]["rc"] != 0:
                problems.append("%s: rc=%d %s" % (label, s[label]["rc"], (s[label]["err"] + s[label]["out"]).strip()))
                return None
            return s[label]["out"]

        def expect(cond, msg):
            if not cond:
                problems.append(msg)

        out = ok("v3-ls-root")
        expect(out is None or all(n in out for n in ("cluster", "nodes", "vms", "local")), "v3 ls /: %r" % out)
        out = ok("v4-ls-node")  # nodes/n1 holds the write-only ctl
        expect(out is None or "status" in out, "v4 ls nodes/n1: %r" % out)
        out = ok("v3-ls-vm")  # a VM dir holds the write-only ctl
        expect(out is None or "config" in out, "v3 ls qemu/100: %r" % out)
        out = ok("v3-cat-status")
        expect(out is None or ("node: %s" % NODE in out and "memtotal: " in out), "v3 cat status: %r" % out)
        out = ok("v4-cat-config")
        expect(out is None or out == QEMU_CANON, "v4 cat config: %r" % out)
        out = ok("v3-cat-quorate")
        expect(out is None or out == "1\n", "v3 cat quorate: %r" % out)

        expect(s["cli-open"] == ["open OK", "open OK"], "nfscli open: %s" % s["cli-open"])
        r1 = s["cli-read-1"]
        expect(r1[0].startswith("read OK") and "node: %s" % NODE in r1[0], "nfscli read status: %s" % r1[0])
        expect(r1[1].startswith("read OK %d " % len(QEMU_CANON)), "nfscli read config: %s" % r1[1])
        st1 = [x.split() for x in s["cli-stat-1"]]
        expect(all(x[:2] == ["stat", "OK"] for x in st1), "nfscli stat: %s" % s["cli-stat-1"])

        expect(all(x.startswith("read OK") for x in s["cli-read-after-drop"]),
               "handle read after drop_caches: %s" % s["cli-read-after-drop"])
        out = ok("v3-cat-status-after-drop")
        expect(out is None or "node: " in out, "v3 cat status after drop_caches: %r" % out)

        expect(s["ganesha-restart"] == "OK", "ganesha restart: %s" % s["ganesha-restart"])
        expect(all(x.startswith("read OK") for x in s["cli-read-after-restart"]),
               "handle read after pvefsd + ganesha restart: %s" % s["cli-read-after-restart"])
        st2 = [x.split() for x in s["cli-stat-after-restart"]]
        expect(all(x[:2] == ["stat", "OK"] for x in st2), "handle stat after restart: %s" % s["cli-stat-after-restart"])
        expect([x[2:3] for x in st2] == [x[2:3] for x in st1], "NFS fileids changed across restart: %s -> %s" % (st1, st2))
        out = ok("v3-cat-status-after-restart")
        expect(out is None or "node: " in out, "v3 cat status after restart: %r" % out)
        out = ok("v3-cat-config-after-restart")
        expect(out is None or out == QEMU_CANON, "v3 cat config after restart: %r" % out)
        assert not problems, "NFS re-export problems:\n  " + "\n  ".join(problems) + logs
    finally:
        remove_base(base)
