"""HA on one node: ha/groups and ha/resources configs (validated, canonical read-back,
refusals that leave the config as it was), mkdir/rmdir taking guests in and out of HA,
ha/status, and a real busybox container that HA restarts in place after its init is
killed, until max_restart is used up and, with no other node, the service goes to error.

The daemon runs with short HA timeouts (round 1 s, lease 6 s, self-fence 3 s, margin 1 s)
through PVEFS_HA_* in its environment, in a network namespace of its own with vmbr0."""
import errno
import os
import time

import pytest

from pvefslib import Pvefs, kill_guest_pid, make_base, read_text, remove_base, run, try_write, write_errno, write_ok, wait_for, fields, have_lxc

HA_ENV = {"PVEFS_HA_ROUND": "1", "PVEFS_HA_LEASE": "6", "PVEFS_HA_FENCE": "3",
          "PVEFS_HA_MARGIN": "1"}


def mkdir_errno(path):
    try:
        os.mkdir(path)
        return 0
    except OSError as e:
        return e.errno


def rmdir_errno(path):
    try:
        os.rmdir(path)
        return 0
    except OSError as e:
        return e.errno


@pytest.fixture
def idle_ha(request, monkeypatch):
    """A daemon whose HA agents act once an hour: the configs are checked, nothing starts."""
    for k, v in (("PVEFS_HA_ROUND", "3600"), ("PVEFS_HA_LEASE", "86400"),
                 ("PVEFS_HA_FENCE", "3600")):
        monkeypatch.setenv(k, v)
    return request.getfixturevalue("pvefs")


def test_ha_config_files(idle_ha):
    d = idle_ha
    os.mkdir(d.vm(100))
    os.mkdir(d.ct(200))
    res, grp = d.p("ha/resources"), d.p("ha/groups")

    # a group: validated, stored canonical (keys sorted)
    os.mkdir(grp / "web")
    write_ok(grp / "web/config", "restricted: 1\nnodes: n1:2,n2,n3:1\ncomment: front\n")
    assert read_text(grp / "web/config") == "comment: front\nnodes: n1:2,n2,n3:1\nrestricted: 1\n"
    for bad in ("nodes: n1,n1\n", "nodes: n1:x\n", "nodes: \n", "restricted: 1\n", "colour: red\n"):
        assert write_errno(try_write(grp / "web/config", bad)) == errno.EINVAL, bad
    assert read_text(grp / "web/config") == "comment: front\nnodes: n1:2,n2,n3:1\nrestricted: 1\n"
    assert mkdir_errno(grp / "9bad") == errno.EINVAL

    # mkdir takes a guest under HA, with Proxmox's default request: started
    os.mkdir(res / "vm:100")
    assert read_text(res / "vm:100/config") == "state: started\n"
    assert fields(read_text(res / "vm:100/status"))["sid"] == "vm:100"
    write_ok(res / "vm:100/config",
             "state: stopped\ngroup: web\nmax_restart: 2\nmax_relocate: 0\ncomment: db\n")
    good = "comment: db\ngroup: web\nmax_relocate: 0\nmax_restart: 2\nstate: stopped\n"
    assert read_text(res / "vm:100/config") == good

    # refused whole, with EINVAL, the stored config unchanged
    for bad in ("state: running\n", "group: nosuch\n", "max_restart: 11\n", "node: n1\n"):
        assert write_errno(try_write(res / "vm:100/config", bad)) == errno.EINVAL, bad
        assert read_text(res / "vm:100/config") == good
    assert "group 'nosuch' does not exist" in read_text(d.p("cluster/errors"))

    # sids must name an existing guest of their kind, once
    assert mkdir_errno(res / "vm:200") == errno.EINVAL  # 200 is a container
    assert "200 is a container" in read_text(d.p("cluster/errors"))
    assert mkdir_errno(res / "ct:999") == errno.EINVAL  # no such guest
    assert mkdir_errno(res / "qm:100") == errno.EINVAL
    assert mkdir_errno(res / "vm:100") == errno.EEXIST
    os.mkdir(res / "ct:200")
    assert sorted(os.listdir(res)) == ["ct:200", "vm:100"]

    # a group in use stays; rmdir takes a guest out of HA
    assert rmdir_errno(grp / "web") == errno.EBUSY
    os.rmdir(res / "vm:100")
    os.rmdir(grp / "web")
    assert sorted(os.listdir(res)) == ["ct:200"]
    os.rmdir(res / "ct:200")
    assert os.listdir(res) == []
    # the stored HA state is read-only to users
    assert write_errno(try_write(d.p("ha/manager_status"), "master: me\n")) in (errno.EACCES,
                                                                                 errno.EPERM,
                                                                                 errno.EROFS)


