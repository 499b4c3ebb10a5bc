"""LXC benchmarks: how long `echo start > nodes/<n>/lxc/<ctid>/ctl` takes (the write returns when
the container runs) against `lxc-start -d` + `lxc-wait -s RUNNING` of the same LXC config in
the same run, sides alternating; then 50 running containers: the daemon's CPU while idle
(against the 50 LXC monitor processes in the same window) and the latency of `cat status`
(against the same read loop on a same-size file in /dev/shm).

Containers are busybox ones (tools/pvefs-mktemplate). The daemon runs --local in a network
namespace of its own with a bridge. Prints medians and ratios; a missed aim prints MISSED.
Exit status is non-zero only when the benchmark could not run.

Knobs: LB_ITERS (7 starts per side), LB_READS (500), LB_CTS (50), PVEFSD (build/pvefsd).
Run from the repo root as root, inside a private mount namespace (tests/bench/run.sh does that):
    unshare --mount --propagation private /usr/bin/python3 tests/bench/lxc_bench.py"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "system"))
import pvefslib  # noqa: E402

ITERS = int(os.environ.get("LB_ITERS", "7"))
READS = int(os.environ.get("LB_READS", "500"))
NCTS = int(os.environ.get("LB_CTS", "50"))
AIM_START = 1.5       # ctl start may cost up to 1.5x lxc-start + lxc-wait
AIM_IDLE_CPU = 0.02   # the daemon idles under 2% of one CPU with 50 containers running
AIM_READ_P50 = 1e-3   # a status read under 1 ms at the median
MISSES = [0]


def ms(s):
    return "%.2f ms" % (s * 1000)


def aim(ok, line):
    if not ok:
        MISSES[0] += 1
    print(("" if ok else "MISSED ") + line, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)


class NodeShell:
    """A shell in the node's view (its netns, a sysfs of it, the host's cgroups): what
    lxc-start needs to find the bridge, as node-exec does. Commands end with a mark."""

    SETUP = ("keep=$(mktemp -d) && mount --rbind /sys/fs/cgroup $keep && umount -l /sys && "
             "mount -t sysfs sysfs /sys && mount --move $keep /sys/fs/cgroup && rmdir $keep && "
             "exec sh")

    def __init__(self, ns):
        self.p = subprocess.Popen(["nsenter", "--net=/run/netns/" + ns, "--", "unshare", "-m",
                                   "--propagation", "private", "sh", "-c", self.SETUP],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)

    def run(self, cmd):
        self.p.stdin.write("%s; echo \"__rc=$?\"\n" % cmd)
        self.p.stdin.flush()
        out = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("node shell died: " + "".join(out))
            if line.startswith("__rc="):
                return int(line[5:]), "".join(out)
            out.append(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


def cpu_ticks(pids):
    t = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                v = f.read().rsplit(")", 1)[1].split()
            t += int(v[11]) + int(v[12])
        except OSError:
            pass
    return t


def monitor_pids(lxcpath):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    c = f.read()
            except OSError:
                continue
            if c.startswith(b"[lxc monitor]") and lxcpath.encode() in c:
                out.append(int(d))
    return out


def read_once(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.read(fd, 65536):
            pass
    finally:
        os.close(fd)


def main():
    if os.geteuid() != 0 or not shutil.which("lxc-start"):
        print("lxc bench: needs root and lxc (apt install lxc)")
        return 1
    base = Path(tempfile.mkdtemp(prefix="pvefs-lxcbench-"))
    ns = "pvlb-%d" % os.getpid()
    cg = "pvefs-lxcbench-%d" % os.getpid()
    d = None
    shell = None
    try:
        for c in (["netns", "add", ns], ["-n", ns, "link", "set", "lo", "up"],
                  ["-n", ns, "link", "add", "vmbr0", "type", "bridge"],
                  ["-n", ns, "link", "set", "vmbr0", "up"]):
            if sh(["ip"] + c).returncode:
                print("lxc bench: cannot set up netns: ip %s" % " ".join(c))
                return 1
        store = base / "store"
        (store / "template" / "cache").mkdir(parents=True)
        p = sh([str(ROOT / "tools" / "pvefs-mktemplate"), "busybox",
                str(store / "template" / "cache" / "bb.tar.gz")])
        if p.returncode:
            print("lxc bench: template: " + p.stderr)
            return 1
        d = pvefslib.Pvefs(base, binary=os.environ.get("PVEFSD", str(ROOT / "build" / "pvefsd")),
                           netns=ns)
        d.lxc_cgroup = cg
        d.start()
        os.mkdir(d.p("storage/local"))
        pvefslib.write_ok(d.p("storage/local/config"),
                          "type: dir\npath: %s\ncontent: rootdir,vztmpl\n" % store)

        def mkct(ctid):
            os.mkdir(d.ct(ctid))
            pvefslib.write_ok(d.ct(ctid, "config"),
                              "hostname: b%d\nmemory: 64\nswap: 0\nrootfs: local:1\n"
                              "ostemplate: local:vztmpl/bb.tar.gz\nnet0: name=eth0,bridge=vmbr0\n"
                              % ctid)

        def ctl(ctid, cmd):
            r = pvefslib.try_write(d.ct(ctid, "ctl"), cmd + "\n")
            if pvefslib.write_errno(r):
                raise RuntimeError("ct %d %s: %s" % (ctid, cmd, d.errors()[-1:]))

        # -- start latency: pvefs ctl vs lxc-start of the same generated config
        mkct(100)
        ctl(100, "start")
        ctl(100, "stop")
        ref = base / "ref"
        (ref / "r100").mkdir(parents=True)
        conf = (d.data / "lxc" / "100" / "config").read_text()
        conf = conf.replace("%s/100" % cg, "%s-ref/100" % cg).replace("veth100i0", "vethr100i0")
        conf = conf.replace(str(d.data / "lxc" / "100" / "log"), str(ref / "r100" / "log"))
        (ref / "r100" / "config").write_text(conf)
        shell = NodeShell(ns)
        ours, theirs = [], []
        for _ in range(ITERS):
            t0 = time.perf_counter()
            ctl(100, "start")
            ours.append(time.perf_counter() - t0)
            ctl(100, "stop")
            t0 = time.perf_counter()
            rc, out = shell.run("lxc-start -P %s -n r100 -d && lxc-wait -P %s -n r100 -s RUNNING -t 10"
                                % (ref, ref))
            theirs.append(time.perf_counter() - t0)
            if rc:
                raise RuntimeError("lxc-start: " + out)
            shell.run("lxc-stop -P %s -n r100 -k" % ref)
        a, b = statistics.median(ours), statistics.median(theirs)
        aim(a <= AIM_START * b, "ct start: pvefs ctl %s, lxc-start+lxc-wait %s (median of %d): "
            "ratio %.2f (aim <= %.1f)" % (ms(a), ms(b), ITERS, a / b, AIM_START))

        # -- 50 running containers
        t0 = time.perf_counter()
        for i in range(NCTS):
            mkct(200 + i)
            ctl(200 + i, "start")
        print("made and started %d containers in %.1f s" % (NCTS, time.perf_counter() - t0))
        time.sleep(3)
        mons = monitor_pids(str(d.data / "lxc"))
        hz = os.sysconf("SC_CLK_TCK")
        c0, m0, t0 = cpu_ticks([d.pid]), cpu_ticks(mons), time.monotonic()
        time.sleep(10)
        c1, m1, t1 = cpu_ticks([d.pid]), cpu_ticks(mons), time.monotonic()
        dcpu = (c1 - c0) / hz / (t1 - t0)
        mcpu = (m1 - m0) / hz / (t1 - t0)
        aim(dcpu <= AIM_IDLE_CPU,
            "idle with %d running: pvefsd %.2f%% of a CPU, the %d LXC monitors %.2f%% "
            "(ratio %s; aim: pvefsd <= %.0f%%)" % (NCTS, dcpu * 100, len(mons), mcpu * 100,
                                                  "%.1f" % (dcpu / mcpu) if mcpu else "n/a",
                                                  AIM_IDLE_CPU * 100))
        st = d.ct(200, "status")
        size = len(Path(st).read_bytes())
        shm = Path("/dev/shm/pvefs-lxcbench-%d" % os.getpid())
        shm.write_bytes(b"x" * size)
        ours, theirs = [], []
        for _ in range(READS):
            t = time.perf_counter()
            read_once(st)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            read_once(shm)
            theirs.append(time.perf_counter() - t)
        shm.unlink()
        a, b = statistics.median(ours), statistics.median(theirs)
        aim(a <= AIM_READ_P50, "cat status with %d running: %s median, p99 %s; /dev/shm %s: "
            "ratio %.1f (aim: median <= 1 ms)" % (NCTS, ms(a), ms(sorted(ours)[int(READS * .99) - 1]),
                                                   ms(b), a / b))
    finally:
        if shell:
            shell.run("lxc-stop -P %s -n r100 -k >/dev/null 2>&1" % (base / "ref"))
            shell.close()
        if d:
            d.cleanup()
        pvefslib.kill_cgroup(cg + "-ref")
        sh(["ip", "netns", "del", ns])
        pvefslib.remove_base(base)
    print("lxc bench: %d aim(s) missed" % MISSES[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
