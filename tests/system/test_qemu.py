"""Real VMs through /pve: QEMU (TCG) under libvirt's embedded driver, a tiny guest built by
tests/qemu/build-guest.sh (a Debian kernel and a busybox initramfs that prints markers on
its serial console and powers off on the ACPI button). Kept serial and few: 2 cores."""
import errno
import os
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from pvefslib import NODE, kill_guest_pid, read_text, try_write, write_ok, wait_for, fields

ROOT = Path(__file__).resolve().parents[2]
GUEST = ROOT / "build" / "guest"
BOOT = 90  # s: TCG boots take 3-5 s on a quiet box, far longer when it is busy


@pytest.fixture(scope="session")
def guest():
    p = subprocess.run(["bash", str(ROOT / "tests" / "qemu" / "build-guest.sh"), str(GUEST)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, "build-guest.sh failed:\n" + p.stdout[-2000:] + p.stderr[-3000:]
    return GUEST


def ctl(path, cmd):
    return try_write(path, cmd + "\n")["writes"]


def vm_config(guest, extra=""):
    return ("memory: 128\ncores: 1\nkvm: 0\nostype: l26\nserial0: socket\n"
            "args: -kernel %s/vmlinux -initrd %s/initrd.gz -append \"console=ttyS0 panic=-1\"\n%s"
            % (guest, guest, extra))


class Vm:
    def __init__(self, d, vmid):
        self.d, self.vmid = d, vmid
        self.dir = d.vm(vmid)
        self.serial = d.data / "serial" / ("%s.serial" % vmid)

    def state(self):
        return read_text(self.dir / "state").strip()

    def status(self):
        return fields(read_text(self.dir / "status"))

    def log(self):
        try:
            return self.serial.read_text(errors="replace")
        except OSError:
            return ""

    def count(self, marker):
        return self.log().count(marker)

    def ticks(self):
        m = re.findall(r"PVEFS-TICK (\d+)", self.log())
        return int(m[-1]) if m else -1

    def ctl(self, cmd):
        return ctl(self.dir / "ctl", cmd)

    def wait_boot(self, n=1):
        wait_for(lambda: self.count("PVEFS-BOOT-OK") >= n, BOOT, "boot marker #%d of vm %s" % (n, self.vmid))


def make_vm(d, guest, vmid, extra=""):
    d.mkvm(vmid, vm_config(guest, extra))
    return Vm(d, vmid)


@pytest.mark.budget(400)
def test_vm_lifecycle(pvefs, guest):
    d = pvefs
    root = d.base / "store"
    root.mkdir()
    os.mkdir(d.p("storage/local1"))
    write_ok(d.p("storage/local1/config"), "type: dir\npath: %s\ncontent: images\n" % root)
    assert ctl(d.p("storage/local1/ctl"), "alloc vm-100-disk-0 64M") == [0]
    vm = make_vm(d, guest, 100, "scsi0: local1:vm-100-disk-0,size=64M\n")
    assert vm.state() == "stopped"
    assert read_text(d.p("storage/local1/volumes/vm-100-disk-0/used_by")) == "qemu/100\n"

    # start: returns when libvirt reports it running; the guest then boots
    assert vm.ctl("start") == [0], d.errors()[-3:]
    assert vm.state() == "running"
    # the pid comes with the state, not with the first (slow, on a booting guest) stats sample
    assert int(vm.status().get("pid", "0")) > 0, vm.status()
    vm.wait_boot()
    st = vm.status()
    assert st["state"] == "running" and int(st["pid"]) > 0, st
    assert os.path.exists("/proc/%s" % st["pid"])
    assert int(st["maxmem"]) == 128 << 20
    cpu_seen = wait_for(lambda: float(vm.status().get("cpu", "0")) > 0 and vm.status(), 15, "cpu figure")
    assert float(cpu_seen["cpu"]) > 0

    # suspend: a poller of state wakes; the guest's ticks stop; resume: they go on
    fd = os.open(vm.dir / "state", os.O_RDONLY)
    try:
        assert os.read(fd, 64) == b"running\n"
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLPRI)
        assert p.poll(300) == [], "poll() on an unchanged state woke"
        assert vm.ctl("suspend") == [0]
        assert p.poll(5000), "poll() on state did not wake when the VM paused"
    finally:
        os.close(fd)
    assert vm.state() == "paused"
    t0 = vm.ticks()
    time.sleep(2.5)
    assert vm.ticks() == t0, "ticks moved while paused"
    assert ctl(vm.dir / "state", "running") == [0]
    assert vm.state() == "running"
    wait_for(lambda: vm.ticks() > t0, 20, "ticks after resume")

    # reset: the guest boots again
    assert vm.ctl("reset") == [0]
    vm.wait_boot(2)

    # ACPI shutdown: the guest sees the power button and powers off
    assert vm.ctl("shutdown 60") == [0]
    assert vm.state() == "stopped"
    assert "PVEFS-POWERDOWN" in vm.log()

    # hard stop of a running guest
    assert ctl(vm.dir / "state", "running") == [0]
    vm.wait_boot(3)
    assert vm.ctl("stop") == [0]
    assert vm.state() == "stopped"
    assert re.search(r"vm 100 .*stopped", d.log()), d.log()[-2000:]


@pytest.mark.budget(300)
def test_vm_killed_outside_shows_stopped(pvefs, guest):
    d = pvefs
    vm = make_vm(d, guest, 101)
    assert vm.ctl("start") == [0]
    vm.wait_boot()
    pid = int(vm.status().get("pid", "0"))
    kill_guest_pid(pid)
    wait_for(lambda: vm.state() == "stopped", 15, "state stopped after kill -9")
    assert vm.status()["state"] == "stopped"
    wait_for(lambda: re.search(r"vm 101 on %s is stopped" % NODE, d.log()), 10, "a log line")


@pytest.mark.budget(300)
def test_vm_snapshot_with_ram_and_rollback(pvefs, guest):
    d = pvefs
    root = d.base / "store"
    root.mkdir()
    os.mkdir(d.p("storage/local1"))
    write_ok(d.p("storage/local1/config"), "type: dir\npath: %s\ncontent: images\n" % root)
    assert ctl(d.p("storage/local1/ctl"), "alloc vm-102-disk-0 16M") == [0]
    img = root / "images" / "102" / "vm-102-disk-0.qcow2"
    vm = make_vm(d, guest, 102, "scsi0: local1:vm-102-disk-0\n")
    assert vm.ctl("start") == [0]
    vm.wait_boot()
    assert vm.ctl("snapshot before") == [0]
    # snapshots/<name>/status: when, the parent, and whether it holds RAM
    snap = fields(read_text(vm.dir / "snapshots" / "before" / "status"))
    assert snap["ram"] == "1" and abs(int(snap["snaptime"]) - time.time()) < 120, snap
    out = subprocess.run(["qemu-img", "snapshot", "-l", "-U", str(img)], capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if " before " in l]
    assert line and not re.search(r"\s0 B\s", line[0]), "no RAM in the snapshot:\n" + out
    assert vm.state() == "running"
    # change the disk (hard stop, then write with qemu-io), roll back: the change is gone
    assert vm.ctl("stop") == [0]
    p = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x77 0 64k", str(img)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert vm.ctl("rollback before") == [0]
    # a snapshot with RAM resumes running
    wait_for(lambda: vm.state() == "running", 30, "running after a rollback to a RAM snapshot")
    assert vm.ctl("stop") == [0]
    p = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0x77 0 64k", str(img)],
                       capture_output=True, text=True)
    assert "Pattern verification failed" in p.stdout + p.stderr, p.stdout + p.stderr
    # mkdir/rmdir under snapshots/ do the same as the ctl verbs
    os.mkdir(vm.dir / "snapshots" / "second")
    snap = fields(read_text(vm.dir / "snapshots" / "second" / "status"))
    assert snap["parent"] == "before" and snap["ram"] == "0", snap
    assert sorted(os.listdir(vm.dir / "snapshots")) == ["before", "second"]
    os.rmdir(vm.dir / "snapshots" / "second")
    assert vm.ctl("delsnapshot before") == [0]
    assert os.listdir(vm.dir / "snapshots") == []
    out = subprocess.run(["qemu-img", "snapshot", "-l", "-U", str(img)], capture_output=True, text=True).stdout
    assert " before " not in out and " second " not in out


