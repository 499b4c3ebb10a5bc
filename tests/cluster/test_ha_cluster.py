"""HA on a real 3-node cluster with real busybox containers (root on a shared dir storage):

- a node dies whole (pvefsd, corosync and the container, all SIGKILLed): the container runs
  on another node within the bound the timeouts give, and ha/status tells the story;
- a node is cut off from the other two: it stops its container (watchdog) before the
  majority starts it elsewhere; a sampler reading every node's cgroups every 50 ms never
  sees two copies;
- a container's init is killed: HA restarts it in place, and once max_restart is used up
  relocates it to another node.

- the same for a real QEMU guest (direct kernel boot).

Short timeouts, as the daemons read them from PVEFS_HA_*: round 1 s, lease 6 s, self-fence
3 s, margin 1 s. Recovery may start 7 s after the dead node's last renewal; it fenced
itself 3 s after it."""
import errno
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from clusterlib import wait_until
from pvefslib import cgroup_dirs, kill_cgroup, kill_guest_pid, kill_procs_under, read_text, run, try_write, write_ok

ROOT = Path(__file__).resolve().parents[2]
HA_ENV = {"PVEFS_HA_ROUND": "1", "PVEFS_HA_LEASE": "6", "PVEFS_HA_FENCE": "3",
          "PVEFS_HA_MARGIN": "1"}
FAILOVER_BOUND = 30  # lease 6 + margin 1 + a few rounds + a container start, with room

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/share/lxc"),
                                reason="needs liblxc (apt install lxc)")


def fields(text):
    return dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    out = tmp_path_factory.mktemp("tmpl") / "busybox.tar.gz"
    p = run([str(ROOT / "tools" / "pvefs-mktemplate"), "busybox", str(out)], timeout=120)
    assert p.returncode == 0, p.stderr
    return out


@pytest.fixture
def hacluster(make_cluster, monkeypatch, template):
    for k, v in HA_ENV.items():
        monkeypatch.setenv(k, v)
    c = make_cluster(3)
    store = c.base / "ct-store"
    (store / "template" / "cache").mkdir(parents=True)
    assert run(["cp", str(template), str(store / "template" / "cache")]).returncode == 0
    os.mkdir(c[1].p("storage/shared"))
    write_ok(c[1].p("storage/shared/config"),
             "type: dir\npath: %s\nshared: 1\ncontent: rootdir,vztmpl\n" % store)
    return c


def make_ha_ct(c, ctid, extra=""):
    """Container ctid made on n1, put under HA (started) with extra resource config."""
    n1 = c[1]
    d = "nodes/n1/lxc/%d" % ctid
    os.mkdir(n1.p(d))
    write_ok(n1.p(d + "/config"),
             "hostname: ha%d\nmemory: 128\nswap: 0\nostype: unmanaged\nrootfs: shared:1\n"
             "ostemplate: shared:vztmpl/busybox.tar.gz\n" % ctid)
    os.mkdir(n1.p("ha/resources/ct:%d" % ctid))
    if extra:
        write_ok(n1.p("ha/resources/ct:%d/config" % ctid), "state: started\n" + extra)
    wait_until(lambda: running_on(c, ctid) == ["n1"], 30, "HA to start ct %d on n1" % ctid)
    wait_until(lambda: "service ct:%d: started on n1" % ctid in n1.read("ha/status"), 10,
               "ha/status to show ct %d started on n1" % ctid)


def running_on(c, ctid):
    """The nodes whose cgroups hold a process of container ctid (monitors excluded)."""
    out = []
    for nd in c:
        for d in cgroup_dirs(nd.lxc_cgroup):
            if ".monitor" in d or not re.search(r"/%d(/|$)" % ctid, d):
                continue
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    if f.read().split():
                        out.append(nd.name)
                        break
            except OSError:
                pass
    return out


def ct_node(nd, ctid):
    """Where nd's tree has container ctid, and its state there."""
    for name in ("n1", "n2", "n3"):
        p = nd.p("nodes/%s/lxc/%d/state" % (name, ctid))
        if os.path.exists(p):
            return name, read_text(p).strip()
    return None, None


def svc_status(nd, ctid):
    return fields(read_text(nd.p("ha/resources/ct:%d/status" % ctid)))


