"""Real LXC containers through /pve: a busybox template made by tools/pvefs-mktemplate,
a rootfs unpacked into a subvol of dir storage, lifecycle through ctl and state, live
figures from cgroups, snapshots, rollback and clones, and bad input refused cleanly.

The daemon runs in a network namespace of its own (the containers' bridge lives there),
and each container's cgroups under a subtree of the test's, removed by PID afterwards."""
import errno
import os
import re
import select
import subprocess
import time

import pytest

from pvefslib import (NODE, kill_guest_pid, Pvefs, make_base, read_text, remove_base, run, try_write,
                      write_errno, write_ok, wait_for, fields, have_lxc)



pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not have_lxc(),
                                reason="needs root and liblxc (apt install lxc)")


@pytest.fixture
def ctnode(request, template):
    """pvefsd in its own netns with bridge vmbr0 (10.77.0.1/24) and a dir storage 'local'
    holding the busybox template."""
    ns = "pvlx-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
    assert run(["ip", "netns", "add", ns]).returncode == 0
    base = make_base("pvefs-lxc-")
    d = Pvefs(base, netns=ns)
    d.ns = ns
    try:
        for cmd in (["link", "set", "lo", "up"], ["link", "add", "vmbr0", "type", "bridge"],
                    ["addr", "add", "10.77.0.1/24", "dev", "vmbr0"], ["link", "set", "vmbr0", "up"]):
            assert run(["ip", "-n", ns] + cmd).returncode == 0
        store = base / "store"
        (store / "template" / "cache").mkdir(parents=True)
        assert run(["cp", str(template), str(store / "template" / "cache")]).returncode == 0
        d.store = store
        d.start()
        os.mkdir(d.p("storage/local"))
        write_ok(d.p("storage/local/config"),
                 "type: dir\npath: %s\ncontent: images,rootdir,vztmpl\nshared: 1\n" % store)
        yield d
    finally:
        rep = getattr(request.node, "rep_call", None)
        d.cleanup()
        if rep is None or rep.failed:
            print("---- pvefsd output ----\n" + d.log_tail(60))
        run(["ip", "netns", "del", ns])
        remove_base(base)


def ctl(path, cmd):
    return try_write(path, cmd + "\n")["writes"]


class Ct:
    def __init__(self, d, ctid):
        self.d, self.id = d, str(ctid)
        self.dir = d.ct(ctid)

    def state(self):
        return read_text(self.dir / "state").strip()

    def status(self):
        return fields(read_text(self.dir / "status"))

    def ctl(self, cmd):
        return ctl(self.dir / "ctl", cmd)

    def attach(self, cmd, timeout=30):
        """Runs cmd in the container with lxc-attach, from the node's network namespace."""
        p = run(["nsenter", "--net=/run/netns/" + self.d.ns, "--", "lxc-attach", "-P",
                 str(self.d.data / "lxc"), "-n", self.id, "--", "/bin/sh", "-c", cmd],
                timeout=timeout)
        return p.returncode, p.stdout

    def rootfs(self):
        return self.d.store / "images" / self.id / ("subvol-%s-disk-0" % self.id)


def make_ct(d, ctid, ip, extra=""):
    os.mkdir(d.ct(ctid))
    write_ok(d.ct(ctid, "config"),
             "arch: amd64\nhostname: box%s\nmemory: 256\nswap: 0\nostype: unmanaged\n"
             "rootfs: local:1\nostemplate: local:vztmpl/busybox.tar.gz\n"
             "net0: name=eth0,bridge=vmbr0,ip=%s/24,gw=10.77.0.1\n%s" % (ctid, ip, extra))
    return Ct(d, ctid)


def bridge_ports(d, br):
    p = run(["ip", "-n", d.ns, "-o", "link", "show", "master", br])
    return re.findall(r"^\d+: ([^:@]+)", p.stdout, re.M)


def ping(d, ip):
    return run(["ip", "netns", "exec", d.ns, "busybox", "ping", "-c1", "-W2", ip]).returncode == 0