@pytest.mark.budget(300)
def test_vm_disk_resize_running_and_stopped(pvefs, guest):
    d = pvefs
    root = d.base / "store"
    root.mkdir()
    os.mkdir(d.p("storage/local1"))
    write_ok(d.p("storage/local1/config"), "type: dir\npath: %s\ncontent: images\n" % root)
    assert ctl(d.p("storage/local1/ctl"), "alloc vm-104-disk-0 16M") == [0]
    img = root / "images" / "104" / "vm-104-disk-0.qcow2"
    vol = d.p("storage/local1/volumes/vm-104-disk-0")
    vm = make_vm(d, guest, 104, "virtio0: local1:vm-104-disk-0\n")
    assert vm.ctl("resize virtio0 +16M") == [0]  # stopped: qemu-img
    assert read_text(vol / "size") == "%d\n" % (32 << 20)
    assert vm.ctl("start") == [0]
    vm.wait_boot()
    assert vm.ctl("resize virtio0 48M") == [0]  # running: through libvirt, QEMU holds the image
    assert read_text(vol / "size") == "%d\n" % (48 << 20)
    out = subprocess.run(["qemu-img", "info", "-U", str(img)], capture_output=True, text=True).stdout
    assert "48 MiB" in out, out
    assert vm.ctl("resize virtio0 8M") == [errno.EINVAL]
    assert vm.ctl("resize scsi7 +1M") == [errno.EINVAL]
    assert vm.ctl("stop") == [0]