@pytest.mark.budget(150)
def test_node_dies_guest_recovered(hacluster):
    c = hacluster
    n1, n2, n3 = c[1], c[2], c[3]
    make_ha_ct(c, 500)

    # n1 dies whole: its daemon, its corosync and the container
    t0 = time.monotonic()
    n1.kill9()
    n1.corosync_kill9()
    kill_cgroup(n1.lxc_cgroup)
    assert running_on(c, 500) == []
    c.wait_quorum(nodes=[2, 3])

    where = wait_until(lambda: ct_node(n2, 500)[0] in ("n2", "n3") and
                       ct_node(n2, 500)[1] == "running" and ct_node(n2, 500)[0],
                       FAILOVER_BOUND, "ct 500 to run on n2 or n3")
    took = time.monotonic() - t0
    assert running_on(c, 500) == [where], running_on(c, 500)
    print("failover took %.1f s" % took)
    st = wait_until(lambda: ("service ct:500: started on %s" % where) in n3.read("ha/status")
                    and n3.read("ha/status"), 10, "ha/status on n3 to tell")
    assert re.search(r"node n1: (fence|unknown)", st), st
    log = n2.read("cluster/log")
    assert "recovered from n1 to %s" % where in log, log[-3000:]
    assert re.search(r"recovery: ct:500 moved from fenced n1 to %s" % where, log), log[-3000:]
    assert not os.path.exists(n2.p("nodes/n1/lxc/500"))


@pytest.mark.budget(150)
def test_partition_never_two_copies(hacluster):
    c = hacluster
    n1, n2 = c[1], c[2]
    make_ha_ct(c, 510)

    seen, stop = [], threading.Event()

    def sampler():
        while not stop.is_set():
            seen.append((time.monotonic(), tuple(running_on(c, 510))))
            time.sleep(0.05)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    try:
        t0 = time.monotonic()
        c.partition([[1], [2, 3]])
        # the minority stops its copy (its watchdog): within self-fence plus a round or two
        wait_until(lambda: "n1" not in running_on(c, 510), 15, "n1 to stop ct 510")
        stopped = time.monotonic() - t0
        where = wait_until(lambda: [n for n in running_on(c, 510) if n != "n1"] and
                           running_on(c, 510)[0], FAILOVER_BOUND, "ct 510 to run on n2 or n3")
        started = time.monotonic() - t0
        time.sleep(1)
    finally:
        stop.set()
        th.join(5)
    doubles = [s for s in seen if len(s[1]) > 1]
    assert not doubles, doubles[:5]
    assert len(seen) > 100
    assert stopped < started, (stopped, started)
    print("n1 stopped it after %.1f s, %s started it after %.1f s" % (stopped, where, started))
    wait_until(lambda: ct_node(n2, 510) == (where, "running"), 10, "n2's tree to agree")
    c.heal()


@pytest.mark.budget(150)
def test_crash_restart_then_relocate(hacluster):
    c = hacluster
    n1, n2 = c[1], c[2]
    make_ha_ct(c, 520, "max_restart: 1\nmax_relocate: 1\n")
    pid1 = int(fields(n1.read("nodes/n1/lxc/520/status"))["pid"])

    kill_guest_pid(pid1)
    try:
        pid2 = wait_until(lambda: (fields(n1.read("nodes/n1/lxc/520/status")).get("pid")
                                   not in (None, str(pid1))) and
                          int(fields(n1.read("nodes/n1/lxc/520/status"))["pid"]), 20,
                          "ct 520 restarted on n1")
    except Exception:
        print("pid1 %d alive: %s; running on: %s" % (pid1, os.path.exists("/proc/%d" % pid1),
                                                     running_on(c, 520)))
        print("n1 status:", n1.read("nodes/n1/lxc/520/status"))
        print("ha/status:", n2.read("ha/status"))
        print("n1 log:", n1.read("cluster/log")[-1500:])
        raise
    assert running_on(c, 520) == ["n1"]
    wait_until(lambda: svc_status(n2, 520).get("restarts") == "1", 5, "restart counted")

    kill_guest_pid(pid2)
    where = wait_until(lambda: ct_node(n2, 520)[0] in ("n2", "n3") and
                       ct_node(n2, 520)[1] == "running" and ct_node(n2, 520)[0], 30,
                       "ct 520 relocated to n2 or n3 and running")
    assert running_on(c, 520) == [where]
    st = wait_until(lambda: svc_status(n2, 520).get("state") == "started" and svc_status(n2, 520),
                    10, "service started again")
    assert st["node"] == where and st["relocates"] == "1" and "n1" in st["failed"], st
    r = try_write(n2.p("ha/resources/ct:520/config"), "state: stopped\n")
    assert r["writes"] == [0] and r["close"] == 0, r
    wait_until(lambda: running_on(c, 520) == [], 15, "ct 520 stopped by HA")