@pytest.mark.budget(120)
def test_ct_lifecycle(ctnode):
    d = ctnode
    ct = make_ct(d, 300, "10.77.0.2")
    cfg = read_text(ct.dir / "config")
    # the template was unpacked into a new subvol; ostemplate is not kept
    assert "rootfs: local:subvol-300-disk-0,size=1024M\n" in cfg, cfg
    assert "ostemplate" not in cfg
    assert (ct.rootfs() / "bin" / "busybox").exists()
    assert read_text(d.p("storage/local/volumes/subvol-300-disk-0/used_by")) == "lxc/300\n"
    assert ct.state() == "stopped"

    t0 = time.monotonic()
    assert ct.ctl("start") == [0], d.errors()[-3:]
    assert ct.state() == "running", "start returned before the container ran"
    print("start took %.0f ms" % ((time.monotonic() - t0) * 1000))
    st = wait_for(lambda: "pid" in ct.status() and ct.status(), 5, "status with a pid")
    pid = int(st["pid"])
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        assert f.read().split(b"\0")[0] in (b"/sbin/init", b"init"), "pid is not the container's init"
    assert ("veth300i0") in bridge_ports(d, "vmbr0")
    wait_for(lambda: "10.77.0.2" in ct.status().get("ips", ""), 5, "the container's address")
    assert ping(d, "10.77.0.2"), "the container does not answer on vmbr0"
    rc, out = ct.attach("hostname; cat /etc/hostname")
    assert rc == 0 and out.split() == ["box300", "box300"], out
    # the node's view: the guest line of the status channel and the node's status
    assert int(st["maxmem"]) == 256 << 20 and st["driver"] == "lxc"

    # cpu and mem follow a process that burns CPU and fills a tmpfs
    rc, _ = ct.attach("setsid sh -c 'while :; do :; done' >/dev/null 2>&1 </dev/null &")
    assert rc == 0
    wait_for(lambda: float(ct.status().get("cpu", 0)) > 0.5, 10, "cpu figure above 0.5")
    mem0 = int(ct.status()["mem"])
    rc, out = ct.attach("dd if=/dev/zero of=/run/fill bs=1M count=48 2>&1")
    assert rc == 0, out
    wait_for(lambda: int(ct.status()["mem"]) > mem0 + (40 << 20), 10, "mem figure +40 MiB")

    # freeze: a poller of state wakes, and the cpu figure stops moving
    fd = os.open(ct.dir / "state", os.O_RDONLY)
    try:
        assert os.read(fd, 64) == b"running\n"
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLPRI)
        assert p.poll(300) == [], "poll() on an unchanged state woke"
        assert ct.ctl("suspend") == [0]
        assert p.poll(5000), "poll() on state did not wake when the container froze"
    finally:
        os.close(fd)
    assert ct.state() == "paused"
    time.sleep(2.2)
    assert float(ct.status()["cpu"]) < 0.05, ct.status()
    assert try_write(ct.dir / "state", "running")["writes"] == [0]
    assert ct.state() == "running"
    wait_for(lambda: float(ct.status().get("cpu", 0)) > 0.5, 10, "cpu figure after thaw")

    # clean shutdown: busybox init powers off on SIGUSR2
    assert ct.ctl("shutdown 30") == [0], d.errors()[-3:]
    assert ct.state() == "stopped"
    assert "pid" not in ct.status()
    # hard stop
    assert try_write(ct.dir / "state", "running")["writes"] == [0]
    t0 = time.monotonic()
    assert ct.ctl("stop") == [0]
    assert ct.state() == "stopped"
    assert time.monotonic() - t0 < 5
    # reboot: a new init
    assert ct.ctl("start") == [0]
    pid1 = int(wait_for(lambda: ct.status().get("pid"), 5, "pid"))
    assert ct.ctl("reboot") == [0], d.errors()[-3:]
    wait_for(lambda: ct.status().get("pid") not in (None, str(pid1)) and ct.state() == "running",
             15, "a new init after reboot")


@pytest.mark.budget(60)
def test_ct_init_killed_shows_stopped(ctnode):
    d = ctnode
    ct = make_ct(d, 301, "10.77.0.3")
    assert ct.ctl("start") == [0]
    pid = int(wait_for(lambda: ct.status().get("pid"), 5, "pid"))
    kill_guest_pid(pid)
    wait_for(lambda: ct.state() == "stopped", 10, "stopped after its init was killed")
    wait_for(lambda: re.search(r"ct 301 on %s is stopped \(its init exited\)" % NODE, d.log()), 10,
             "a log line")
    # and it starts again
    assert ct.ctl("start") == [0]
    assert ct.state() == "running"


