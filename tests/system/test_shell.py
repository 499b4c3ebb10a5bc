"""The shell consumer (bash echo/cat/tail/mkdir) and the plain POSIX contract of the mount."""
import errno
import os
import re
import select
import stat
import subprocess
import time
import uuid

import pytest

from pvefslib import (LXC_CANON, LXC_SHUFFLED, NODE, QEMU_CANON, QEMU_SHUFFLED, detach, ename,
                      is_mounted, mount_entries, qemu_config, read_bytes, read_text, run, try_write, write_errno, write_ok)

BASH = "/bin/bash"


def bash(cmd, timeout=20):
    return run([BASH, "-c", cmd], timeout=timeout, env=dict(os.environ, LC_ALL="C"))


# ------------------------------------------------------------------ cluster and node files
def test_cluster_files(pvefs_mod):
    d = pvefs_mod
    assert read_text(d.p("cluster/quorate")) == "1\n"
    assert read_text(d.p("cluster/name")).strip() != ""
    members = read_text(d.p("cluster/members")).splitlines()
    assert any(re.fullmatch(r"\d+ %s online \S+" % NODE, l) for l in members), members
    m = d.metrics()
    assert re.search(r"^pvefs_store_version(\{[^}]*\})? \d+", m, re.M), m[:1000]
    assert re.search(r'^pvefs_\w+\{[^}]*node="%s"[^}]*\} \S+' % NODE, m, re.M), "no per-node figures:\n" + m[:1000]
    for name in ("name", "quorate", "members", "log", "errors", "metrics"):
        st = os.stat(d.p("cluster/" + name))
        assert stat.S_ISREG(st.st_mode) and st.st_mode & 0o222 == 0, (name, oct(st.st_mode))


def test_cluster_files_refuse_writes(pvefs_mod):
    """Read-only files: even root (who bypasses mode bits under default_permissions) fails."""
    d = pvefs_mod
    for name in ("name", "quorate", "members", "log", "errors", "metrics"):
        before = read_bytes(d.p("cluster/" + name)) if name in ("name", "quorate", "members") else None
        r = try_write(d.p("cluster/" + name), "junk\n", flags=os.O_WRONLY)
        assert write_errno(r) != 0, "write to cluster/%s succeeded: %s" % (name, r)
        if before is not None:
            assert read_bytes(d.p("cluster/" + name)) == before


def test_node_status_counts_guests(pvefs):
    d = pvefs

    def counts():
        kv = dict(l.split(": ", 1) for l in read_text(d.p("nodes/%s/status" % NODE)).splitlines())
        return int(kv["guests"]), int(kv["guests_running"])

    assert counts() == (0, 0)
    d.mkvm(100)
    d.mkct(200)
    assert counts() == (2, 0)  # no driver has started anything
    os.rmdir(d.vm(100))
    assert counts() == (1, 0)


def test_node_status(pvefs_mod):
    d = pvefs_mod
    text = read_text(d.p("nodes/%s/status" % NODE))
    kv = {}
    for line in text.splitlines():
        k, sep, v = line.partition(": ")
        assert sep, "not a 'key: value' line: %r" % line
        kv[k] = v
    for key in ("node", "online", "uptime", "kernel", "cpus", "cpu", "loadavg", "memtotal", "memused",
                "memfree", "swaptotal", "swapused"):
        assert key in kv, "status lacks %r:\n%s" % (key, text)
    assert kv["node"] == NODE
    assert kv["online"] == "1"
    assert int(kv["cpus"]) == os.cpu_count()
    assert os.uname().release in kv["kernel"]
    with open("/proc/meminfo") as f:
        memtotal = int(re.search(r"MemTotal:\s+(\d+) kB", f.read()).group(1)) * 1024
    assert int(kv["memtotal"]) == memtotal, (kv["memtotal"], memtotal)
    assert 0 < int(kv["memused"]) < memtotal
    assert float(kv["uptime"]) > 0
    assert len(kv["loadavg"].split()) >= 3