@pytest.fixture
def hanode(request, template, monkeypatch):
    """pvefsd with short HA timeouts in its own netns with vmbr0 and a dir storage 'local'."""
    if os.geteuid() != 0 or not have_lxc():
        pytest.skip("needs root and liblxc (apt install lxc)")
    for k, v in HA_ENV.items():
        monkeypatch.setenv(k, v)
    ns = "pvha-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
    assert run(["ip", "netns", "add", ns]).returncode == 0
    base = make_base("pvefs-ha-")
    d = Pvefs(base, netns=ns)
    d.ns = ns
    try:
        for cmd in (["link", "set", "lo", "up"], ["link", "add", "vmbr0", "type", "bridge"],
                    ["link", "set", "vmbr0", "up"]):
            assert run(["ip", "-n", ns] + cmd).returncode == 0
        store = base / "store"
        (store / "template" / "cache").mkdir(parents=True)
        assert run(["cp", str(template), str(store / "template" / "cache")]).returncode == 0
        d.start()
        os.mkdir(d.p("storage/local"))
        write_ok(d.p("storage/local/config"),
                 "type: dir\npath: %s\ncontent: images,rootdir,vztmpl\nshared: 1\n" % store)
        yield d
    finally:
        rep = getattr(request.node, "rep_call", None)
        d.cleanup()
        bad = [l for log in d.logs for l in log.read_text(errors="replace").splitlines()
               if "Sanitizer" in l or "runtime error" in l]
        if rep is None or rep.failed or bad:
            print("---- pvefsd output ----\n" + d.log_tail(60))
            try:
                print("---- cluster log ----\n" + "\n".join(read_text(d.p("cluster/log")).splitlines()[-40:]))
            except OSError:
                pass
        run(["ip", "netns", "del", ns])
        remove_base(base)
    if bad:
        pytest.fail("sanitizer report in pvefsd output:\n" + "\n".join(bad[:20]), pytrace=False)


def ct_pid(d, ctid):
    st = fields(read_text(d.ct(ctid, "status")))
    return int(st["pid"]) if st.get("state") == "running" and st.get("pid") else 0


def test_ha_container_restart_then_error(hanode):
    d = hanode
    os.mkdir(d.ct(300))
    write_ok(d.ct(300, "config"),
             "hostname: ha300\nmemory: 128\nswap: 0\nostype: unmanaged\nrootfs: local:1\n"
             "ostemplate: local:vztmpl/busybox.tar.gz\n")
    assert read_text(d.ct(300, "state")) == "stopped\n"

    # under HA with state started: the manager has it started on n1
    os.mkdir(d.p("ha/resources/ct:300"))
    pid1 = wait_for(lambda: ct_pid(d, 300), 20, "HA to start ct 300")
    wait_for(lambda: "service ct:300: started on n1" in read_text(d.p("ha/status")), 10,
             "ha/status to show ct:300 started on n1")
    st = read_text(d.p("ha/status"))
    assert st.startswith("master: n1\n") and "node n1: online" in st, st
    rs = fields(read_text(d.p("ha/resources/ct:300/status")))
    assert rs["state"] == "started" and rs["node"] == "n1" and rs["restarts"] == "0", rs
    assert "holder: n1" in read_text(d.p("nodes/n1/lrm_lock"))

    # its init killed: restarted in place (max_restart 1)
    kill_guest_pid(pid1)
    pid2 = wait_for(lambda: (ct_pid(d, 300) not in (0, pid1)) and ct_pid(d, 300), 20,
                    "HA to restart ct 300 in place")
    assert pid2 != pid1
    wait_for(lambda: fields(read_text(d.p("ha/resources/ct:300/status"))).get("restarts") == "1",
             5, "one restart counted")
    log = read_text(d.p("cluster/log"))
    assert "crashed" in log, log[-2000:]

    # killed again: restarts used up, and one node has nowhere to relocate to: error
    kill_guest_pid(pid2)
    wait_for(lambda: fields(read_text(d.p("ha/resources/ct:300/status"))).get("state") == "error",
             20, "ct:300 to go to error")
    time.sleep(2)
    assert ct_pid(d, 300) == 0, "an errored service must not be restarted"
    assert "service ct:300: error on n1" in read_text(d.p("ha/status"))

    # disabled: out of error, stopped; rmdir: out of HA
    write_ok(d.p("ha/resources/ct:300/config"), "state: disabled\n")
    wait_for(lambda: fields(read_text(d.p("ha/resources/ct:300/status"))).get("state") == "stopped",
             10, "ct:300 disabled -> stopped")
    os.rmdir(d.p("ha/resources/ct:300"))
    wait_for(lambda: "ct:300" not in read_text(d.p("ha/status")), 10,
             "ha/status to drop ct:300")


def test_bad_timeouts_refused(tmp_path, monkeypatch):
    """Timeouts that would let a node run guests after its lease is claimed: no start."""
    monkeypatch.setenv("PVEFS_HA_LEASE", "10")
    monkeypatch.setenv("PVEFS_HA_FENCE", "60")
    d = Pvefs(tmp_path)
    p = run(d.cmdline(), timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "exceeds the lease" in p.stderr, p.stderr
