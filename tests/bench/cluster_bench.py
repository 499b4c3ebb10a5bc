"""pvefs cluster benchmarks (run by tests/bench/cluster.sh, as root, in a private mount namespace).

A real 3-node cluster from tests/cluster/clusterlib.py (one network namespace, corosync and
cluster-mode pvefsd per node), plus a --local single-node pvefsd and the bare-CPG probe
build/bench/cpglat as baselines measured in the same run:

  1. latency of an acknowledged 4 KiB config write on n1 (open O_WRONLY|O_TRUNC, write, close)
     vs the same write on the --local daemon vs a bare 4 KiB CPG AGREED round trip in n1's netns
  2. config writes per second: 1 writer (n1) and 3 writers (one per node, own VMs), cluster and
     local; then the 3 nodes must converge to one digest
  3. a node joining with an EMPTY data dir syncs 10,000 objects (vs a restart that keeps its data)
  4. kill -9 of a node (its corosync and pvefsd): time until `online: 0` shows in
     nodes/n3/status on n1 (vs when corosync on n1 delivers the new membership)

Like tests/bench/run.sh: rounds alternate the sides, only ratios within one run are meant to be
compared, a missed aim prints MISSED and still exits 0. Exit status 1 only when a part could not
run. Knobs (environment): CB_ROUNDS=3, CB_ITERS=300 (latency samples per side and round),
CB_TPUT_SECS=2, CB_TPUT_ROUNDS=2, CB_OBJECTS=10000, CB_KILLS=3, CB_BUDGET=420 (s; then every
daemon is SIGKILLed so nothing hangs), CPGLAT=build/bench/cpglat.
"""
import collections
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "cluster"))
sys.path.insert(0, str(REPO / "tests" / "system"))
import clusterlib  # noqa: E402
import pvefslib  # noqa: E402
from clusterlib import Cluster, HarnessError, wait_until  # noqa: E402
from pvefslib import read_text, write_ok  # noqa: E402

ROUNDS = int(os.environ.get("CB_ROUNDS", "3"))
ITERS = int(os.environ.get("CB_ITERS", "300"))
TPUT_SECS = float(os.environ.get("CB_TPUT_SECS", "2"))
TPUT_ROUNDS = int(os.environ.get("CB_TPUT_ROUNDS", "2"))
OBJECTS = int(os.environ.get("CB_OBJECTS", "10000"))
KILLS = int(os.environ.get("CB_KILLS", "3"))
BUDGET = int(os.environ.get("CB_BUDGET", "420"))
CPGLAT = os.environ.get("CPGLAT") or str(REPO / "build" / "bench" / "cpglat")
CFG_SIZE = 4096
LAT_AIM = 3.0            # replicated p50 <= 3 x bare CPG p50
POLL = 0.010             # status polling interval (s)
DOWN_BOUND = 30.0        # s to wait for `online: 0`

T_START = time.monotonic()
MISSES = 0
FAILED = []              # parts that could not run
SUMMARY = []
PROBLEMS = []            # daemon problems seen (printed at the end)


def log(msg):
    print("[bench %5.1fs] %s" % (time.monotonic() - T_START, msg), file=sys.stderr, flush=True)


# the harness logs to stdout; keep stdout for the report
clusterlib.log = lambda msg: log("cluster: " + msg)


def out(s=""):
    print(s, flush=True)


SECTION = ""             # "1." .. "4.": the part a summary line belongs to


def summary(s, show=True):
    if show:
        out(s)
    SUMMARY.append("%-3s%s" % (SECTION, s.strip()))


def problem(s):
    PROBLEMS.append(s)
    log("daemon problem: " + s)


# ---------------------------------------------------------------------------- formatting
def pct(v, p):
    """v sorted; the same index rule as cpglat.c."""
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(len(v) * p))]


def median(v):
    v = sorted(v)
    if not v:
        return float("nan")
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def ftime(s):
    if s != s:
        return "n/a"
    if s >= 1:
        return "%.2fs" % s
    if s >= 1e-3:
        return "%.2fms" % (s * 1e3)
    return "%.0fus" % (s * 1e6)


