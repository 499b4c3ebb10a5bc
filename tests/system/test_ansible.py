"""Ansible (ansible-core, connection=local) managing guest configs through the mount."""
import json
import os
import shutil

import pytest

from pvefslib import QEMU_CANON, QEMU_SHUFFLED, read_text

pytestmark = pytest.mark.budget(120)

ANSIBLE = shutil.which("ansible") or "/usr/bin/ansible"


@pytest.fixture
def ansible(tmp_path):
    if not os.access(ANSIBLE, os.X_OK):
        pytest.skip("ansible-core is not installed (apt install ansible-core)")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LC_ALL": "C.UTF-8",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    }

    calls = [0]

    # Only callbacks that ansible-core ships: the ad-hoc tree callback (-t) writes the
    # module's result as JSON to DIR/<host>; the oneline stdout callback (-o) names the
    # event (SUCCESS, CHANGED, FAILED!), which is how the result is known to have failed
    # (ansible strips "failed" from the result the callbacks see).
    def run(module, args):
        import re
        import subprocess
        calls[0] += 1
        tree = tmp_path / ("tree%d" % calls[0])
        p = subprocess.run([ANSIBLE, "localhost", "-c", "local", "-o", "-t", str(tree), "-m", module, "-a", args],
                           env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=90)
        events = re.findall(r"^localhost \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!)", p.stdout, re.M)
        try:
            res = json.loads((tree / "localhost").read_text())
        except (OSError, ValueError):
            res = None
        if len(events) != 1 or not isinstance(res, dict):
            raise AssertionError("unparsable ansible output rc=%d:\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
        if events[0] == "FAILED!":
            res["failed"] = True
        res["_rc"] = p.returncode
        return res

    run.tmp = tmp_path
    return run


def _q(s):
    """Quote a value for ansible's key=value argument syntax."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def test_copy_idempotent(pvefs, ansible):
    d = pvefs
    d.mkvm(100)
    cfg = str(d.vm(100, "config"))
    r = ansible("copy", "dest=%s content=%s mode=0640" % (cfg, _q(QEMU_CANON)))
    assert r["_rc"] == 0 and not r.get("failed"), r
    assert r["changed"] is True, r
    assert read_text(cfg) == QEMU_CANON
    r = ansible("copy", "dest=%s content=%s mode=0640" % (cfg, _q(QEMU_CANON)))
    assert r["_rc"] == 0 and r["changed"] is False, r
    assert [f for f in os.listdir(d.vm(100)) if f.startswith(".ansible")] == []


def test_template_idempotent(pvefs, ansible):
    d = pvefs
    d.mkvm(100)
    cfg = str(d.vm(100, "config"))
    tpl = ansible.tmp / "vm.conf.j2"
    # keys in canonical (sorted) order, so that the rendered file reads back byte for byte
    tpl.write_text("{% set descr = 'built by ansible' %}{% set cores = 4 %}{% set mem = 2048 %}"
                   "{% set vmname = 'tpl-vm' %}"
                   "#{{ descr }}\ncores: {{ cores }}\nmemory: {{ mem }}\nname: {{ vmname }}\nostype: l26\n")
    want = "#built by ansible\ncores: 4\nmemory: 2048\nname: tpl-vm\nostype: l26\n"
    args = "src=%s dest=%s mode=0644" % (tpl, cfg)
    r = ansible("template", args)
    assert r["_rc"] == 0 and not r.get("failed"), r
    assert r["changed"] is True, r
    assert read_text(cfg) == want
    r = ansible("template", args)
    assert r["_rc"] == 0 and r["changed"] is False, r


def test_copy_noncanonical_then_converges(pvefs, ansible):
    """Copying an unsorted config applies it; the file reads back in canonical form."""
    d = pvefs
    d.mkvm(100)
    cfg = str(d.vm(100, "config"))
    r = ansible("copy", "dest=%s content=%s" % (cfg, _q(QEMU_SHUFFLED)))
    assert r["_rc"] == 0 and r["changed"] is True, r
    assert read_text(cfg) == QEMU_CANON


def test_lineinfile(pvefs, ansible):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    cfg = str(d.vm(100, "config"))
    r = ansible("lineinfile", "path=%s regexp='^memory:' line='memory: 2048'" % cfg)
    assert r["_rc"] == 0 and r["changed"] is True, r
    assert read_text(cfg) == QEMU_CANON.replace("memory: 1024\n", "memory: 2048\n")
    r = ansible("lineinfile", "path=%s regexp='^memory:' line='memory: 2048'" % cfg)
    assert r["_rc"] == 0 and r["changed"] is False, r
    # a new key lands in its sorted place
    r = ansible("lineinfile", "path=%s line='balloon: 512'" % cfg)
    assert r["_rc"] == 0 and r["changed"] is True, r
    want = QEMU_CANON.replace("memory: 1024\n", "memory: 2048\n").replace("boot:", "balloon: 512\nboot:")
    assert read_text(cfg) == want
    r = ansible("lineinfile", "path=%s line='balloon: 512'" % cfg)
    assert r["_rc"] == 0 and r["changed"] is False, r


def test_copy_invalid_fails_cleanly(pvefs, ansible):
    d = pvefs
    d.mkvm(100, QEMU_CANON)
    cfg = str(d.vm(100, "config"))
    before = d.errors()
    r = ansible("copy", "dest=%s content=%s" % (cfg, _q("name: bad\nfrobnicate: 1\n")))
    assert r["_rc"] != 0 and r.get("failed") is True, r
    assert "Invalid argument" in r.get("msg", ""), r.get("msg")
    assert read_text(cfg) == QEMU_CANON
    # (the store version may move: Ansible's temp file is a stored scratch file)
    assert [f for f in os.listdir(d.vm(100)) if f.startswith(".ansible")] == []
    assert any("/qemu/100/config EINVAL" in l for l in d.new_errors(before)), d.errors()[-3:]
    r = ansible("lineinfile", "path=%s regexp='^memory:' line='memory: plenty'" % cfg)
    assert r["_rc"] != 0 and r.get("failed") is True, r
    assert read_text(cfg) == QEMU_CANON