def test_node_ctl(pvefs_mod):
    d = pvefs_mod
    ctl = d.p("nodes/%s/ctl" % NODE)
    assert stat.S_IMODE(os.stat(ctl).st_mode) == 0o200
    write_ok(ctl, "ping\n")
    marker = "hello-" + uuid.uuid4().hex[:8]
    write_ok(ctl, "log %s\n" % marker)
    assert marker in d.log()
    before = d.errors()
    p = bash("echo 'frobnicate now' > %s" % ctl)
    assert p.returncode == 1 and "Invalid argument" in p.stderr, (p.returncode, p.stderr)
    assert try_write(ctl, "bogus-command\n")["writes"] == [errno.EINVAL]
    assert any(("/nodes/%s/ctl" % NODE) in l and "EINVAL" in l for l in d.new_errors(before)), d.errors()[-5:]


# ------------------------------------------------------------------ config round trips
def test_echo_cat_roundtrip(pvefs):
    d = pvefs
    d.mkvm(100)
    cfg = d.vm(100, "config")
    p = bash("printf '%%s' '%s' > %s" % (QEMU_CANON, cfg))
    assert p.returncode == 0, p.stderr
    p = bash("cat %s" % cfg)
    assert p.returncode == 0 and p.stdout == QEMU_CANON
    p = bash("echo 'memory: 4096' > %s.tmp && cat %s" % (cfg, cfg))  # a scratch file, then cat
    assert p.stdout == QEMU_CANON