@pytest.mark.budget(120)
def test_ct_snapshot_rollback_clone(ctnode):
    d = ctnode
    ct = make_ct(d, 302, "10.77.0.4")
    assert ct.ctl("start") == [0]
    rc, _ = ct.attach("echo before > /root/note")
    assert rc == 0
    # a running container is frozen while it is copied, then goes on
    os.mkdir(ct.dir / "snapshots" / "s1")
    assert ct.state() == "running"
    assert os.listdir(ct.dir / "snapshots") == ["s1"]
    cfg = read_text(ct.dir / "config")
    assert "parent: s1\n" in cfg and "\n[s1]\n" in cfg and "snaptime: " in cfg, cfg
    assert os.listdir(d.p("storage/local/volumes/subvol-302-disk-0/snapshots")) == ["s1"]

    rc, _ = ct.attach("echo after > /root/note; echo new > /root/extra")
    assert rc == 0
    # rollback needs a stopped container
    r = try_write(ct.dir / "ctl", "rollback s1\n")
    assert r["writes"] == [errno.EBUSY], r
    assert ct.ctl("stop") == [0]
    assert ct.ctl("rollback s1") == [0], d.errors()[-3:]
    assert (ct.rootfs() / "root" / "note").read_text() == "before\n"
    assert not (ct.rootfs() / "root" / "extra").exists()
    assert ct.ctl("start") == [0]
    rc, out = ct.attach("cat /root/note; ls /root")
    assert rc == 0 and out.split() == ["before", "note"], out
    assert ct.ctl("stop") == [0]

    # a clone: its own volume, hostname and MAC; it starts and says its own name
    assert ct.ctl("clone 303") == [0], d.errors()[-3:]
    c2 = Ct(d, 303)
    cfg2 = read_text(c2.dir / "config")
    assert "hostname: ct303\n" in cfg2 and "local:subvol-303-disk-0" in cfg2, cfg2
    assert "[s1]" not in cfg2
    write_ok(c2.dir / "config", cfg2.replace("10.77.0.4", "10.77.0.5"))
    assert c2.ctl("start") == [0], d.errors()[-3:]
    assert ct.ctl("start") == [0]
    rc, out = c2.attach("hostname; cat /root/note")
    assert rc == 0 and out.split() == ["ct303", "before"], out
    rc, _ = c2.attach("ping -c1 -W2 10.77.0.4")
    assert rc == 0, "the clone cannot reach its source over vmbr0"

    # deleting the snapshot removes its section and the storage's copy
    os.rmdir(ct.dir / "snapshots" / "s1")
    cfg = read_text(ct.dir / "config")
    assert "[s1]" not in cfg and "parent:" not in cfg, cfg
    assert os.listdir(d.p("storage/local/volumes/subvol-302-disk-0/snapshots")) == []


@pytest.mark.budget(60)
def test_ct_bad_input(ctnode):
    d = ctnode
    ct = make_ct(d, 304, "10.77.0.6")
    assert ct.ctl("start") == [0]
    cfg = read_text(ct.dir / "config")
    bad_ctl = [("frobnicate", errno.EINVAL), ("start now", errno.EINVAL),
               ("shutdown soon", errno.EINVAL), ("reset", errno.EOPNOTSUPP),
               ("rollback nosuch", errno.ENOENT), ("snapshot 1bad", errno.EINVAL),
               ("migrate nowhere", errno.EINVAL), ("start", errno.EALREADY)]
    for cmd, want in bad_ctl:
        r = try_write(ct.dir / "ctl", cmd + "\n")
        assert r["writes"] == [want], (cmd, r)
    for s in ("flying", "running now", "Running"):
        assert write_errno(try_write(ct.dir / "state", s)) == errno.EINVAL, repr(s)
    for c in ("memory: -5\n", "rootfs: local:1\nbogus: 1\n", "net0: bridge=vmbr0\nnet0: name=x\n",
              "ostemplate: local:vztmpl/busybox.tar.gz\n"):
        r = try_write(ct.dir / "config", cfg + c)
        assert write_errno(r) == errno.EINVAL, (c, r)
    assert read_text(ct.dir / "config") == cfg
    assert ct.state() == "running"
    # a config the driver cannot run is refused at start, with a message, nothing started
    assert ct.ctl("stop") == [0]
    write_ok(ct.dir / "config", cfg + "unprivileged: 1\n")
    r = try_write(ct.dir / "ctl", "start\n")
    assert r["writes"] == [errno.EOPNOTSUPP], r
    assert "unprivileged" in d.errors()[-1]
    assert ct.state() == "stopped"
