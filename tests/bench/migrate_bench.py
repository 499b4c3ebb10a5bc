"""Live-migration benchmark: a 2-node cluster (tests/cluster/clusterlib.py), each node with its
own libvirtd (tests/cluster/libvirtlib.py), a running TCG guest moved n1 -> n2 -> n1 ... through
`migrate <node>` written to its ctl. Prints, per migration, the downtime and total time QEMU
reports (the target's `virsh domjobinfo --completed`) and the time the ctl write took; the
baseline is the same guest migrated by `virsh migrate` directly between the same two
libvirtds, in the same run. Exit status 1 only when it could not run.

Knobs: MB_ROUNDS (3 migrations per side). Run from the repo root, as root, in a private mount
namespace (run.sh does that)."""
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cluster"))
sys.path.insert(0, str(REPO / "tests" / "system"))
from clusterlib import Cluster, wait_until  # noqa: E402
from libvirtlib import start_libvirtds  # noqa: E402
from pvefslib import read_text, try_write, write_ok  # noqa: E402

ROUNDS = int(os.environ.get("MB_ROUNDS", "3"))
GUEST = REPO / "build" / "guest"


def jobinfo(lv, name):
    out = lv.virsh("domjobinfo", name, "--completed", check=False).stdout
    f = {}
    for line in out.splitlines():
        k, _, v = line.partition(":")
        m = re.match(r"\s*([\d.]+)", v)
        if m:
            f[k.strip()] = float(m.group(1))
    return f.get("Total downtime"), f.get("Time elapsed")


def main():
    p = subprocess.run(["bash", str(REPO / "tests" / "qemu" / "build-guest.sh"), str(GUEST)],
                       capture_output=True, text=True, timeout=600)
    if p.returncode:
        print("migrate bench: cannot build the guest:\n" + p.stderr[-1000:])
        return 1
    with Cluster(2, binary=os.environ.get("PVEFSD", str(REPO / "build" / "pvefsd"))) as c:
        n1, n2 = c[1], c[2]
        lvs = start_libvirtds([n1, n2])
        try:
            for nd, lv in zip((n1, n2), lvs):
                nd.stop()
                nd.extra_args = ["--libvirt", lv.uri]
                nd.start()
            wait_until(lambda: all("libvirt: qemu+tcp://" in read_text(n1.p("nodes/%s/status" % x.name))
                                   for x in (n1, n2)), 20, "both nodes' libvirt to be published")
            os.mkdir(n1.p("nodes/n1/qemu/500"))
            write_ok(n1.p("nodes/n1/qemu/500/config"),
                     "memory: 128\ncores: 1\nkvm: 0\nserial0: socket\nargs: -kernel %s/vmlinux -initrd "
                     "%s/initrd.gz -append \"console=ttyS0 panic=-1\"\n" % (GUEST, GUEST))
            assert try_write(n1.p("nodes/n1/qemu/500/ctl"), "start\n")["writes"] == [0]
            serial = n1.data / "serial" / "500.serial"
            wait_until(lambda: serial.exists() and "PVEFS-TICK 2" in serial.read_text(errors="replace"),
                       120, "the guest to boot")
            ours, base = [], []
            where = 0
            nodes, lvs_ = (n1, n2), lvs
            for i in range(ROUNDS * 2):
                dst = 1 - where
                t = time.monotonic()
                if i % 2 == 0:  # through /pve
                    r = try_write(nodes[where].p("nodes/%s/qemu/500/ctl" % nodes[where].name),
                                  "migrate %s\n" % nodes[dst].name)
                    assert r["writes"] == [0], (r, read_text(n1.p("cluster/errors"))[-500:])
                    wall = time.monotonic() - t
                    wait_until(lambda: os.path.isdir(n1.p("nodes/%s/qemu/500" % nodes[dst].name)), 10, "move")
                    side = ours
                else:  # the same move, straight through virsh (pvefs does not know: move it back after)
                    lvs_[where].virsh("migrate", "--live", "--p2p", "--persistent", "--undefinesource",
                                      "--unsafe", "vm500", lvs_[dst].uri, "tcp://%s" % nodes[dst].addr)
                    wall = time.monotonic() - t
                    side = base
                down, elapsed = jobinfo(lvs_[dst], "vm500")
                side.append((down or 0.0, elapsed or 0.0, wall))
                where = dst
                if i % 2 == 1:  # the catalog still says n?: bring the guest back where pvefs has it
                    home = 0 if os.path.isdir(n1.p("nodes/n1/qemu/500")) else 1
                    if where != home:
                        lvs_[where].virsh("migrate", "--live", "--p2p", "--persistent", "--undefinesource",
                                          "--unsafe", "vm500", lvs_[home].uri, "tcp://%s" % nodes[home].addr)
                        where = home
                time.sleep(1)
            owner = "n1" if os.path.isdir(n1.p("nodes/n1/qemu/500")) else "n2"
            try_write(n1.p("nodes/%s/qemu/500/ctl" % owner), "stop\n")

            def med(xs, k):
                return statistics.median(x[k] for x in xs)
            print("live migration of a 128 MiB TCG guest, %d each, medians:" % ROUNDS)
            print("  downtime (QEMU)  /pve %.0f ms   virsh %.0f ms" % (med(ours, 0), med(base, 0)))
            print("  total (QEMU)     /pve %.0f ms   virsh %.0f ms" % (med(ours, 1), med(base, 1)))
            r = med(ours, 2) / med(base, 2)
            print("  command to done  /pve %.2f s    virsh %.2f s   ratio %.2fx (aim <= 1.5x)%s"
                  % (med(ours, 2), med(base, 2), r, "" if r <= 1.5 else "  MISSED"))
        finally:
            for lv in lvs:
                lv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