def frate(r):
    if r >= 1e4:
        return "%.0fk/s" % (r / 1e3)
    if r >= 1e3:
        return "%.1fk/s" % (r / 1e3)
    return "%.0f/s" % r


def ratio(a, b):
    if not b or a != a or b != b:
        return float("nan")
    return a / b


def fratio(r):
    if r != r:
        return "n/a"
    return "%.2g" % r if r < 0.1 else "%.2f" % r


def verdict(ok):
    global MISSES
    if ok:
        return "ok"
    MISSES += 1
    return "MISSED"


# ---------------------------------------------------------------------------- writes
def config_doc(k):
    """A valid qemu config of exactly CFG_SIZE bytes: '#' comment lines (the first carries k,
    so consecutive writes differ), then two keys."""
    tail = b"cores: 2\nmemory: 1024\n"
    head = b"#pvefs cluster bench write %010d\n" % k
    body = CFG_SIZE - len(tail) - len(head)
    lines = []
    while body > 0:
        n = min(64, body)
        if body - n == 1:  # never a bare "\n" line
            n -= 1
        lines.append(b"#" + b"x" * (n - 2) + b"\n")
        body -= n
    doc = head + b"".join(lines) + tail
    assert len(doc) == CFG_SIZE
    return doc


def write_doc(path, data):
    """open(O_WRONLY|O_TRUNC), one write, close; raises OSError. Short write -> EIO."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        n = os.write(fd, data)
    except OSError:
        try:
            os.close(fd)
        except OSError:
            pass
        raise
    os.close(fd)
    if n != len(data):
        raise OSError(errno.EIO, "short write (%d of %d)" % (n, len(data)))


def timed_writes(path, iters, base_k):
    """iters acknowledged writes; returns (seconds per write list, {errno name: count})."""
    lat, errs = [], collections.Counter()
    for i in range(iters):
        doc = config_doc(base_k + i)
        t0 = time.perf_counter()
        try:
            write_doc(path, doc)
        except OSError as e:
            errs[errno.errorcode.get(e.errno, str(e.errno))] += 1
            continue
        lat.append(time.perf_counter() - t0)
    return lat, errs


def cpg_round(nd, iters):
    """Bare CPG AGREED 4 KiB round trips in nd's netns; returns seconds per round trip."""
    p = subprocess.run(["nsenter", "--net=" + nd.nspath, "--", CPGLAT, "-t", "60", "lat", str(iters),
                        str(CFG_SIZE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=90)
    if p.returncode != 0:
        raise HarnessError("cpglat lat failed (rc=%d): %s" % (p.returncode, p.stderr.strip()))
    return [float(l) / 1e6 for l in p.stdout.splitlines() if l and not l.startswith("RESULT")]


SLOW_WRITE = 1.0         # s: a write slower than this is reported as a daemon problem


class Writer(threading.Thread):
    """Writes config_doc(k) round-robin into `paths` for `secs`; counts the writes acknowledged
    within that window, errors, and writes slower than SLOW_WRITE."""

    def __init__(self, name, paths, start_evt, secs, base_k):
        super().__init__(name=name, daemon=True)
        self.paths, self.start_evt, self.secs, self.k = paths, start_evt, secs, base_k
        self.acks, self.errs, self.slow, self.slowest = 0, collections.Counter(), 0, 0.0

    def run(self):
        self.start_evt.wait()
        deadline = time.monotonic() + self.secs
        i = 0
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                write_doc(self.paths[i % len(self.paths)], config_doc(self.k + i))
                if time.monotonic() <= deadline:
                    self.acks += 1
            except OSError as e:
                self.errs[errno.errorcode.get(e.errno, str(e.errno))] += 1
                if sum(self.errs.values()) > 100:
                    break
            dt = time.monotonic() - t0
            self.slowest = max(self.slowest, dt)
            self.slow += dt > SLOW_WRITE
            i += 1


def run_writers(path_sets, secs, base_k):
    """One thread per path set, started together; returns (aggregate acks/s, errors)."""
    evt = threading.Event()
    ws = [Writer("w%d" % j, ps, evt, secs, base_k + 10_000_000 * j) for j, ps in enumerate(path_sets)]
    for w in ws:
        w.start()
    evt.set()
    for w in ws:
        w.join(secs + 90)
    if any(w.is_alive() for w in ws):
        raise HarnessError("a writer is stuck (a FUSE request did not return within 90 s)")
    errs = collections.Counter()
    for w in ws:
        errs.update(w.errs)
    if any(w.slow for w in ws):
        errs["slower than %gs (slowest %s)" % (SLOW_WRITE, ftime(max(w.slowest for w in ws)))] += sum(
            w.slow for w in ws)
    return sum(w.acks for w in ws) / secs, errs


def errs_text(errs):
    return ", ".join("%s x%d" % kv for kv in sorted(errs.items()))


# ---------------------------------------------------------------------------- status
def status_of(nd, other):
    st = {}
    for line in read_text(nd.p("nodes/%s/status" % other)).splitlines():
        k, _, v = line.partition(":")
        st[k.strip()] = v.strip()
    return st


def member_state(nd, other):
    m = nd.members().get(other)
    return m[1] if m else None


# ---------------------------------------------------------------------------- 1. latency
def bench_latency(c, local, k0):
    global SECTION
    SECTION = "1."
    n1 = c[1]
    os.mkdir(n1.vm(100))
    write_ok(n1.vm(100, "config"), config_doc(0))
    local.mkvm(100, config_doc(0).decode())
    sides = ["replicated", "local", "cpg"]
    samples = {s: [] for s in sides}
    per_round = {s: [] for s in sides}
    errs = {s: collections.Counter() for s in sides}
    for r in range(ROUNDS):
        order = sides[r % 3:] + sides[:r % 3]  # rotate, so a drift in load does not favour one side
        for s in order:
            if s == "cpg":
                lat = cpg_round(n1, ITERS)
            else:
                path = n1.vm(100, "config") if s == "replicated" else local.vm(100, "config")
                lat, e = timed_writes(path, ITERS, k0 + 1000 * r)
                errs[s].update(e)
            samples[s] += lat
            per_round[s].append(median(lat))
    if errs["replicated"]:
        problem("replicated config writes on n1 failed: %s" % errs_text(errs["replicated"]))
    if errs["local"]:
        problem("config writes on the --local daemon failed: %s" % errs_text(errs["local"]))
    stats = {}
    for s in sides:
        v = sorted(samples[s])
        if not v:
            raise HarnessError("no successful %s samples" % s)
        stats[s] = (pct(v, 0.5), pct(v, 0.99), len(v))
    out("1. acknowledged 4 KiB config write on n1 (open O_WRONLY|O_TRUNC + write + close), %d rounds x %d,"
        % (ROUNDS, ITERS))
    out("   sides alternating, percentiles over all samples:")
    label = {"replicated": "replicated (3 nodes)", "local": "local (--local)", "cpg": "bare CPG round trip"}
    for s in sides:
        p50, p99, n = stats[s]
        out("   %-22s p50 %-9s p99 %-9s (n=%d; per-round p50 %s)" % (
            label[s], ftime(p50), ftime(p99), n, " ".join(ftime(x) for x in per_round[s])))
    rl50, rl99 = ratio(stats["replicated"][0], stats["local"][0]), ratio(stats["replicated"][1], stats["local"][1])
    rc50, rc99 = ratio(stats["replicated"][0], stats["cpg"][0]), ratio(stats["replicated"][1], stats["cpg"][1])
    summary("4 KiB config write p50/p99: replicated %s/%s, local %s/%s, bare CPG %s/%s" % (
        ftime(stats["replicated"][0]), ftime(stats["replicated"][1]), ftime(stats["local"][0]),
        ftime(stats["local"][1]), ftime(stats["cpg"][0]), ftime(stats["cpg"][1])), show=False)
    summary("   %-26s p50 %-6s p99 %-6s (context; no aim)" % ("ratio replicated/local", fratio(rl50), fratio(rl99)))
    summary("   %-26s p50 %-6s p99 %-6s (aim p50 <= %g) %s" % ("ratio replicated/bare CPG", fratio(rc50),
                                                              fratio(rc99), LAT_AIM, verdict(rc50 <= LAT_AIM)))
    out()


# ---------------------------------------------------------------------------- 2. throughput
def bench_throughput(c, local, k0):
    global SECTION
    SECTION = "2."
    vms = {i: [200 + 10 * i + j for j in range(4)] for i in (1, 2, 3)}
    cl_paths, lo_paths = {}, {}
    for i in (1, 2, 3):
        nd = c[i]
        cl_paths[i], lo_paths[i] = [], []
        for v in vms[i]:
            os.mkdir(nd.vm(v))
            write_ok(nd.vm(v, "config"), config_doc(0))
            cl_paths[i].append(str(nd.vm(v, "config")))
            # the local daemon has only n1: writer j gets its own VMs there too
            local.mkvm(v, config_doc(0).decode())
            lo_paths[i].append(str(local.vm(v, "config")))
    res = collections.defaultdict(list)
    errs = collections.defaultdict(collections.Counter)
    sides = [("cluster", 1), ("local", 1), ("cluster", 3), ("local", 3)]
    k = k0
    for r in range(TPUT_ROUNDS):
        order = sides if r % 2 == 0 else sides[::-1]
        for side, nw in order:
            paths = cl_paths if side == "cluster" else lo_paths
            rate, e = run_writers([paths[i] for i in range(1, nw + 1)], TPUT_SECS, k)
            k += 100_000_000
            res[(side, nw)].append(rate)
            errs[(side, nw)].update(e)
            if e:
                log("round %d, %s, %d writer(s): %s" % (r + 1, side, nw, errs_text(e)))
        if any(errs.values()) and r + 1 < TPUT_ROUNDS:
            # a failed or stalled write can cost the daemon's 60 s timeout: keep the run short
            out("   (no more rounds after round %d: writes failed or stalled)" % (r + 1))
            break
    for (side, nw), e in sorted(errs.items()):
        if e:
            problem("%s, %d writer(s): writes failed: %s" % (side, nw, errs_text(e)))
    t0 = time.monotonic()
    conv_err = None
    try:
        dig = c.wait_converged(timeout=30)
    except HarnessError as e:
        conv_err = str(e)
    t_conv = time.monotonic() - t0
    m = {key: median(v) for key, v in res.items()}
    out("2. acknowledged 4 KiB config writes per second, %d round(s) x %gs, medians (aggregate over writers;"
        % (len(res[("cluster", 1)]), TPUT_SECS))
    out("   writes acknowledged within the window / window):")
    for nw, who in ((1, "1 writer (n1):"), (3, "3 writers (n1,n2,n3; own VMs):")):
        summary("   %-31s cluster %-8s local %-8s ratio cluster/local %s" % (
            who, frate(m[("cluster", nw)]), frate(m[("local", nw)]),
            fratio(ratio(m[("cluster", nw)], m[("local", nw)]))))
    summary("   %-31s cluster %-8s local %s" % (
        "scaling, 3 writers / 1 writer:", fratio(ratio(m[("cluster", 3)], m[("cluster", 1)])),
        fratio(ratio(m[("local", 3)], m[("local", 1)]))))
    out("   per-round: " + "; ".join("%s/%dw %s" % (s, n, " ".join(frate(x) for x in res[(s, n)])) for s, n in sides))
    if conv_err:
        problem("after the 3-writer runs the digests did not converge within 30 s: %s" % conv_err)
        summary("   after the 3-writer runs: digests NOT equal after 30 s")
    else:
        summary("   after the 3-writer runs: all 3 digests equal (%s, version %d) %s later" % (
            dig[0], dig[1], ftime(t_conv)))
    out()


# ---------------------------------------------------------------------------- 3. join sync
def create_objects(nd, vmid, count, threads=1):
    """count small files in one VM dir on nd. One thread by default: concurrent creates in one
    directory made the daemon fail (malformed changes, 60 s ETIMEDOUT) when this was written."""
    d = nd.vm(vmid)
    os.mkdir(d)
    errs = collections.Counter()
    lock = threading.Lock()

    def work(j):
        for k in range(j, count, threads):
            try:
                with open(os.path.join(d, "s%05d" % k), "w") as f:
                    f.write("bench object %d\n" % k)
            except OSError as e:
                with lock:
                    errs[errno.errorcode.get(e.errno, str(e.errno))] += 1

    ts = [threading.Thread(target=work, args=(j,), daemon=True) for j in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(600)
    return errs


def wait_same_digest(c, a, b, timeout):
    def same():
        da, db = c[a].digest(), c[b].digest()
        return da == db or clusterlib.Pending((da, db))
    return wait_until(same, timeout, "n%d and n%d show the same digest" % (b, a), interval=0.02)


def bench_sync(c):
    global SECTION
    SECTION = "3."
    n1, n3 = c[1], c[3]
    rc = n3.stop()
    if rc != 0:
        problem("n3's pvefsd exited %s on SIGTERM" % rc)
    t0 = time.monotonic()
    errs = create_objects(n1, 500, OBJECTS)
    t_create = time.monotonic() - t0
    if errs:
        problem("creating %d files on n1 failed: %s" % (OBJECTS, errs_text(errs)))
    c.wait_converged([1, 2], timeout=60)
    entries = re.search(r"^pvefs_store_entries\s+(\d+)", n1.metrics(), re.M)
    entries = int(entries.group(1)) if entries else -1
    # a new node: nothing in its data dir
    shutil.rmtree(n3.data)
    n3.data.mkdir()
    t0 = time.monotonic()
    t_up = n3.start(timeout=120)
    wait_same_digest(c, 1, 3, 150)
    t_sync = time.monotonic() - t0
    # baseline: the same node restarting with its data dir intact (nothing to transfer)
    rc = n3.stop()
    if rc != 0:
        problem("n3's pvefsd exited %s on SIGTERM (after the sync)" % rc)
    t0 = time.monotonic()
    t_up2 = n3.start(timeout=60)
    wait_same_digest(c, 1, 3, 60)
    t_restart = time.monotonic() - t0
    # not timed: the joined node really has the files
    names = [x for x in os.listdir(n3.p("nodes/n1/qemu/500")) if re.match(r"s\d{5}$", x)]
    bad = [k for k in range(0, OBJECTS, max(1, OBJECTS // 200))
           if read_text(n3.p("nodes/n1/qemu/500/s%05d" % k)) != "bench object %d\n" % k]
    if len(names) != OBJECTS or bad:
        problem("after the join n3 lists %d of the %d files in nodes/n1/qemu/500, %d sampled files differ"
                % (len(names), OBJECTS, len(bad)))
    out("3. n3 joins with an EMPTY data dir; n1 holds %d objects in its store (%d scratch files created"
        % (entries, OBJECTS))
    out("   on n1 while n3 was stopped, in %s = %s, one open/write/close loop)" % (ftime(t_create),
                                                                                    frate(OBJECTS / t_create)))
    summary("   join with empty data dir: same digest as n1 after %-7s (mounted+quorate after %s; %s objects)" % (
        ftime(t_sync), ftime(t_up), frate(entries / t_sync) if t_sync > 0 else "n/a"))
    summary("   baseline restart with its data: same digest after %-7s (mounted+quorate after %s)" % (
        ftime(t_restart), ftime(t_up2)))
    summary("   ratio empty-join/restart %s; empty-join/creating them on n1 %s (context; no aim)" % (
        fratio(ratio(t_sync, t_restart)), fratio(ratio(t_sync, t_create))))
    out()


# ---------------------------------------------------------------------------- 4. node death
class Watch:
    """cpglat watch NODEID in a node's netns: monotonic times of READY and DOWN."""

    def __init__(self, nd, nodeid):
        self.p = subprocess.Popen(["nsenter", "--net=" + nd.nspath, "--", CPGLAT, "-t", "60", "watch", str(nodeid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        self.ready = threading.Event()
        self.down = None
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            f = line.split()
            if f and f[0] == "READY":
                self.ready.set()
            elif f and f[0] == "DOWN":
                self.down = float(f[1])

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(5)
        self.t.join(5)


def bench_kill(c):
    global SECTION
    SECTION = "4."
    n1, n3 = c[1], c[3]
    vis, conf, memb = [], [], []
    notes = []
    for rep in range(KILLS):
        # precondition: n1 shows n3 online
        try:
            wait_until(lambda: status_of(n1, "n3").get("online") == "1" or clusterlib.Pending(status_of(n1, "n3")),
                       15, "n1: nodes/n3/status online: 1", interval=0.05)
        except HarnessError as e:
            problem("n1 never showed n3 `online: 1` (15 s) before kill %d, so `online: 0` would mean nothing: %s"
                    % (rep + 1, e))
            break
        w = Watch(n1, 3)
        try:
            if not w.ready.wait(10):
                raise HarnessError("cpglat watch did not see node 3 in n1's membership: %s" % w.p.stderr.read()
                                   if w.p.poll() is not None else "cpglat watch: no READY in 10 s")
            t0 = time.monotonic()
            os.kill(n3.cs.pid, signal.SIGKILL)
            os.kill(n3.proc.pid, signal.SIGKILL)
            t_vis = t_memb = None
            last = None
            while time.monotonic() - t0 < DOWN_BOUND:
                now = time.monotonic()
                try:
                    st = status_of(n1, "n3")
                    last = st
                    if t_vis is None and st.get("online") == "0":
                        t_vis = time.monotonic() - t0
                    if t_memb is None and member_state(n1, "n3") == "offline":
                        t_memb = time.monotonic() - t0
                except OSError as e:
                    last = e
                if t_vis is not None and t_memb is not None:
                    break
                time.sleep(max(0.0, POLL - (time.monotonic() - now)))
            deadline = time.monotonic() + 10
            while w.down is None and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            w.close()
        if t_vis is None:
            problem("kill %d: n1 did not show `online: 0` for n3 within %.0f s (last %r)" % (rep + 1, DOWN_BOUND, last))
        vis.append(t_vis)
        memb.append(t_memb)
        conf.append(w.down - t0 if w.down is not None else None)
        notes.append("kill %d: online:0 %s, cluster/members offline %s, corosync membership %s" % (
            rep + 1, ftime(t_vis) if t_vis is not None else ">%ds" % DOWN_BOUND,
            ftime(t_memb) if t_memb is not None else "n/a", ftime(conf[-1]) if conf[-1] is not None else "n/a"))
        log(notes[-1])
        # reap, then bring the node back
        n3.kill9()
        n3.corosync_kill9()
        if rep + 1 < KILLS:
            n3.corosync_start()
            c.wait_quorum()
            n3.start()
    ok = [v for v in vis if v is not None]
    out("4. kill -9 of n3 (its corosync and its pvefsd at once): until n1's nodes/n3/status shows `online: 0`")
    out("   (polled every %d ms, bound %d s); baseline: corosync on n1 delivers the membership without n3" % (
        POLL * 1000, DOWN_BOUND))
    for s in notes:
        out("   " + s)
    if not vis:
        summary("   node death: not measured")
        return
    cb = [v for v in conf if v is not None]
    mv, mc = median(ok) if len(ok) == len(vis) else float("nan"), median(cb)
    summary("   node death visible: median %-7s (%d kills); corosync membership median %s; ratio %s (context; no aim)"
            % (ftime(mv) if mv == mv else ">%ds" % DOWN_BOUND, len(vis), ftime(mc), fratio(ratio(mv, mc))))
    out()


# ---------------------------------------------------------------------------- daemon logs
NOISE = re.compile(r"tree: created")


def log_problems(name, paths):
    lines = collections.Counter()
    total = 0
    for p in paths:
        try:
            text = Path(p).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            total += 1
            if NOISE.search(line):
                continue
            # fold numbers (timestamps, pids, versions) so that repeats count as one
            lines[re.sub(r"\d+", "#", line.strip())[:160]] += 1
    return total, lines


def report_logs(c, local):
    out("daemon logs (numbers folded to #):")
    groups = [("n%d" % nd.i, nd.logs) for nd in c] + [("local", local.logs if local else [])]
    for name, paths in groups:
        total, lines = log_problems(name, paths)
        out("   %-5s %d start(s), %d line(s)%s" % (name, len(paths), total, ":" if lines else ""))
        for l, n in lines.most_common(8):
            out("        %5d  %s" % (n, l))
        for mark in ("AddressSanitizer", "runtime error:", "Segmentation", "assert"):
            if any(mark in l for l in lines):
                problem("%s: '%s' in its output" % (name, mark))
    for nd in c:
        if nd.proc is not None and nd.proc.poll() is not None and nd.proc.returncode not in (0, -9):
            problem("n%d's pvefsd exited with status %s" % (nd.i, nd.proc.returncode))


# ---------------------------------------------------------------------------- main
def part(name, fn, *a):
    t0 = time.monotonic()
    try:
        fn(*a)
        log("%s took %.1f s" % (name, time.monotonic() - t0))
        return True
    except Exception as e:  # noqa: BLE001 (reported; the other parts still run)
        FAILED.append(name)
        out("%s: could not run: %s" % (name, str(e).splitlines()[0] if str(e) else repr(e)))
        log("%s failed after %.1f s:\n%s" % (name, time.monotonic() - t0, traceback.format_exc()))
        out()
        return False


class BudgetExceeded(BaseException):
    """Not an Exception: part() must not swallow it."""


def main():
    if os.geteuid() != 0:
        print("cluster bench: must run as root", file=sys.stderr)
        return 1
    # (/proc/1/ns/mnt may be unreadable here, so cluster.sh's marker counts too)
    if not (os.environ.get("PVCLUSTER_PRIVATE_NS") or pvefslib.in_private_mount_ns()):
        print("cluster bench: run through tests/bench/cluster.sh (a private mount namespace)", file=sys.stderr)
        return 1
    for f in (clusterlib.PVEFSD, CPGLAT):
        if not os.access(f, os.X_OK):
            print("cluster bench: %s missing" % f, file=sys.stderr)
            return 1

    def on_alarm(signum, frame):
        raise BudgetExceeded("the cluster bench exceeded its %d s budget" % BUDGET)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(BUDGET)

    def dog_fn():
        clusterlib.kill_all_live_daemons()
        pvefslib.kill_all_live_daemons()

    dog = threading.Timer(BUDGET + 15, dog_fn)
    dog.daemon = True
    dog.start()

    out("pvefs cluster benchmarks: 3 nodes (one netns, corosync token %d ms and cluster-mode pvefsd each),"
        % clusterlib.TOKEN_MS)
    out("baselines from the same run: a --local pvefsd and bare CPG (build/bench/cpglat in n1's netns)")
    out("machine: %d cores, load %s" % (os.cpu_count(), " ".join(open("/proc/loadavg").read().split()[:3])))
    out()
    local = None
    lbase = pvefslib.make_base("pvefs-cb-local-")
    ran = False
    try:
        local = pvefslib.Pvefs(lbase)
        local.start()
        c = Cluster(3)
        try:
            c.setup()
            log("cluster up: %s" % ", ".join("%s %.2fs" % kv for kv in c.timings.items()))
            part("1. write latency", bench_latency, c, local, 1_000_000)
            part("2. write throughput", bench_throughput, c, local, 2_000_000_000)
            local.stop(check=False)  # its CPU is not needed any more
            part("3. join sync", bench_sync, c)
            if all(nd.alive() for nd in c):
                part("4. node death", bench_kill, c)
            else:
                FAILED.append("4. node death")
                out("4. node death: not run: a pvefsd is not running (%s)" % ", ".join(
                    nd.name for nd in c if not nd.alive()))
            ran = True
        finally:
            try:
                report_logs(c, local)  # also after a failed set-up: cleanup removes the logs
            except Exception as e:  # noqa: BLE001
                log("reading the daemon logs failed: %r" % e)
            t0 = time.monotonic()
            c.cleanup()
    except BudgetExceeded as e:
        FAILED.append(str(e))
        out("cluster bench: %s" % e)
    except Exception as e:  # noqa: BLE001
        FAILED.append("set-up: %s" % str(e).splitlines()[0])
        out("cluster bench: could not run: %s" % e)
        log(traceback.format_exc())
    finally:
        signal.alarm(0)
        if local is not None:
            local.cleanup()
        pvefslib.remove_base(lbase)
        dog.cancel()
    if ran:
        log("cleanup took %.1f s" % (time.monotonic() - t0))
    out()
    if PROBLEMS:
        out("daemon problems seen:")
        for p in PROBLEMS:
            out("   - " + p)
        out()
    out("cluster summary (%.0f s, %d aim(s) missed%s):" % (time.monotonic() - T_START, MISSES,
                                                          ", could not run: " + "; ".join(FAILED) if FAILED else ""))
    for s in SUMMARY:
        out("  " + s)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
