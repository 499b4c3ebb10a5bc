"""A real VM on a 3-node cluster: control writes made on other nodes are forwarded to the
VM's node and return its result; every node reads the VM's live state and status."""
import errno
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from clusterlib import wait_until
from pvefslib import read_text, try_write, write_ok

ROOT = Path(__file__).resolve().parents[2]
GUEST = ROOT / "build" / "guest"


def fields(text):
    return dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)


@pytest.mark.budget(240)
def test_vm_ctl_forwarded_and_state_everywhere(cluster3):
    p = subprocess.run(["bash", str(ROOT / "tests" / "qemu" / "build-guest.sh"), str(GUEST)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    c = cluster3
    n1, n2, n3 = c[1], c[2], c[3]
    vm = n1.p("nodes/n2/qemu/300")
    os.mkdir(vm)
    write_ok(vm / "config", "memory: 128\ncores: 1\nkvm: 0\nserial0: socket\n"
             "args: -kernel %s/vmlinux -initrd %s/initrd.gz -append \"console=ttyS0 panic=-1\"\n"
             % (GUEST, GUEST))
    # a command that n2 refuses comes back with n2's reason
    r = try_write(n1.p("nodes/n2/qemu/300/ctl"), "suspend\n")
    assert r["writes"] == [errno.EINVAL], r
    assert any("not running" in l for l in n1.read("cluster/errors").splitlines()), n1.read("cluster/errors")
    # start from n1: it runs on n2
    r = try_write(n1.p("nodes/n2/qemu/300/ctl"), "start\n")
    assert r["writes"] == [0], (r, n1.read("cluster/errors")[-500:])
    serial = n2.data / "serial" / "300.serial"
    wait_until(lambda: serial.exists() and "PVEFS-BOOT-OK" in serial.read_text(errors="replace"), 90,
               "the guest's boot marker on n2")
    for nd in c:
        wait_until(lambda nd=nd: read_text(nd.p("nodes/n2/qemu/300/state")) == "running\n", 10,
                   "%s to read the VM as running" % nd.name)
    st = fields(read_text(n3.p("nodes/n2/qemu/300/status")))
    assert st["state"] == "running" and int(st.get("pid", "0")) > 0, st
    assert os.path.exists("/proc/%s" % st["pid"])
    # stop through the desired state, written on n3
    r = try_write(n3.p("nodes/n2/qemu/300/state"), "stopped\n")
    assert r["writes"] == [0], r
    for nd in c:
        wait_until(lambda nd=nd: read_text(nd.p("nodes/n2/qemu/300/state")) == "stopped\n", 10,
                   "%s to read the VM as stopped" % nd.name)
    # a stopped VM moves by moving its config: mv to another node's qemu/ is the same as
    # "migrate <node>"; every node then shows it under n3, and n3 runs it
    os.rename(n1.p("nodes/n2/qemu/300"), n1.p("nodes/n3/qemu/300"))
    for nd in c:
        wait_until(lambda nd=nd: os.path.isdir(nd.p("nodes/n3/qemu/300")) and
                   not os.path.exists(nd.p("nodes/n2/qemu/300")), 10, "%s to show the VM on n3" % nd.name)
    assert os.readlink(n2.p("vms/300")) == "../nodes/n3/qemu/300"
    r = try_write(n3.p("nodes/n3/qemu/300/ctl"), "migrate n1\n")
    assert r["writes"] == [0], r
    assert os.path.isdir(n2.p("nodes/n1/qemu/300"))
    r = try_write(n2.p("nodes/n1/qemu/300/ctl"), "migrate n1\n")
    assert r["writes"] == [errno.EINVAL], r
    # a running VM cannot move live without a libvirtd on both sides, and says so
    assert try_write(n2.p("nodes/n1/qemu/300/ctl"), "start\n")["writes"] == [0]
    r = try_write(n2.p("nodes/n1/qemu/300/ctl"), "migrate n2\n")
    assert r["writes"] == [errno.EOPNOTSUPP], r
    assert os.path.isdir(n3.p("nodes/n1/qemu/300"))
    assert try_write(n2.p("nodes/n1/qemu/300/ctl"), "stop\n")["writes"] == [0]


@pytest.mark.budget(400)
def test_vm_live_migration(cluster3):
    """n1 and n2 each run their own libvirtd (own namespaces); a running VM moves n1 -> n2
    live (its ticks go on, no second boot) and back by mv; every node follows."""
    from libvirtlib import start_libvirtds
    p = subprocess.run(["bash", str(ROOT / "tests" / "qemu" / "build-guest.sh"), str(GUEST)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    c = cluster3
    n1, n2, n3 = c[1], c[2], c[3]
    lvs = start_libvirtds([n1, n2])
    try:
        for nd, lv in zip((n1, n2), lvs):
            nd.stop()
            nd.extra_args = ["--libvirt", lv.uri]
            nd.start()
        wait_until(lambda: all("libvirt: qemu+tcp://" in read_text(nd.p("nodes/%s/status" % x.name))
                               for nd in c for x in (n1, n2)), 15, "every node to see n1's and n2's libvirt")
        vm = n3.p("nodes/n1/qemu/302")
        os.mkdir(vm)
        write_ok(vm / "config", "memory: 128\ncores: 1\nkvm: 0\nserial0: socket\n"
                 "args: -kernel %s/vmlinux -initrd %s/initrd.gz -append \"console=ttyS0 panic=-1\"\n"
                 % (GUEST, GUEST))
        assert try_write(n3.p("nodes/n1/qemu/302/ctl"), "start\n")["writes"] == [0]
        serial = n1.data / "serial" / "302.serial"

        def ticks():
            m = re.findall(r"PVEFS-TICK (\d+)", serial.read_text(errors="replace")) if serial.exists() else []
            return int(m[-1]) if m else -1
        wait_until(lambda: ticks() >= 2, 90, "the guest to boot and tick on n1")
        # live, asked on n3, run by n1
        t = time.monotonic()
        r = try_write(n3.p("nodes/n1/qemu/302/ctl"), "migrate n2\n")
        took = time.monotonic() - t
        assert r["writes"] == [0], (r, n3.read("cluster/errors")[-800:])
        for nd in c:
            wait_until(lambda nd=nd: os.path.isdir(nd.p("nodes/n2/qemu/302")) and
                       read_text(nd.p("nodes/n2/qemu/302/state")) == "running\n", 15,
                       "%s to show the VM running on n2" % nd.name)
        t0 = ticks()
        wait_until(lambda: ticks() >= t0 + 2, 30, "ticks to go on after the migration")
        assert serial.read_text(errors="replace").count("PVEFS-BOOT-OK") == 1, "the guest booted again"
        st = fields(read_text(n1.p("nodes/n2/qemu/302/status")))
        assert st["state"] == "running" and int(st["pid"]) > 0, st
        assert any("live migration of 302" in l for l in n1.read("cluster/log").splitlines())
        print("live migration n1 -> n2 took %.2f s (write to return)" % took)
        # and back, by mv on n2's view
        os.rename(n2.p("nodes/n2/qemu/302"), n2.p("nodes/n1/qemu/302"))
        for nd in c:
            wait_until(lambda nd=nd: os.path.isdir(nd.p("nodes/n1/qemu/302")) and
                       read_text(nd.p("nodes/n1/qemu/302/state")) == "running\n", 15,
                       "%s to show the VM back on n1" % nd.name)
        t0 = ticks()
        wait_until(lambda: ticks() >= t0 + 2, 30, "ticks after the way back")
        assert try_write(n2.p("nodes/n1/qemu/302/ctl"), "stop\n")["writes"] == [0]
    finally:
        for lv in lvs:
            lv.stop()