@pytest.mark.budget(120)
def test_migrate_and_relocate_requests(hacluster):
    """An admin asks the manager to move an HA guest: migrate (a container moves in
    restart mode) and relocate; the guest runs on the target each time, once."""
    c = hacluster
    n1, n2, n3 = c[1], c[2], c[3]
    make_ha_ct(c, 530)
    r = try_write(n3.p("ha/resources/ct:530/ctl"), "migrate n2\n")
    assert r["writes"] == [0], (r, n3.read("cluster/errors")[-300:])
    wait_until(lambda: running_on(c, 530) == ["n2"], 30, "ct 530 migrated to n2")
    st = wait_until(lambda: svc_status(n1, 530).get("state") == "started" and svc_status(n1, 530),
                    15, "service started on n2")
    assert st["node"] == "n2", st
    r = try_write(n1.p("ha/resources/ct:530/ctl"), "relocate n3\n")
    assert r["writes"] == [0], r
    wait_until(lambda: running_on(c, 530) == ["n3"], 30, "ct 530 relocated to n3")
    # bad requests: a clean error, nothing moves
    for cmd in ("migrate nowhere", "teleport n1", "migrate"):
        r = try_write(n1.p("ha/resources/ct:530/ctl"), cmd + "\n")
        assert r["writes"] == [errno.EINVAL], (cmd, r)
    assert running_on(c, 530) == ["n3"]


@pytest.mark.budget(240)
def test_vm_recovered_after_node_death(hacluster):
    """A real QEMU guest (direct kernel boot, no disk) under HA on n1: n1 dies whole, and the
    VM boots on another node."""
    guest = ROOT / "build" / "guest"
    p = subprocess.run(["bash", str(ROOT / "tests" / "qemu" / "build-guest.sh"), str(guest)],
                       capture_output=True, text=True, timeout=600)
    if p.returncode:
        pytest.skip("no guest kernel: " + p.stderr[-300:])
    c = hacluster
    n1, n2 = c[1], c[2]
    os.mkdir(n1.p("nodes/n1/qemu/700"))
    write_ok(n1.p("nodes/n1/qemu/700/config"),
             "memory: 128\ncores: 1\nkvm: 0\nserial0: socket\n"
             "args: -kernel %s/vmlinux -initrd %s/initrd.gz -append \"console=ttyS0 panic=-1\"\n"
             % (guest, guest))
    os.mkdir(n1.p("ha/resources/vm:700"))
    wait_until(lambda: read_text(n2.p("nodes/n1/qemu/700/state")) == "running\n", 30,
               "HA to start vm 700 on n1")
    wait_until(lambda: "service vm:700: started on n1" in n2.read("ha/status"), 10,
               "ha/status to show vm:700 started on n1")

    n1.kill9()
    n1.corosync_kill9()
    assert kill_procs_under(n1.dir), "no QEMU of n1 found to kill"
    where = wait_until(lambda: [nd for nd in (c[2], c[3])
                                if os.path.isdir(n2.p("nodes/%s/qemu/700" % nd.name)) and
                                read_text(n2.p("nodes/%s/qemu/700/state" % nd.name)) == "running\n"],
                       FAILOVER_BOUND, "vm 700 to run on n2 or n3")[0]
    serial = where.data / "serial" / "700.serial"
    wait_until(lambda: serial.exists() and "PVEFS-BOOT-OK" in serial.read_text(errors="replace"),
               90, "vm 700 to boot on %s" % where.name)
    assert "service vm:700: started on %s" % where.name in n2.read("ha/status")
