"""Storage benchmarks: RBD volume create, snapshot and clone through /pve against the same
librbd call made directly (python3-rbd, a thin binding over librbd) in the same run, and the
latency of reading ceph/status while Ceph is busy against a direct `status` mon command under
the same load. Starts its own Ceph (tests/ceph/ceph-up.sh, 1 memstore OSD + mgr) and a --local
pvefsd. Prints medians and ratios; a missed aim prints MISSED. Exit status is non-zero only
when the benchmark could not run.

Knobs: SB_ITERS (30), PVEFSD (build/pvefsd).
Run from the repo root as root, inside a private mount namespace (storage.sh does that)."""
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "system"))
import rados  # noqa: E402
import rbd  # noqa: E402

import pvefslib  # noqa: E402
from cephlib import Ceph  # noqa: E402

ITERS = int(os.environ.get("SB_ITERS", "30"))
AIM_OVERHEAD = 3.0  # /pve may cost up to 3x the bare librbd call (the catalog commit included)


def ms(s):
    return "%.2f ms" % (s * 1000)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def report(name, ours, base, aim=AIM_OVERHEAD):
    o, b = statistics.median(ours), statistics.median(base)
    ratio = o / b if b > 0 else float("inf")
    print("%-28s /pve %s  librbd %s  ratio %.2fx (aim <= %.1fx)%s" %
          (name, ms(o), ms(b), ratio, aim, "" if ratio <= aim else "  MISSED"))
    return ratio


def main():
    binary = os.environ.get("PVEFSD", str(ROOT / "build" / "pvefsd"))
    ceph = Ceph(osds=1).start()
    print("ceph: up in %.1f s" % ceph.start_s)
    d = pvefslib.Pvefs(pvefslib.make_base("pvefs-sbench-"), binary=binary)
    cluster = None
    try:
        d.start()
        pvefslib.write_ok(d.p("ceph/config"), "conf: %s\n" % ceph.conf)
        os.mkdir(d.p("ceph/pools/bench"))
        os.mkdir(d.p("storage/rb"))
        pvefslib.write_ok(d.p("storage/rb/config"), "type: rbd\npool: bench\n")
        vols = d.p("storage/rb/volumes")
        cluster = rados.Rados(conffile=str(ceph.conf))
        cluster.connect()
        io = cluster.open_ioctx("bench")
        r = rbd.RBD()
        size = 64 << 20
        feats = (rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP |
                 rbd.RBD_FEATURE_FAST_DIFF | rbd.RBD_FEATURE_DEEP_FLATTEN)
        create_p, create_d, snap_p, snap_d, clone_p, clone_d = [], [], [], [], [], []
        for i in range(ITERS):
            # alternate which side goes first, so drift on this shared machine hits both
            ours = "vm-%d-disk-0" % (1000 + i)
            theirs = "direct-%d" % i
            pair = [lambda: create_p.append(timed(lambda: pvefslib.write_ok(
                        d.p("storage/rb/ctl"), "alloc %s %d\n" % (ours, size)))),
                    lambda: create_d.append(timed(lambda: r.create(io, theirs, size, old_format=False,
                                                                    features=feats)))]
            for f in (pair if i % 2 == 0 else pair[::-1]):
                f()
            pair = [lambda: snap_p.append(timed(lambda: os.mkdir(vols / ours / "snapshots" / "s1"))),
                    lambda: snap_d.append(timed(lambda: _snap(io, theirs)))]
            for f in (pair if i % 2 == 0 else pair[::-1]):
                f()
            pair = [lambda: clone_p.append(timed(lambda: pvefslib.write_ok(
                        vols / ours / "ctl", "clone vm-%d-disk-0 s1\n" % (5000 + i)))),
                    lambda: clone_d.append(timed(lambda: r.clone(io, theirs, "s1", io, theirs + "-c",
                                                                 features=feats)))]
            for f in (pair if i % 2 == 0 else pair[::-1]):
                f()
        print("rbd volume ops, %d each, median of each:" % ITERS)
        report("create (ctl alloc)", create_p, create_d)
        report("snapshot", snap_p, snap_d)
        report("clone", clone_p, clone_d)

        # ceph/status while Ceph is busy writing
        stop = threading.Event()
        wrote = [0]

        def load():
            lio = cluster.open_ioctx("bench")
            blob = os.urandom(4 << 20)
            k = 0
            while not stop.is_set():
                lio.write_full("load-%d" % (k % 16), blob)
                wrote[0] += len(blob)
                k += 1
            lio.close()
        th = threading.Thread(target=load)
        th.start()
        time.sleep(1)
        ours, direct = [], []
        cmd = json.dumps({"prefix": "status", "format": "json"})
        for i in range(200):
            ours.append(timed(lambda: pvefslib.read_bytes(d.p("ceph/status"))))
            direct.append(timed(lambda: cluster.mon_command(cmd, b"")))
        stop.set()
        th.join()
        print("while Ceph wrote %.0f MiB in the background:" % (wrote[0] / 1048576))
        o, b = statistics.median(ours), statistics.median(direct)
        p99 = sorted(ours)[int(len(ours) * 0.99) - 1]
        print("%-28s /pve %s (p99 %s)  mon_command status %s  ratio %.2fx (aim <= 1.0x: served from"
              " the monitor's figures)%s" % ("cat ceph/status", ms(o), ms(p99), ms(b), o / b,
                                            "" if o <= b else "  MISSED"))
        io.close()
    finally:
        if cluster:
            cluster.shutdown()
        d.cleanup()
        pvefslib.remove_base(d.base)
        ceph.stop()
    return 0


def _snap(io, name):
    with rbd.Image(io, name) as img:
        img.create_snap("s1")


if __name__ == "__main__":
    sys.exit(main())