def test_vm_bad_input(pvefs, guest):
    d = pvefs
    vm = make_vm(d, guest, 103)
    cfg = read_text(vm.dir / "config")
    before = d.store_version()
    for cmd, err in (("start now", errno.EINVAL), ("shutdown abc", errno.EINVAL), ("shutdown -5", errno.EINVAL),
                     ("fly", errno.EINVAL), ("snapshot 1x", errno.EINVAL), ("migrate nowhere", errno.EINVAL),
                     ("suspend", errno.EINVAL), ("resume", errno.EINVAL), ("rollback nosuch", errno.ENOENT)):
        r = vm.ctl(cmd)
        assert r == [err], (cmd, r, d.errors()[-1:])
    assert ctl(vm.dir / "state", "flying") == [errno.EINVAL]
    r = try_write(vm.dir / "config", "memory: lots\n")
    assert errno.EINVAL in r["writes"], r
    assert read_text(vm.dir / "config") == cfg
    assert vm.state() == "stopped"
    assert d.store_version() == before
    # a config naming a volume that does not exist cannot start, and says why
    write_ok(vm.dir / "config", vm_config(guest, "scsi0: nosuch:vm-103-disk-0\n"))
    assert vm.ctl("start") == [errno.ENOENT]
    assert "nosuch" in d.errors()[-1]
    assert vm.state() == "stopped"


@pytest.mark.budget(300)
def test_vm_hotplug_allocate_and_pending(pvefs, guest):
    d = pvefs
    root = d.base / "store"
    root.mkdir()
    os.mkdir(d.p("storage/local1"))
    write_ok(d.p("storage/local1/config"), "type: dir\npath: %s\ncontent: images\n" % root)
    vm = make_vm(d, guest, 105)
    assert vm.ctl("start") == [0]
    vm.wait_boot()
    assert read_text(vm.dir / "pending") == ""
    # "storage:GiB" on a disk line allocates a volume and names it; the running guest gets it
    write_ok(vm.dir / "config", vm_config(guest, "virtio1: local1:1\n"))
    cfg = read_text(vm.dir / "config")
    assert "virtio1: local1:vm-105-disk-0,size=1024M\n" in cfg, cfg
    assert (root / "images" / "105" / "vm-105-disk-0.qcow2").is_file()
    assert read_text(d.p("storage/local1/volumes/vm-105-disk-0/used_by")) == "qemu/105\n"
    wait_for(lambda: "PVEFS-DISK vda" in vm.log(), 30, "the guest to see the hot-plugged disk")
    assert read_text(vm.dir / "pending") == ""
    # what cannot change live waits for the next start, shown in pending
    write_ok(vm.dir / "config", vm_config(guest, "virtio1: local1:vm-105-disk-0,size=1024M\n")
             .replace("memory: 128", "memory: 192"))
    assert read_text(vm.dir / "pending") == "memory: 192\n"
    assert vm.ctl("stop") == [0]
    assert read_text(vm.dir / "pending") == ""
    assert vm.ctl("start") == [0]
    assert int(vm.status()["maxmem"]) == 192 << 20
    assert read_text(vm.dir / "pending") == ""
    assert vm.ctl("stop") == [0]


