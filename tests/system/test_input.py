"""Hostile input to every writable file: garbage, oversized, binary and truncated writes.

Each case must be refused with the right errno, the daemon must stay up, and nothing stored
may change (file contents, cluster/log, pvefs_store_version).
"""
import errno
import os

import pytest

from pvefslib import LXC_CANON, NODE, QEMU_CANON, ename, read_bytes, try_write

EINVAL, EFBIG, ENOTSUP = errno.EINVAL, errno.EFBIG, errno.ENOTSUP
MIB = 1 << 20

# (name, chunks). Each chunk is one write(2).
CONFIG_CASES = [
    ("garbage", [b"hello world, this is not a config\n"]),
    ("garbage-after-good-lines", [b"name: ok\ncores: 2\n", b"%%%% ::: ???\n"]),
    ("unknown-key", [b"name: ok\nfrobnicate: 1\n"]),
    ("bad-number", [b"memory: lots\n"]),
    ("key-without-value", [b"memory\n"]),
    ("nul-in-value", [b"memory: 10\x0024\n"]),
    ("nul-in-comment", [b"#abc\x00def\n"]),
    ("invalid-utf8-in-value", [b"name: vm\xff\xfe\n"]),
    ("invalid-utf8-in-comment", [b"#caf\xe9 cr\xe8me\n"]),
    ("binary-blob", [bytes(range(256)) * 8]),
    ("oversized-valid-lines", [(b"#" + b"x" * 1022 + b"\n") * 1100]),
    ("oversized-one-line", [b"#" + b"y" * (MIB + 10)]),
    ("oversized-many-writes", [b"#" + b"z" * 4094 + b"\n"] * 300),
    ("truncated-half-line", [b"name: ok\nmemo"]),
    ("truncated-key-no-colon", [b"cores: 2\nostyp"]),
]
QEMU_ONLY = [
    ("truncated-property-newline", [b"net0: virtio=A2:C0:43:77:0\n"]),
    ("truncated-property-no-newline", [b"cores: 2\nnet0: virtio=A2:C0:43:77:0"]),
    ("truncated-property-key", [b"scsi0: local:100/vm-100-disk-0.qcow2,discard=on,si\n"]),
    ("truncated-property-value", [b"net0: virtio=A2:C0:43:77:08:A0,bridge=\n"]),
    ("lxc-key-in-qemu", [b"hostname: foo\n"]),
]
LXC_ONLY = [
    ("truncated-property-newline", [b"net0: name=eth0,bridge=vmbr0,hwaddr=12:34:5\n"]),
    ("truncated-property-no-newline", [b"cores: 1\nrootfs: local:200/vm-200-disk-0.raw,si"]),
    ("qemu-key-in-lxc", [b"bootdisk: scsi0\n"]),
]
CTL_CASES = [
    ("garbage", [b"hello world\n"], {EINVAL}),
    ("empty-line", [b"\n"], {EINVAL}),
    ("nul-bytes", [b"ping\x00\x00\n"], {EINVAL}),
    ("binary-blob", [bytes(range(256))], {EINVAL}),
    ("oversized", [b"x" * (MIB + 10)], {EINVAL, EFBIG}),
    ("truncated-command", [b"pin"], {EINVAL}),
]
NODE_CTL_EXTRA = [
    ("log-with-nul", [b"log hello\x00world-MARK\n"], {EINVAL}),
    ("log-invalid-utf8", [b"log caf\xe9-MARK\n"], {EINVAL}),
    ("log-oversized", [b"log " + b"MARK" * (MIB // 4) + b"\n"], {EINVAL, EFBIG}),
]


def _expected_config_errno(name):
    return EFBIG if name.startswith("oversized") else EINVAL


@pytest.fixture(scope="module")
def world(_pvefs_module):
    """One daemon with VM 100 and CT 200 for the whole module (inputs never change anything)."""
    d = _pvefs_module.d
    if not d.alive():
        d.cleanup()
        d.start()
    if not os.path.exists(d.vm(100)):
        d.mkvm(100, QEMU_CANON)
        d.mkct(200, LXC_CANON)
    return d


def _snapshot(d):
    return {
        "vm-config": read_bytes(d.vm(100, "config")),
        "ct-config": read_bytes(d.ct(200, "config")),
        "vm-state": read_bytes(d.vm(100, "state")),
        "ct-state": read_bytes(d.ct(200, "state")),
        "vms": sorted(os.listdir(d.vm(100))),
        "version": d.store_version(),
    }


def _check(d, target, chunks, allowed):
    before = _snapshot(d)
    log_before = d.log()
    r = try_write(target, chunks)
    errs = [e for e in [r["open"]] + r["writes"] + [r["close"]] if e]
    assert errs, "write to %s was accepted: %s" % (target, r)
    assert r["open"] == 0, "open failed with %s" % ename(r["open"])
    assert set(errs) <= allowed and errs[0] in allowed, \
        "%s: got %s, expected one of %s" % (target, [ename(e) for e in errs], [ename(e) for e in allowed])
    assert d.alive(), "pvefsd died:\n" + d.log_tail()
    after = _snapshot(d)
    assert after == before, "stored state changed by a refused write"
    new_log = d.log()[len(log_before):]
    assert "MARK" not in new_log, "refused input reached cluster/log: %r" % new_log[:200]


@pytest.mark.parametrize("name,chunks", CONFIG_CASES + QEMU_ONLY, ids=[c[0] for c in CONFIG_CASES + QEMU_ONLY])
def test_vm_config(world, name, chunks):
    _check(world, world.vm(100, "config"), chunks, {_expected_config_errno(name)})


@pytest.mark.parametrize("name,chunks", CONFIG_CASES + LXC_ONLY, ids=[c[0] for c in CONFIG_CASES + LXC_ONLY])
def test_ct_config(world, name, chunks):
    _check(world, world.ct(200, "config"), chunks, {_expected_config_errno(name)})


# The container's rootfs names a storage that does not exist: a valid start is refused
# (ENOENT, naming it) and nothing changes.
GUEST_CASES = CTL_CASES + [("valid-but-no-volume", [b"running\n"], {errno.ENOENT})]
# The VM's config names disks on a storage that does not exist: a valid start is refused
# by the QEMU driver (ENOENT, naming the volume) and nothing changes.
VM_CASES = CTL_CASES + [("valid-but-no-volume", [b"running\n"], {errno.ENOENT})]


@pytest.mark.parametrize("name,chunks,allowed", VM_CASES, ids=[c[0] for c in VM_CASES])
def test_vm_state(world, name, chunks, allowed):
    _check(world, world.vm(100, "state"), chunks, allowed)


GUEST_CTL_CASES = CTL_CASES + [("valid-but-no-volume", [b"start\n"], {errno.ENOENT}),
                               ("not-running", [b"suspend\n"], {EINVAL}),
                               ("snapshot-name-cut", [b"snapshot \n"], {EINVAL})]


@pytest.mark.parametrize("name,chunks,allowed", GUEST_CTL_CASES, ids=[c[0] for c in GUEST_CTL_CASES])
def test_vm_ctl(world, name, chunks, allowed):
    _check(world, world.vm(100, "ctl"), chunks, allowed)


@pytest.mark.parametrize("name,chunks,allowed", GUEST_CASES, ids=[c[0] for c in GUEST_CASES])
def test_ct_state(world, name, chunks, allowed):
    _check(world, world.ct(200, "state"), chunks, allowed)


NODE_CASES = CTL_CASES + NODE_CTL_EXTRA


@pytest.mark.parametrize("name,chunks,allowed", NODE_CASES, ids=[c[0] for c in NODE_CASES])
def test_node_ctl(world, name, chunks, allowed):
    _check(world, world.p("nodes/%s/ctl" % NODE), chunks, allowed)


def test_daemon_still_serves(world):
    d = world
    assert d.alive()
    assert read_bytes(d.vm(100, "config")) == QEMU_CANON.encode()
    assert read_bytes(d.ct(200, "config")) == LXC_CANON.encode()
    assert read_bytes(d.p("cluster/quorate")) == b"1\n"
