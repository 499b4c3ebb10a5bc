"""HA failover benchmark: how long from a node's death (pvefsd, corosync and the container
all SIGKILLed at once) until its HA container runs on another node, on a real 3-node cluster
with busybox containers on a shared dir storage. HB_RUNS runs (5); each kills the node that
runs the container at that moment, measures, and brings the node back for the next run.

The timeouts are pvefsd's defaults (round 2 s, lease 20 s, self-fence 10 s, margin 4 s)
unless PVEFS_HA_* are set in the environment: failover is then expected in 24-30 s, the
lease plus the margin plus up to two rounds and a start; the aim is under 30 s (Proxmox
takes about two minutes). The lower bound the timeouts allow (lease + margin) is the
baseline each run is compared with. Prints each run, the median and
the worst. This is a benchmark, not a test: it takes minutes, and exits non-zero only when
it could not run.

Run from the repo root as root, inside a private mount namespace (tests/bench/run.sh does):
    unshare --mount --propagation private /usr/bin/python3 tests/bench/ha_bench.py"""
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
sys.path.insert(0, str(ROOT / "tests" / "system"))
import pvefslib  # noqa: E402
from clusterlib import Cluster, wait_until  # noqa: E402
from pvefslib import cgroup_dirs, kill_cgroup, write_ok  # noqa: E402

RUNS = int(os.environ.get("HB_RUNS", "5"))
CTID = 600


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def running_on(c):
    out = []
    for nd in c:
        for d in cgroup_dirs(nd.lxc_cgroup):
            if ".monitor" in d or not re.search(r"/%d(/|$)" % CTID, d):
                continue
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    if f.read().split():
                        out.append(nd)
                        break
            except OSError:
                pass
    return out


def timeouts():
    to = {"round": 2, "lease": 20, "self-fence": 10, "margin": 4}
    for k, env in (("round", "PVEFS_HA_ROUND"), ("lease", "PVEFS_HA_LEASE"),
                   ("self-fence", "PVEFS_HA_FENCE"), ("margin", "PVEFS_HA_MARGIN")):
        if os.environ.get(env):
            to[k] = float(os.environ[env])
    return to


def main():
    if os.geteuid() != 0 or not os.path.exists("/usr/share/lxc"):
        print("ha bench: not run: needs root and liblxc")
        return 0
    to = timeouts()
    bound = to["lease"] + to["margin"] + 3 * to["round"] + 30
    print("HA failover, %d runs, timeouts: %s" % (RUNS, ", ".join("%s %gs" % kv for kv in to.items())))
    c = Cluster(3)
    times = []
    try:
        c.setup()
        store = c.base / "ct-store"
        (store / "template" / "cache").mkdir(parents=True)
        p = subprocess.run([str(ROOT / "tools" / "pvefs-mktemplate"), "busybox",
                            str(store / "template" / "cache" / "busybox.tar.gz")],
                           capture_output=True, text=True, timeout=300)
        if p.returncode:
            print("ha bench: could not make the template: " + p.stderr[-500:])
            return 1
        n1 = c[1]
        os.mkdir(n1.p("storage/shared"))
        write_ok(n1.p("storage/shared/config"),
                 "type: dir\npath: %s\nshared: 1\ncontent: rootdir,vztmpl\n" % store)
        os.mkdir(n1.p("nodes/n1/lxc/%d" % CTID))
        write_ok(n1.p("nodes/n1/lxc/%d/config" % CTID),
                 "hostname: hb\nmemory: 128\nswap: 0\nostype: unmanaged\nrootfs: shared:1\n"
                 "ostemplate: shared:vztmpl/busybox.tar.gz\n")
        os.mkdir(n1.p("ha/resources/ct:%d" % CTID))
        for run in range(1, RUNS + 1):
            victim = wait_until(lambda: len(running_on(c)) == 1 and running_on(c), bound,
                                "the container to run on one node")[0]
            t0 = time.monotonic()
            victim.kill9()
            victim.corosync_kill9()
            kill_cgroup(victim.lxc_cgroup)
            others = [nd for nd in c if nd is not victim]
            wait_until(lambda: running_on(c) and running_on(c)[0] is not victim, bound,
                       "failover off %s" % victim.name, interval=0.1)
            took = time.monotonic() - t0
            times.append(took)
            where = running_on(c)[0].name
            print("run %d: %s killed, running on %s after %.1f s" % (run, victim.name, where, took),
                  flush=True)
            # the victim comes back (its lease is released once it is a member again)
            victim.corosync_start()
            victim.start()
            c.wait_quorum()
            wait_until(lambda: "node %s: online" % victim.name in others[0].read("ha/status"),
                       bound, "%s to be online for HA again" % victim.name)
    except Exception as e:  # noqa: BLE001
        print("ha bench: could not run: %r" % e)
        for nd in c:
            log("---- %s ----\n%s" % (nd.name, nd.log_tail(20)))
        return 1 if not times else 0
    finally:
        c.cleanup()
    med, floor = statistics.median(times), to["lease"] + to["margin"]
    print("%sfailover: median %.1f s, worst %.1f s over %d runs; ratio to the lower bound "
          "lease+margin (%g s): %.2f; aim: median under 30 s"
          % ("" if med < 30 else "MISSED ", med, max(times), len(times), floor, med / floor))
    return 0


if __name__ == "__main__":
    sys.exit(main())
