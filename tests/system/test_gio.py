"""A file manager (GIO, the library behind Nautilus) browsing the tree: reads have no side effects."""
import os
import shutil

import pytest

from pvefslib import LXC_CANON, NODE, QEMU_CANON, read_bytes, run, write_ok

GIO = shutil.which("gio") or "/usr/bin/gio"
pytestmark = pytest.mark.budget(90)


def _tree(root):
    """Every path below root (no symlink following), with type and, for stored files, content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = st.st_mode
    return out


def _stored(d):
    return {
        "vm-config": read_bytes(d.vm(100, "config")),
        "ct-config": read_bytes(d.ct(200, "config")),
        "scratch": read_bytes(d.vm(100, "notes.txt")),
        "vm-state": read_bytes(d.vm(100, "state")),
        "mtime": os.stat(d.vm(100, "config")).st_mtime_ns,
    }


def test_gio_walk_has_no_side_effects(pvefs):
    if not os.access(GIO, os.X_OK):
        pytest.skip("gio is not installed (apt install libglib2.0-bin)")
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    d.mkct(200, LXC_CANON)
    write_ok(d.vm(100, "notes.txt"), "plain scratch file\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LC_ALL": "C.UTF-8", "GIO_USE_VFS": "local"}

    tree0 = _tree(d.mnt)
    stored0 = _stored(d)
    errors0 = d.errors()
    version0 = d.store_version()

    dirs = [str(d.mnt)] + [os.path.join(str(d.mnt), p) for p, m in sorted(tree0.items()) if os.path.isdir(
        os.path.join(str(d.mnt), p)) and not os.path.islink(os.path.join(str(d.mnt), p))]
    files = [os.path.join(str(d.mnt), p) for p in sorted(tree0)]

    p = run([GIO, "info", str(d.mnt)], timeout=30, env=env)
    assert p.returncode == 0, p.stderr
    assert "type: directory" in p.stdout
    p = run([GIO, "info", str(d.p("nodes/%s/status" % NODE)), str(d.vm(100, "config"))], timeout=30, env=env)
    assert p.returncode == 0, p.stderr
    assert "standard::content-type: text/plain" in p.stdout, p.stdout
    p = run([GIO, "info", "-f", str(d.mnt)], timeout=30, env=env)
    assert p.returncode == 0, p.stderr

    # the recursive walk: gio list -a '*' on every directory, then gio info on every entry
    p = run([GIO, "list", "-h", "-a", "*"] + dirs, timeout=60, env=env)
    assert p.returncode == 0, "gio list failed: %s" % p.stderr
    for name in ("cluster", "nodes", "vms", "local", "config", "status", "errors"):
        assert name in p.stdout
    p = run([GIO, "info", "-a", "*"] + files, timeout=60, env=env)
    # write-only ctl files may not be sniffable; everything else must answer
    assert p.returncode == 0, "gio info failed: %s" % p.stderr
    p = run([GIO, "list", "-l", "-d", "-u", str(d.mnt)], timeout=30, env=env)
    assert p.returncode == 0, p.stderr

    assert _tree(d.mnt) == tree0, "the walk created or removed files"
    assert not [p for p in _tree(d.mnt) if ".Trash" in p or p.endswith(".hidden")]
    assert _stored(d) == stored0
    assert d.errors() == errors0, "reads produced cluster/errors lines: %s" % d.new_errors(errors0)
    assert d.store_version() == version0, "reads changed the store version"