@pytest.mark.budget(300)
def test_vm_clone_and_template(pvefs, guest):
    d = pvefs
    root = d.base / "store"
    root.mkdir()
    os.mkdir(d.p("storage/local1"))
    write_ok(d.p("storage/local1/config"), "type: dir\npath: %s\ncontent: images\n" % root)
    vols = d.p("storage/local1/volumes")
    assert ctl(d.p("storage/local1/ctl"), "alloc vm-120-disk-0 16M") == [0]
    img = root / "images" / "120" / "vm-120-disk-0.qcow2"
    p = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64k", str(img)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    uuid = "0b0b0b0b-1111-4222-8333-444444444444"
    src = make_vm(d, guest, 120, "name: web\nsmbios1: uuid=%s\nscsi0: local1:vm-120-disk-0,size=16M\n"
                  "ide2: none,media=cdrom\n" % uuid)

    # a full clone: its own volume with the source's data, its own name and uuid
    assert src.ctl("clone 121 full") == [0], d.errors()[-3:]
    cl = Vm(d, 121)
    cfg = fields(read_text(cl.dir / "config"))
    assert cfg["scsi0"] == "local1:vm-121-disk-0,size=16M", cfg
    assert cfg["ide2"] == "none,media=cdrom", cfg
    assert cfg["name"] == "web-clone", cfg
    assert cfg["smbios1"].startswith("uuid=") and uuid not in cfg["smbios1"], cfg
    assert read_text(vols / "vm-121-disk-0" / "used_by") == "qemu/121\n"
    img2 = root / "images" / "121" / "vm-121-disk-0.qcow2"
    p = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 64k", str(img2)],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "verification failed" not in p.stdout + p.stderr, p.stdout + p.stderr
    assert "uuid=%s" % uuid in read_text(src.dir / "config")  # the source is unchanged

    # the clone runs; a running VM is not cloned (its disks would change mid-copy)
    assert cl.ctl("start") == [0]
    cl.wait_boot()
    assert cl.ctl("clone 123 full") == [errno.EBUSY]
    assert cl.ctl("stop") == [0]

    # taken ids and bad arguments are refused, and leave nothing behind
    assert src.ctl("clone 121") == [errno.EEXIST]
    assert src.ctl("clone 120") == [errno.EEXIST]
    assert src.ctl("clone 122 fast") == [errno.EINVAL]
    assert src.ctl("clone 12") == [errno.EINVAL]
    # readdir, not a lookup: a standalone node caches a missed name for a second
    assert sorted(os.listdir(d.vm(120).parent)) == ["120", "121"]

    # a template never runs; its clones do (on dir storage a clone is a full copy)
    assert src.ctl("template") == [0]
    assert "template: 1\n" in read_text(src.dir / "config")
    assert src.ctl("template") == [0]
    assert src.ctl("start") == [errno.EINVAL]
    assert ctl(src.dir / "state", "running") == [errno.EINVAL]
    assert "is a template" in d.errors()[-1], d.errors()[-3:]
    assert src.state() == "stopped"
    assert src.ctl("clone 122") == [0], d.errors()[-3:]
    cfg = fields(read_text(d.vm(122, "config")))
    assert "template" not in cfg and cfg["scsi0"] == "local1:vm-122-disk-0,size=16M", cfg
    p = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 64k",
                        str(root / "images" / "122" / "vm-122-disk-0.qcow2")], capture_output=True, text=True)
    assert p.returncode == 0 and "verification failed" not in p.stdout + p.stderr, p.stdout + p.stderr

    # a failed clone undoes what it made: the first disk's copy and the new VM
    assert ctl(d.p("storage/local1/ctl"), "alloc subvol-124-disk-1") == [0]
    d.mkvm(124, vm_config(guest, "scsi0: local1:vm-120-disk-0\nscsi1: local1:subvol-124-disk-1\n"))
    # (a VM's volumes are images: a subvol is not copied into one)
    assert ctl(d.vm(124, "ctl"), "clone 125 full") == [errno.EINVAL], d.errors()[-3:]
    assert "125" not in os.listdir(d.vm(124).parent)
    assert not [v for v in os.listdir(vols) if v.startswith("vm-125-")]
    assert not (root / "images" / "125").exists() or os.listdir(root / "images" / "125") == []
