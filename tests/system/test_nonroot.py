"""An unprivileged user (uid/gid 65534) on the allow_other,default_permissions mount."""
import json
import os
import shutil

import pytest

from pvefslib import LXC_CANON, NODE, PYTHON, QEMU_CANON, read_bytes, run, write_ok

# Runs as uid 65534: performs each operation and reports "OK" or the errno name.
PROBE = r'''
import errno, json, os, sys
M = sys.argv[1]
out = {}
def do(name, fn):
    try:
        r = fn()
        out[name] = ["OK", r]
    except OSError as e:
        out[name] = [errno.errorcode.get(e.errno, str(e.errno)), None]
def rd(p):
    with open(os.path.join(M, p), "rb") as f:
        return f.read().decode("utf-8", "replace")
def wr(p, data):
    fd = os.open(os.path.join(M, p), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
def create(p):
    fd = os.open(os.path.join(M, p), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
N = "nodes/" + sys.argv[2]
out["uid"] = [os.getuid(), os.getgid()]
do("read-status", lambda: rd(N + "/status"))
do("read-vm-config", lambda: rd(N + "/qemu/100/config"))
do("read-ct-config", lambda: rd(N + "/lxc/200/config"))
do("read-vm-state", lambda: rd(N + "/qemu/100/state"))
do("read-cluster-quorate", lambda: rd("cluster/quorate"))
do("list-qemu", lambda: sorted(os.listdir(os.path.join(M, N, "qemu"))))
do("list-vms", lambda: sorted(os.listdir(os.path.join(M, "vms"))))
do("write-vm-config", lambda: wr(N + "/qemu/100/config", b"memory: 64\n"))
do("write-ct-config", lambda: wr(N + "/lxc/200/config", b"memory: 64\n"))
do("write-vm-state", lambda: wr(N + "/qemu/100/state", b"running\n"))
do("write-vm-ctl", lambda: wr(N + "/qemu/100/ctl", b"start\n"))
do("write-node-ctl", lambda: wr(N + "/ctl", b"log nonroot-MARK\n"))
do("mkdir-qemu", lambda: os.mkdir(os.path.join(M, N, "qemu", "4242")))
do("mkdir-lxc", lambda: os.mkdir(os.path.join(M, N, "lxc", "4243")))
do("rmdir-vm", lambda: os.rmdir(os.path.join(M, N, "qemu", "100")))
do("create-scratch", lambda: create(N + "/qemu/100/.ansible_tmpX"))
do("unlink-scratch", lambda: os.unlink(os.path.join(M, N, "qemu", "100", "notes.txt")))
do("rename-scratch", lambda: os.rename(os.path.join(M, N, "qemu", "100", "notes.txt"),
                                       os.path.join(M, N, "qemu", "100", "config")))
do("chmod-config", lambda: os.chmod(os.path.join(M, N, "qemu", "100", "config"), 0o666))
do("list-priv", lambda: os.listdir(os.path.join(M, "priv")))
do("chdir-priv", lambda: os.chdir(os.path.join(M, "priv")))
do("read-priv-file", lambda: rd("priv/st-secret"))
do("stat-priv-file", lambda: os.stat(os.path.join(M, "priv", "st-secret")).st_size)
print(json.dumps(out))
'''


def _as_nobody(args, timeout=30):
    if shutil.which("setpriv"):
        pre = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        pre = ["runuser", "-u", "nobody", "--"]
    return run(pre + args, timeout=timeout, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})


@pytest.fixture
def probe(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    d.mkct(200, LXC_CANON)
    write_ok(d.vm(100, "notes.txt"), "root's scratch\n")
    write_ok(d.p("priv/st-secret"), "s3cret\n")
    v0 = d.store_version()
    log0 = d.log()
    p = _as_nobody([PYTHON, "-c", PROBE, str(d.mnt), NODE])
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    return d, res, v0, log0


def test_nonroot_reads(probe):
    d, res, _, _ = probe
    assert res["uid"] == [65534, 65534]
    for k in ("read-status", "read-vm-config", "read-ct-config", "read-vm-state", "read-cluster-quorate",
              "list-qemu", "list-vms"):
        assert res[k][0] == "OK", (k, res[k])
    assert "node: %s" % NODE in res["read-status"][1]
    assert res["read-vm-config"][1] == QEMU_CANON
    assert res["read-ct-config"][1] == LXC_CANON
    assert res["list-qemu"][1] == ["100"]


def test_nonroot_cannot_write(probe):
    d, res, v0, log0 = probe
    for k in ("write-vm-config", "write-ct-config", "write-vm-state", "write-vm-ctl", "write-node-ctl",
              "mkdir-qemu", "mkdir-lxc", "rmdir-vm", "create-scratch", "unlink-scratch", "rename-scratch"):
        assert res[k][0] == "EACCES", (k, res[k])
    assert res["chmod-config"][0] in ("EPERM", "EACCES"), res["chmod-config"]
    assert read_bytes(d.vm(100, "config")) == QEMU_CANON.encode()
    assert read_bytes(d.ct(200, "config")) == LXC_CANON.encode()
    assert read_bytes(d.vm(100, "notes.txt")) == b"root's scratch\n"
    assert not os.path.exists(d.vm(4242)) and not os.path.exists(d.ct(4243))
    assert "nonroot-MARK" not in d.log()[len(log0):]
    assert d.store_version() == v0


def test_nonroot_priv(probe):
    d, res, _, _ = probe
    for k in ("list-priv", "chdir-priv", "read-priv-file", "stat-priv-file"):
        assert res[k][0] == "EACCES", (k, res[k])
    assert read_bytes(d.p("priv/st-secret")) == b"s3cret\n"