def test_bash_bad_value(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    cfg = d.vm(100, "config")
    before = d.errors()
    p = bash("printf 'name: ok\\nfoo: bar\\n' > %s" % cfg)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "write error: Invalid argument" in p.stderr, p.stderr
    assert read_text(cfg) == QEMU_CANON
    new = d.new_errors(before)
    assert any(re.match(r"^\d+ %s /nodes/%s/qemu/100/config EINVAL .*line 2" % (NODE, NODE), l) for l in new), new
    # a bad value (not a bad key)
    p = bash("echo 'memory: lots' > %s" % cfg)
    assert p.returncode == 1 and "Invalid argument" in p.stderr, p.stderr
    assert read_text(cfg) == QEMU_CANON


def test_canonical_readback(pvefs):
    d = pvefs
    d.mkvm(100)
    write_ok(d.vm(100, "config"), QEMU_SHUFFLED)
    assert read_text(d.vm(100, "config")) == QEMU_CANON
    d.mkct(200)
    write_ok(d.ct(200, "config"), LXC_SHUFFLED)
    assert read_text(d.ct(200, "config")) == LXC_CANON
    # the last line may lack its newline; canonical form always ends in one
    write_ok(d.vm(100, "config"), "name: x\ncores: 2")
    assert read_text(d.vm(100, "config")) == "cores: 2\nname: x\n"


def test_canonical_snapshot_sections(pvefs):
    d = pvefs
    d.mkvm(101)
    doc = ("name: snappy\nmemory: 512\nparent: alpha\n#main comment\n"
           "\n[zeta]\nsnaptime: 1700000200\nparent: alpha\nmemory: 512\nname: snappy\n"
           "\n[alpha]\nsnaptime: 1700000100\nmemory: 256\nname: snappy\n")
    write_ok(d.vm(101, "config"), doc)
    want = ("#main comment\nmemory: 512\nname: snappy\nparent: alpha\n"
            "\n[alpha]\nmemory: 256\nname: snappy\nsnaptime: 1700000100\n"
            "\n[zeta]\nmemory: 512\nname: snappy\nparent: alpha\nsnaptime: 1700000200\n")
    assert read_text(d.vm(101, "config")) == want


def test_default_config_is_canonical_and_rewritable(pvefs):
    d = pvefs
    d.mkvm(100)
    d.mkct(200)
    for cfg in (d.vm(100, "config"), d.ct(200, "config")):
        text = read_bytes(cfg)
        write_ok(cfg, text)
        assert read_bytes(cfg) == text


def test_config_write_bumps_store_version_and_mtime(pvefs):
    """Sanity for the 'nothing changed' checks elsewhere: a real change is visible."""
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    cfg = d.vm(100, "config")
    os.utime(cfg, (1000000000, 1000000000))
    v0 = d.store_version()
    write_ok(cfg, qemu_config(memory=2048))
    assert d.store_version() > v0
    st = os.stat(cfg)
    assert st.st_mtime > 1000000000 + 10, st.st_mtime
    assert st.st_size == len(qemu_config(memory=2048))


def test_line_validated_per_write(pvefs):
    """The bad line fails the write(2) that completes it, not an earlier one; nothing is stored."""
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    cfg = d.vm(100, "config")
    r = try_write(cfg, ["name: good\n", "cores: 2\nmemo", "ry: 1024\n", "foo: bar\n", "cores: 4\n"])
    assert r["writes"] == [0, 0, 0, errno.EINVAL], r
    assert read_text(cfg) == QEMU_CANON


def test_efbig(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    cfg = d.vm(100, "config")
    line = "#" + "x" * 1022 + "\n"
    big = line * 1025  # 1 MiB + 1 KiB
    r = try_write(cfg, [big])
    assert write_errno(r) == errno.EFBIG, r
    assert read_text(cfg) == QEMU_CANON
    # the same through bash
    p = bash("head -c 1049600 /dev/zero | tr '\\0' '#' > %s" % cfg)
    assert p.returncode != 0 and "File too large" in p.stderr, (p.returncode, p.stderr)
    assert read_text(cfg) == QEMU_CANON


# ------------------------------------------------------------------ VMs and containers
def test_mkdir_rmdir_vm_and_ct(pvefs):
    d = pvefs
    os.mkdir(d.vm(100))
    names = set(os.listdir(d.vm(100)))
    assert {"config", "state", "ctl", "status", "snapshots"} <= names, names
    assert stat.S_ISDIR(os.stat(d.vm(100, "snapshots")).st_mode)
    assert stat.S_IMODE(os.stat(d.vm(100, "ctl")).st_mode) == 0o200
    assert read_text(d.vm(100, "state")) == "stopped\n"
    assert read_text(d.vm(100, "status")) != ""
    assert "100" in os.listdir(d.p("nodes/%s/qemu" % NODE))
    assert os.readlink(d.p("vms/100")) == "../nodes/%s/qemu/100" % NODE
    assert os.path.samefile(d.p("vms/100/config"), d.vm(100, "config"))
    os.rmdir(d.vm(100))
    assert not os.path.lexists(d.vm(100))
    assert not os.path.lexists(d.p("vms/100"))

    os.mkdir(d.ct(200))
    names = set(os.listdir(d.ct(200)))
    assert {"config", "state", "ctl", "status", "snapshots"} <= names, names
    assert read_text(d.ct(200, "state")) == "stopped\n"
    assert not os.path.lexists(d.p("vms/200"))
    os.rmdir(d.ct(200))
    assert not os.path.lexists(d.ct(200))
    # and through the shell
    p = bash("mkdir %s && ls %s && rmdir %s" % (d.vm(300), d.vm(300), d.vm(300)))
    assert p.returncode == 0 and "config" in p.stdout, p.stderr


def test_vmid_range(pvefs):
    d = pvefs
    for bad in ("99", "1000000000", "abc", "0100"):
        with pytest.raises(OSError):
            os.mkdir(d.vm(bad))
        assert not os.path.lexists(d.vm(bad))
    os.mkdir(d.vm(999999999))
    os.mkdir(d.vm(100))


def test_duplicate_id(pvefs):
    d = pvefs
    os.mkdir(d.vm(100))
    with pytest.raises(FileExistsError):
        os.mkdir(d.vm(100))
    with pytest.raises(FileExistsError):
        os.mkdir(d.ct(100))
    os.mkdir(d.ct(101))
    with pytest.raises(FileExistsError):
        os.mkdir(d.vm(101))
    p = bash("mkdir %s" % d.ct(100))
    assert p.returncode == 1 and "File exists" in p.stderr
    assert not os.path.exists(d.ct(100)) and not os.path.exists(d.vm(101))


def test_symlinks(pvefs):
    d = pvefs
    assert os.readlink(d.p("local")) == "nodes/%s" % NODE
    assert os.path.samefile(d.p("local/status"), d.p("nodes/%s/status" % NODE))
    d.mkvm(100)
    d.mkvm(101)
    d.mkct(200)
    assert sorted(os.listdir(d.p("vms"))) == ["100", "101"]
    for v in ("100", "101"):
        assert os.path.islink(d.p("vms/" + v))
        assert os.readlink(d.p("vms/" + v)) == "../nodes/%s/qemu/%s" % (NODE, v)
    for top in ("storage", "ceph", "sdn", "sdn/zones", "sdn/vnets", "ha", "ha/groups", "ha/resources", "priv"):
        assert os.path.isdir(d.p(top)), top
    assert stat.S_IMODE(os.stat(d.p("priv")).st_mode) == 0o700


def test_guest_start_without_volumes(pvefs):
    """A VM whose disks, or a container whose rootfs, name a storage that does not exist
    cannot start; the error names the storage, and nothing changes."""
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    d.mkct(200, LXC_CANON)
    before = d.errors()
    r = try_write(d.vm(100, "ctl"), "start\n")
    assert r["writes"] == [errno.ENOENT], r
    new = d.new_errors(before)
    assert new and " ENOENT " in new[-1] and "local" in new[-1], new
    assert read_text(d.vm(100, "state")) == "stopped\n"
    for g, base in (("lxc/200", d.ct(200)),):
        before = d.errors()
        v0 = d.store_version()
        r = try_write(base / "state", "running\n")
        assert r["writes"] == [errno.ENOENT], "state write on %s: %s" % (g, r)
        r = try_write(base / "ctl", "start\n")
        assert r["writes"] == [errno.ENOENT], "ctl write on %s: %s" % (g, r)
        p = bash("echo suspend > %s/ctl" % base)
        assert p.returncode == 1 and "Invalid argument" in p.stderr, p.stderr
        assert read_text(base / "state") == "stopped\n"
        assert d.store_version() == v0
        new = d.new_errors(before)
        for f in ("state", "ctl"):
            hit = [l for l in new if "/nodes/%s/%s/%s " % (NODE, g, f) in l]
            assert hit, "no cluster/errors line for %s/%s: %s" % (g, f, new)
            assert re.search(r" ENOENT ", hit[0]) and "local" in hit[0], hit


# ------------------------------------------------------------------ generated files
def _regular_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        for f in filenames:
            yield os.path.join(dirpath, f)


def test_st_size_matches_read(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    d.mkct(200, LXC_CANON)
    write_ok(d.p("nodes/%s/ctl" % NODE), "log size test\n")
    checked = 0
    for path in _regular_files(d.mnt):
        st = os.stat(path)
        if not st.st_mode & 0o444:
            continue  # write-only
        for attempt in range(5):  # status files change about once a second
            size = os.stat(path).st_size
            data = read_bytes(path)
            with open(path, "rb") as f:
                fsize = os.fstat(f.fileno()).st_size
                fdata = f.read()
            if size == len(data) and fsize == len(fdata):
                break
            time.sleep(0.05)
        assert size == len(data), "%s: st_size %d, read %d bytes" % (path, size, len(data))
        assert fsize == len(fdata), "%s: fstat size %d, read %d bytes" % (path, fsize, len(fdata))
        # (lrm_status and lrm_lock are HA records: empty until the node takes part)
        if os.path.basename(path) in ("status", "metrics", "members", "name", "quorate", "config",
                                      "state"):
            assert len(data) > 0, path
        checked += 1
    assert checked >= 12, checked


def test_tail_f_cluster_log(pvefs):
    d = pvefs
    tail = subprocess.Popen(["tail", "-s", "0.2", "-n", "0", "-f", str(d.p("cluster/log"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        size0 = os.stat(d.p("cluster/log")).st_size
        marker = "hello-" + uuid.uuid4().hex[:8]
        write_ok(d.p("nodes/%s/ctl" % NODE), "log %s\n" % marker)
        assert os.stat(d.p("cluster/log")).st_size > size0
        got = b""
        deadline = time.monotonic() + 5
        while marker.encode() not in got and time.monotonic() < deadline:
            r, _, _ = select.select([tail.stdout], [], [], 0.2)
            if r:
                chunk = os.read(tail.stdout.fileno(), 65536)
                if not chunk:
                    break
                got += chunk
        assert marker.encode() in got, "tail -f saw: %r" % got
    finally:
        tail.kill()
        tail.wait(5)


def test_poll_wakes_on_status_change(pvefs):
    d = pvefs
    path = d.p("nodes/%s/status" % NODE)
    fd = os.open(path, os.O_RDONLY)
    try:
        before = os.read(fd, 1 << 20)
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLPRI)
        t0 = time.monotonic()
        ev = p.poll(5000)
        assert ev, "poll() on nodes/%s/status did not wake within 5 s" % NODE
        after = read_bytes(path)
        assert after != before, ("poll() woke after %.3fs but the content had not changed "
                                 "(a file that is always 'ready' is not pollable)" % (time.monotonic() - t0))
    finally:
        os.close(fd)


# ------------------------------------------------------------------ POSIX details
def test_dot_and_dotdot(pvefs):
    d = pvefs
    d.mkvm(100)
    n1 = d.p("nodes/%s" % NODE)
    assert os.stat(str(n1) + "/.").st_ino == os.stat(n1).st_ino
    assert os.stat(str(n1) + "/qemu/..").st_ino == os.stat(n1).st_ino
    assert os.stat(str(d.vm(100)) + "/../..").st_ino == os.stat(n1).st_ino
    assert os.stat(str(d.mnt) + "/nodes/..").st_ino == os.stat(d.mnt).st_ino
    # readdir d_ino equals st_ino (NFS reconnect needs it)
    for dirpath in (d.mnt, n1, d.vm(100), d.p("cluster")):
        with os.scandir(dirpath) as it:
            for e in it:
                assert e.inode() == os.stat(e.path, follow_symlinks=False).st_ino, e.path


def test_statfs(pvefs):
    s = os.statvfs(pvefs.mnt)
    assert s.f_bsize > 0 and s.f_blocks > 0 and s.f_files > 0 and s.f_namemax > 0, s


def test_xattr(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    ok = (errno.ENODATA, errno.ENOTSUP)
    for path in (d.vm(100, "config"), d.p("nodes/%s/status" % NODE), d.vm(100)):
        with pytest.raises(OSError) as e:
            os.getxattr(path, "user.pvefs-test")
        assert e.value.errno in ok, (path, ename(e.value.errno))
        with pytest.raises(OSError) as e:
            os.getxattr(path, "security.selinux")
        assert e.value.errno in ok, (path, ename(e.value.errno))
        try:
            assert os.listxattr(path) == []
        except OSError as e:
            assert e.errno in ok, (path, ename(e.errno))
    with pytest.raises(OSError) as e:
        os.setxattr(d.vm(100, "config"), "user.pvefs-test", b"x")
    assert e.value.errno in ok, ename(e.value.errno)
    with pytest.raises(OSError) as e:
        os.removexattr(d.vm(100, "config"), "user.pvefs-test")
    assert e.value.errno in ok, ename(e.value.errno)
    assert read_text(d.vm(100, "config")) == QEMU_CANON


def test_chmod_chown_utime_fsync(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    cfg = d.vm(100, "config")
    os.chmod(cfg, 0o640)
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o640
    os.chown(cfg, 0, 0)
    os.utime(cfg, (1700000000, 1700000000))
    os.utime(cfg)
    fd = os.open(cfg, os.O_RDWR)
    try:
        os.fsync(fd)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    dfd = os.open(d.vm(100), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o640
    assert read_text(cfg) == QEMU_CANON
    p = bash("touch %s && chmod 0600 %s && chown root:root %s && stat -c %%a %s" % (cfg, cfg, cfg, cfg))
    assert p.returncode == 0 and p.stdout.strip() == "600", (p.stdout, p.stderr)


def test_scratch_files_and_rename(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    d.mkct(200, LXC_CANON)
    # Ansible-style temp file: O_EXCL create 0600, write, chmod, utime, rename over config
    tmp = d.vm(100, ".ansible_tmpabc123config")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    os.write(fd, QEMU_SHUFFLED.replace("memory: 1024", "memory: 3072").encode())
    os.fsync(fd)
    os.close(fd)
    assert read_text(tmp) == QEMU_SHUFFLED.replace("memory: 1024", "memory: 3072")  # plain file: as written
    assert ".ansible_tmpabc123config" in os.listdir(d.vm(100))
    os.chmod(tmp, 0o644)
    assert stat.S_IMODE(os.stat(tmp).st_mode) == 0o644
    os.utime(tmp, (1700000000, 1700000000))
    os.chown(tmp, 0, 0)
    os.rename(tmp, d.vm(100, "config"))
    assert not os.path.exists(tmp)
    assert read_text(d.vm(100, "config")) == QEMU_CANON.replace("memory: 1024", "memory: 3072")
    # an invalid scratch file renamed over config: EINVAL, config unchanged
    bad = d.vm(100, "config.puppettmp_1")
    write_ok(bad, "name: x\nfoo: bar\n")
    before = read_text(d.vm(100, "config"))
    with pytest.raises(OSError) as e:
        os.rename(bad, d.vm(100, "config"))
    assert e.value.errno == errno.EINVAL
    assert read_text(d.vm(100, "config")) == before
    os.unlink(bad)
    assert not os.path.exists(bad)
    # a qemu config renamed over a CT config is validated as pct format
    bad = d.ct(200, ".salt.tmp")
    write_ok(bad, "bootdisk: scsi0\n")
    with pytest.raises(OSError) as e:
        os.rename(bad, d.ct(200, "config"))
    assert e.value.errno == errno.EINVAL
    assert read_text(d.ct(200, "config")) == LXC_CANON
    os.unlink(bad)
    # scratch files in priv/ are stored and survive a restart
    write_ok(d.p("priv/st-secret"), b"\x00\x01binary secret\xff")
    d.restart()
    assert read_bytes(d.p("priv/st-secret")) == b"\x00\x01binary secret\xff"
    os.unlink(d.p("priv/st-secret"))


def test_stable_inodes_across_restart(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    d.mkct(200, LXC_CANON)
    write_ok(d.vm(100, "notes.txt"), "scratch\n")
    paths = ["", "cluster", "cluster/name", "cluster/log", "nodes", "nodes/%s" % NODE, "nodes/%s/status" % NODE,
             "nodes/%s/qemu/100" % NODE, "nodes/%s/qemu/100/config" % NODE, "nodes/%s/qemu/100/notes.txt" % NODE,
             "nodes/%s/qemu/100/state" % NODE, "nodes/%s/lxc/200/config" % NODE, "vms", "priv"]
    before = {p: os.stat(d.p(p), follow_symlinks=False).st_ino for p in paths}
    assert len(set(before.values())) == len(paths), before
    d.restart()
    after = {p: os.stat(d.p(p), follow_symlinks=False).st_ino for p in paths}
    assert after == before
    d.restart(kill9=True, detach_stale=True)
    after = {p: os.stat(d.p(p), follow_symlinks=False).st_ino for p in paths}
    assert after == before


def test_sigterm_unmounts_cleanly(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    rc = d.stop()
    assert not is_mounted(d.mnt)
    assert rc == 0, "pvefsd exited with %s on SIGTERM:\n%s" % (rc, d.log_tail())
    d.start()
    assert read_text(d.vm(100, "config")) == QEMU_CANON


def test_second_daemon_refused(pvefs):
    d = pvefs
    other = d.base / "mnt2"
    other.mkdir()
    p = run(d.cmdline(mnt=other), timeout=15)
    try:
        assert p.returncode != 0, "second pvefsd on the same data dir exited 0"
        msg = (p.stderr + p.stdout).lower()
        assert re.search(r"in use|lock|already", msg) and ("data" in msg or str(d.data).lower() in msg), msg
        assert not is_mounted(other)
    finally:
        detach(other)
    assert d.alive()
    assert read_text(d.p("cluster/quorate")) == "1\n"


def test_restart_after_kill9_with_stale_mount(pvefs):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    d.kill9()
    assert is_mounted(d.mnt), "expected the mount to remain (stale) after kill -9"
    with pytest.raises(OSError) as e:
        read_bytes(d.p("cluster/quorate"))  # (a cached stat() may still answer)
    assert e.value.errno == errno.ENOTCONN, ename(e.value.errno)
    d.start()  # must detach the stale mount itself
    assert read_text(d.vm(100, "config")) == QEMU_CANON
    stacked = [mp for mp, _ in mount_entries() if mp == str(d.mnt)]
    assert len(stacked) == 1, "the stale mount was not detached (%d mounts on %s)" % (len(stacked), d.mnt)
