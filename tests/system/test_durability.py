"""kill -9 of pvefsd in the middle of a stream of writes: every acknowledged write survives."""
import os
import subprocess
import time

import pytest

from pvefslib import NODE, PYTHON, detach, qemu_config, read_text

pytestmark = pytest.mark.budget(90)

NVMS = 24
WRITERS = 3

# One writer process: round-robin over its VMs; each write is a whole config document.
# Before each write it records "try VMID SEQ"; after close() returned 0, "ack VMID SEQ".
WRITER = r'''
import os, sys
mnt, node, log, first, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def doc(vmid, seq):
    return ("#seq %d\ncores: %d\nmemory: %d\nname: vm%d-s%d\nostype: l26\n"
            % (seq, 1 + seq % 8, 512 + 4 * seq, vmid, seq)).encode()
out = open(log, "w", buffering=1)
seq = 0
while True:
    for vmid in range(first, first + count):
        seq += 1
        out.write("try %d %d\n" % (vmid, seq))
        try:
            fd = os.open("%s/nodes/%s/qemu/%d/config" % (mnt, node, vmid), os.O_WRONLY | os.O_TRUNC)
            data = doc(vmid, seq)
            n = os.write(fd, data)
            os.close(fd)
        except OSError as e:
            out.write("err %d %d %d\n" % (vmid, seq, e.errno))
            sys.exit(0)
        if n != len(data):
            out.write("short %d %d\n" % (vmid, seq))
            sys.exit(0)
        out.write("ack %d %d\n" % (vmid, seq))
'''


def doc(vmid, seq):
    return ("#seq %d\ncores: %d\nmemory: %d\nname: vm%d-s%d\nostype: l26\n"
            % (seq, 1 + seq % 8, 512 + 4 * seq, vmid, seq))


def test_kill9_during_writes(pvefs):
    d = pvefs
    vmids = list(range(1000, 1000 + NVMS))
    for v in vmids:
        d.mkvm(v, qemu_config(name="vm%d-init" % v))
    per = NVMS // WRITERS
    logs = [d.base / ("writer%d.log" % i) for i in range(WRITERS)]
    procs = [subprocess.Popen([PYTHON, "-c", WRITER, str(d.mnt), NODE, str(logs[i]), str(vmids[i * per]), str(per)])
             for i in range(WRITERS)]
    try:
        # let a few hundred writes through, then pull the plug
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            acks = sum(l.read_text().count("ack ") for l in logs if l.exists())
            if acks >= 300 or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.05)
        assert all(p.poll() is None for p in procs), "a writer stopped before the kill: %s" % [
            l.read_text().splitlines()[-1:] for l in logs]
        d.kill9()
        for p in procs:
            p.wait(15)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(5)

    last_ack, last_try = {}, {}
    total_acks = 0
    for l in logs:
        for line in l.read_text().splitlines():
            kind, vmid, seq = line.split()[:3]
            if kind == "ack":
                last_ack[int(vmid)] = int(seq)
                total_acks += 1
            elif kind == "try":
                last_try[int(vmid)] = int(seq)
    assert total_acks >= 50, "too few acknowledged writes before the kill: %d" % total_acks
    print("acknowledged writes before kill -9: %d, in flight: %d" % (
        total_acks, sum(1 for v in last_try if last_try[v] != last_ack.get(v))))

    detach(d.mnt)  # the stale-mount handling itself is tested in test_shell.py
    d.start()

    lost = []
    for v in vmids:
        got = read_text(d.vm(v, "config"))
        allowed = [doc(v, last_ack[v])] if v in last_ack else [qemu_config(name="vm%d-init" % v)]
        if v in last_try and last_try[v] != last_ack.get(v):
            allowed.append(doc(v, last_try[v]))  # in flight at the kill: may or may not have landed
        if got not in allowed:
            lost.append((v, last_ack.get(v), got.splitlines()[:1]))
    assert not lost, "acknowledged writes lost after kill -9 (vmid, last acked seq, found): %s" % lost[:10]
    assert sorted(int(x) for x in os.listdir(d.p("nodes/%s/qemu" % NODE))) == vmids


def test_concurrent_writers_never_interleave(pvefs):
    """Two writers hammer one config while a reader reads it: every read is one whole document."""
    d = pvefs
    d.mkvm(100, qemu_config(name="init"))
    cfg = d.vm(100, "config")
    docs = {qemu_config(name="init"), doc(100, 1), doc(100, 2)}
    code = r'''
import os, sys
path, data, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
half = len(data) // 2
for i in range(n):
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, data[:half])   # two write(2)s per document, to invite interleaving
    os.write(fd, data[half:])
    os.close(fd)
'''
    procs = [subprocess.Popen([PYTHON, "-c", code, str(cfg), doc(100, k), "150"]) for k in (1, 2)]
    seen = set()
    try:
        while any(p.poll() is None for p in procs):
            got = read_text(cfg)
            assert got in docs, "read a document that nobody wrote: %r" % got
            seen.add(got)
        assert [p.wait(30) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    final = read_text(cfg)
    assert final in (doc(100, 1), doc(100, 2)), final


def test_open_handle_keeps_its_snapshot(pvefs):
    """A reader that opened the config before a change reads the old document to the end."""
    d = pvefs
    old = qemu_config(name="old-doc", comment="x" * 3000)
    new = qemu_config(name="new-doc", memory=4096)
    d.mkvm(100, old)
    with open(d.vm(100, "config"), "rb") as f:
        head = f.read(100)
        subprocess.run([PYTHON, "-c", "open(%r, 'w').write(%r)" % (str(d.vm(100, "config")), new)],
                       check=True, timeout=20)
        rest = f.read()
    assert (head + rest).decode() == old
    assert read_text(d.vm(100, "config")) == new
