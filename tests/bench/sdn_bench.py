"""SDN benchmark: `echo apply > sdn/ctl` of a VXLAN zone with 100 VNets on a 3-node cluster,
until every node reports every VNet applied, against the same devices (a bridge, a VXLAN
port with its VNI, local address and two flood entries per VNet) made with iproute2 in 3
fresh namespaces in the same run: once with `ip -batch`/`bridge -batch` per node (the
fastest way a script has), once with one `ip` per device (the usual way). A second apply
with nothing changed shows the cost of checking. Prints times and ratios; MISSED when pvefs
takes more than 3x the batch. Exit status is non-zero only when the benchmark could not run.

Knobs: SB_VNETS (100), PVEFSD (build/pvefsd). Run from the repo root as root, inside a
private mount namespace (tests/bench/run.sh does that):
    unshare --mount --propagation private /usr/bin/python3 tests/bench/sdn_bench.py"""
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
sys.path.insert(0, str(ROOT / "tests" / "system"))
from clusterlib import Cluster, wait_until  # noqa: E402
from pvefslib import read_text, try_write, write_errno, write_ok  # noqa: E402

NV = int(os.environ.get("SB_VNETS", "100"))
AIM = 3.0


def ip_baseline(batch):
    """Seconds to make NV VNets' devices on 3 fresh namespaces with iproute2."""
    names = ["pvsb-%d-%d" % (os.getpid(), i) for i in range(3)]
    addrs = ["10.200.0.%d" % (i + 1) for i in range(3)]
    try:
        for n in names:
            subprocess.run(["ip", "netns", "add", n], check=True)
        t0 = time.perf_counter()
        for i, n in enumerate(names):
            links, fdb = [], []
            for v in range(NV):
                br, vx = "bv%d" % v, "vxlan_bv%d" % v
                links += ["link add %s type bridge" % br, "link set %s mtu 1450 up" % br,
                          "link add %s type vxlan id %d local %s dstport 4789 nolearning"
                          % (vx, 1000 + v, addrs[i]),
                          "link set %s mtu 1450 master %s up" % (vx, br)]
                fdb += ["fdb append 00:00:00:00:00:00 dev %s dst %s" % (vx, a)
                        for a in addrs if a != addrs[i]]
            if batch:
                with tempfile.NamedTemporaryFile("w") as f, tempfile.NamedTemporaryFile("w") as g:
                    f.write("\n".join(links) + "\n")
                    f.flush()
                    g.write("\n".join(fdb) + "\n")
                    g.flush()
                    subprocess.run(["ip", "-n", n, "-batch", f.name], check=True)
                    subprocess.run(["ip", "netns", "exec", n, "bridge", "-batch", g.name], check=True)
            else:
                for cmd in links:
                    subprocess.run(["ip", "-n", n] + cmd.split(), check=True)
                for cmd in fdb:
                    subprocess.run(["ip", "netns", "exec", n, "bridge"] + cmd.split(), check=True)
        return time.perf_counter() - t0
    finally:
        for n in names:
            subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)


def all_applied(c, gen):
    for nd in c:
        st = read_text(nd.p("sdn/status"))
        if not re.search(r"^generation: %d$" % gen, st, re.M):
            return False
        if not all(re.search(r"^node\.%s: applied$" % x.name, st, re.M) for x in c):
            return False
    return True


def apply(c):
    t0 = time.perf_counter()
    r = try_write(c[1].p("sdn/ctl"), "apply\n")
    if write_errno(r):
        raise RuntimeError("apply failed: %s" % c[1].read("cluster/errors")[-400:])
    gen = int(re.search(r"generation: (\d+)", c[1].read("sdn/status")).group(1))
    wait_until(lambda: all_applied(c, gen), 300, "every node to apply generation %d" % gen,
               interval=0.02)
    return time.perf_counter() - t0


def main():
    if os.geteuid() != 0:
        print("sdn bench: must run as root")
        return 1
    os.environ.setdefault("PVEFSD", str(ROOT / "build" / "pvefsd"))
    c = Cluster(3, binary=os.environ["PVEFSD"])
    try:
        c.setup()
        n1 = c[1]
        os.mkdir(n1.p("sdn/zones/bz"))
        write_ok(n1.p("sdn/zones/bz/config"), "type: vxlan\nmtu: 1450\n")
        for v in range(NV):
            os.mkdir(n1.p("sdn/vnets/bv%d" % v))
            write_ok(n1.p("sdn/vnets/bv%d/config" % v), "zone: bz\ntag: %d\n" % (1000 + v))
        first = apply(c)
        again = apply(c)
        batch = ip_baseline(True)
        single = ip_baseline(False)
        ok = first <= AIM * batch
        print("%sapply %d VNets on 3 nodes: pvefs %.2f s; iproute2 -batch %.2f s (ratio %.1f, "
              "aim <= %.0f), one ip per device %.2f s (ratio %.2f); apply again, nothing to "
              "change: %.2f s" % ("" if ok else "MISSED ", NV, first, batch, first / batch, AIM,
                                  single, first / single, again), flush=True)
        return 0
    finally:
        c.cleanup()


if __name__ == "__main__":
    sys.exit(main())
