"""Every refusal reaches write(2): bash, echo, tee, Python and cp all see it.

bash (like most tools) never looks at what close(2) returns, so a config that breaks a
rule spanning several lines (a tag against its zone, a gateway against its subnet, a disk
against the storages) must be refused by the write(2) that completes it. Each refused
config below goes through five writers; each must report the failure, the errno must come
from write(2) itself, and nothing may be stored. Only what a later line can still supply
(a required key not written yet) waits for close(2).
"""
import errno
import os
import subprocess

import pytest

from pvefslib import read_bytes, try_write, write_ok

pytestmark = pytest.mark.budget(120)

EINVAL, ENOENT, EPERM = errno.EINVAL, errno.ENOENT, errno.EPERM


def _sdn(d):
    os.mkdir(d.p("sdn/zones/s1"))
    write_ok(d.p("sdn/zones/s1/config"), "type: simple\n")
    os.mkdir(d.p("sdn/zones/vl"))
    write_ok(d.p("sdn/zones/vl/config"), "type: vlan\nbridge: vmbr0\n")
    os.mkdir(d.p("sdn/vnets/v1"))
    write_ok(d.p("sdn/vnets/v1/config"), "zone: vl\ntag: 10\n")
    os.mkdir(d.p("sdn/vnets/v2"))
    os.mkdir(d.p("sdn/vnets/v1/subnets/10.50.0.0-24"))


def _guests(d):
    d.mkvm(100, "memory: 512\n")
    d.mkct(200)


def _ha(d):
    d.mkvm(100, "memory: 512\n")
    os.mkdir(d.p("ha/resources/vm:100"))
    os.mkdir(d.p("ha/groups/g1"))


def _none(d):
    pass


def _storage(d):
    os.mkdir(d.p("storage/st1"))


# (id, setup, path, content, errno, words of the message in cluster/errors)
CASES = [
    ("vnet-simple-zone-tag", _sdn, "sdn/vnets/v2/config", "zone: s1\ntag: 5\n", EINVAL,
     "takes no tag"),
    ("vnet-tag-then-zone", _sdn, "sdn/vnets/v2/config", "tag: 5\nzone: s1\n", EINVAL,
     "takes no tag"),
    ("vnet-unknown-zone", _sdn, "sdn/vnets/v2/config", "zone: nosuch\n", EINVAL,
     "does not exist"),
    ("vnet-shared-tag", _sdn, "sdn/vnets/v2/config", "zone: vl\ntag: 10\n", EINVAL,
     "share a tag"),
    ("vnet-type", _sdn, "sdn/vnets/v2/config", "type: zone\n", EINVAL, "type of a VNet"),
    ("subnet-gateway-outside", _sdn, "sdn/vnets/v1/subnets/10.50.0.0-24/config",
     "gateway: 10.51.0.1\nsnat: 1\n", EINVAL, "outside"),
    ("zone-option-of-other-type", _sdn, "sdn/zones/s1/config",
     "type: simple\npeers: 10.0.0.1\n", EINVAL, "is an option of"),
    ("zone-retyped-under-vnet", _sdn, "sdn/zones/vl/config", "type: simple\n", EINVAL,
     "takes no tag"),
    ("zone-section", _sdn, "sdn/zones/s1/config", "type: simple\n[x]\n", EINVAL,
     "no sections"),
    ("storage-foreign-option", _storage, "storage/st1/config",
     "type: dir\npath: /tmp/st1\npool: rbd\n", EINVAL, "does not apply"),
    ("storage-content", _storage, "storage/st1/config",
     "type: rbd\npool: rbd\ncontent: iso\n", EINVAL, "cannot hold content"),
    ("qemu-duplicate-key", _guests, "nodes/{node}/qemu/100/config",
     "memory: 512\ncores: 2\nmemory: 1024\n", EINVAL, "duplicate key"),
    ("qemu-disk-on-missing-storage", _guests, "nodes/{node}/qemu/100/config",
     "memory: 512\nscsi1: nosuch:4\n", ENOENT, "no storage named nosuch"),
    ("qemu-unknown-key", _guests, "nodes/{node}/qemu/100/config", "memory: 512\nfrob: 1\n",
     EINVAL, "unknown key"),
    ("lxc-template-on-old-volume", _guests, "nodes/{node}/lxc/200/config",
     "ostemplate: local:vztmpl/busybox.tar.gz\nrootfs: local:subvol-200-disk-0\n", EINVAL,
     "ostemplate"),
    ("lxc-disk-on-missing-storage", _guests, "nodes/{node}/lxc/200/config",
     "rootfs: nosuch:1\n", ENOENT, "no storage named nosuch"),
    ("ha-resource-unknown-group", _ha, "ha/resources/vm:100/config",
     "state: started\ngroup: nosuch\n", EINVAL, "does not exist"),
    ("ha-group-section", _ha, "ha/groups/g1/config", "nodes: n1\n[x]\n", EINVAL,
     "no sections"),
    ("iface-not-managed", _none, "nodes/{node}/network/lo/config", "type: bridge\n", EPERM,
     "not made by pvefs"),
]


def _bash(script, path, content):
    return subprocess.run(["bash", "-c", script], env=dict(os.environ, F=path, C=content),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


def w_printf(path, content, tmp):
    p = _bash('printf "%s" "$C" > "$F"', path, content)
    return p.returncode, p.stderr


def w_echo(path, content, tmp):
    assert content.endswith("\n")
    p = _bash('echo "$C" > "$F"', path, content[:-1])
    return p.returncode, p.stderr


def w_tee(path, content, tmp):
    p = _bash('set -o pipefail; printf "%s" "$C" | tee "$F" >/dev/null', path, content)
    return p.returncode, p.stderr


def w_python(path, content, tmp):
    try:
        with open(path, "w") as f:
            f.write(content)
    except OSError as e:
        return 1, "%s: %s" % (errno.errorcode.get(e.errno, e.errno), e.strerror)
    return 0, ""


def w_cp(path, content, tmp):
    src = os.path.join(tmp, "src.conf")
    with open(src, "w") as f:
        f.write(content)
    p = subprocess.run(["cp", src, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    return p.returncode, p.stderr


WRITERS = [w_printf, w_echo, w_tee, w_python, w_cp]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refused_at_write(pvefs, tmp_path, case):
    d = pvefs
    _, setup, rel, content, err, words = case
    setup(d)
    path = d.p(rel.format(node=d.node))
    before = read_bytes(path)
    # the errno comes from the write(2) that completes the document, not from close(2)
    r = try_write(path, [content])
    assert r["writes"] == [err], "%s: %s" % (rel, r)
    assert words in d.errors()[-1], d.errors()[-3:]
    assert read_bytes(path) == before
    for w in WRITERS:
        rc, msg = w(path, content, str(tmp_path))
        assert rc != 0, "%s: %s reported success for a refused config" % (rel, w.__name__)
        assert os.strerror(err) in msg or errno.errorcode[err] in msg, (w.__name__, msg)
        assert read_bytes(path) == before, "%s: %s stored a refused config" % (rel, w.__name__)


def test_refused_line_by_line(pvefs):
    """A contradiction completed by a later write(2) fails that write; the lines before it
    were accepted."""
    d = pvefs
    _sdn(d)
    r = try_write(d.p("sdn/vnets/v2/config"), ["zone: s1\n", "alias: x\n", "tag: 5\n"])
    assert r["writes"] == [0, 0, EINVAL], r
    assert "takes no tag" in d.errors()[-1]
    assert read_bytes(d.p("sdn/vnets/v2/config")) == b""


def test_missing_key_waits_for_close(pvefs):
    """What a later line can still supply is judged when the document is complete: the
    writes succeed, close(2) refuses, and nothing is stored."""
    d = pvefs
    _sdn(d)
    _storage(d)
    for rel, content, words in [("sdn/vnets/v2/config", "tag: 5\n", "needs zone"),
                                ("sdn/vnets/v2/config", "zone: vl\n", "needs a tag"),
                                ("storage/st1/config", "content: images\n", "type"),
                                ("sdn/zones/s1/config", "bridge: vmbr0\n", "needs type")]:
        before = read_bytes(d.p(rel))
        r = try_write(d.p(rel), [content])
        assert r["writes"] == [0] and r["close"] == EINVAL, (rel, content, r)
        assert words in d.errors()[-1], d.errors()[-3:]
        assert read_bytes(d.p(rel)) == before
    # and a document completed in a later write is stored
    r = try_write(d.p("sdn/vnets/v2/config"), ["tag: 11\n", "zone: vl\n"])
    assert r["writes"] == [0, 0] and r["close"] == 0, r
    # a zone's type decides what its VNets may be: lines before it are not judged yet
    r = try_write(d.p("sdn/zones/vl/config"), ["# the VLAN zone\n", "bridge: vmbr1\n", "type: vlan\n"])
    assert r["writes"] == [0, 0, 0] and r["close"] == 0, r
