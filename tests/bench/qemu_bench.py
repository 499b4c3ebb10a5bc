"""QEMU benchmarks: how long `echo start > nodes/<n>/qemu/<vmid>/ctl` takes (the write returns
when libvirt reports the domain running) against `virsh start` of the same domain definition
in a separate embedded libvirt, measured in the same run with the sides alternating; the
latency of reading a VM's status file and the node's status file with 50 VMs defined (one of
them running) against the same read loop on a same-size file in /dev/shm. Live-migration
downtime is measured by tests/bench/migrate_bench.py (two cluster nodes, each with a libvirtd).

Guests are the tiny TCG guest of tests/qemu/build-guest.sh (build/guest), at most one running
at a time. Starts its own --local pvefsd (libvirt embedded in it). Prints medians and ratios;
a missed aim prints MISSED. Exit status is non-zero only when the benchmark could not run.

Knobs: QB_ITERS (5 starts per side), QB_READS (500 status reads), PVEFSD (build/pvefsd),
QB_KEEP=1 keeps the temporary directory (pvefsd and libvirt logs).
Run from the repo root as root, inside a private mount namespace (tests/bench/run.sh does that):
    unshare --mount --propagation private /usr/bin/python3 tests/bench/qemu_bench.py"""
import glob
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "system"))
import pvefslib  # noqa: E402

ITERS = int(os.environ.get("QB_ITERS", "5"))
READS = int(os.environ.get("QB_READS", "500"))
NVMS = 50
VMID = 100
GUEST = ROOT / "build" / "guest"
BOOT_S = 90           # TCG boots take 3-5 s on a quiet box, far longer on a busy one
AIM_START = 1.5       # ctl start may cost up to 1.5x a one-shot `virsh start`
AIM_READ_P50 = 1e-3   # a status read (open+read+close) under 1 ms at the median
QEMU_CONF = ('user = "root"\ngroup = "root"\nstdio_handler = "file"\ndynamic_ownership = 0\n'
             'remember_owner = 0\ncgroup_controllers = [ ]\nsecurity_driver = "none"\nnamespaces = [ ]\n')

MISSES = [0]
SUMMARY = []


def ms(s):
    return "%.2f ms" % (s * 1000)


def us(s):
    return "%.0f us" % (s * 1e6) if s < 1e-3 else ms(s)


def p99(v):
    return sorted(v)[max(0, int(len(v) * 0.99) - 1)]


def say(line, summary=False):
    print(line, flush=True)
    if summary:
        SUMMARY.append(line)


def vm_config():
    # tests/system/test_qemu.py's guest, idle (pvefs.tick=0): no serial chatter while reading status
    return ("memory: 128\ncores: 1\nkvm: 0\nostype: l26\nserial0: socket\n"
            "args: -kernel %s/vmlinux -initrd %s/initrd.gz -append \"console=ttyS0 panic=-1 pvefs.tick=0\"\n"
            % (GUEST, GUEST))


def boots(serial):
    try:
        return serial.read_text(errors="replace").count("PVEFS-BOOT-OK")
    except OSError:
        return 0


def wait_boot(serial, n):
    """Waits for the n-th boot marker; False (and the caller notes it) after BOOT_S."""
    end = time.monotonic() + BOOT_S
    while time.monotonic() < end:
        if boots(serial) >= n:
            return True
        time.sleep(0.1)
    return False


def read_once(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.read(fd, 65536):
            pass
    finally:
        os.close(fd)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class Uri:
    def __init__(self, root):
        self.root = Path(root)
        self.uri = "qemu:///embed?root=%s" % self.root

    def setup(self):
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "qemu.conf").write_text(QEMU_CONF)
        (self.root / "log").mkdir(exist_ok=True)
        return self

    def env(self):
        # the embedded driver logs warnings (tainted: high-privileges) to stderr otherwise
        return dict(os.environ, LIBVIRT_LOG_OUTPUTS="3:file:%s/log/libvirt.log" % self.root)


def virsh(u, *args, timeout=180, check=True):
    p = subprocess.run(["virsh", "-q", "-c", u.uri] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                       env=u.env())
    if check and p.returncode != 0:
        raise RuntimeError("virsh %s: rc=%d: %s" % (" ".join(args), p.returncode, (p.stderr or p.stdout).strip()))
    return p


def virsh_destroy(u, vmid):
    # A fresh virsh reconnects to the guest and then kills it; the reconnect's monitor thread
    # may see QEMU go first, and destroy then fails with "domain is not running": it is gone.
    p = virsh(u, "destroy", "vm%d" % vmid, check=False)
    if p.returncode != 0 and "domain is not running" not in p.stderr:
        raise RuntimeError("virsh destroy vm%d: rc=%d: %s" % (vmid, p.returncode, p.stderr.strip()))


class VirshShell:
    """One long-lived `virsh` (its embedded driver stays up): commands are fed on stdin, each
    followed by `echo <mark>`; a command is done when its mark comes back."""

    def __init__(self, u):
        self.u = u
        self.n = 0
        self.q = queue.Queue()
        self.p = subprocess.Popen(["virsh", "-q", "-c", u.uri], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1, env=u.env(),
                                  start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            self.q.put(line)
        self.q.put(None)

    def cmd(self, line, timeout=180):
        self.n += 1
        mark = "PVBENCH-DONE-%d" % self.n
        self.p.stdin.write("%s\necho %s\n" % (line, mark))
        self.p.stdin.flush()
        out, end = [], time.monotonic() + timeout
        while True:
            try:
                got = self.q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                raise RuntimeError("virsh shell: %r did not finish within %d s" % (line, timeout))
            if got is None:
                raise RuntimeError("virsh shell exited during %r: %s" % (line, "".join(out)[-500:]))
            if got.rstrip().endswith(mark):
                break
            out.append(got)
        text = "".join(out)
        if "error:" in text:
            raise RuntimeError("virsh shell: %s: %s" % (line, text.strip()))
        return text

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.close()
                self.p.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait(10)


def kill_leftover_guests(roots):
    """SIGKILL (by PID, from libvirt's pid files) any QEMU a failed run left behind."""
    for r in roots:
        for pf in glob.glob(str(Path(r) / "run" / "qemu" / "*.pid")):
            try:
                pid = int(Path(pf).read_text().strip())
                cmd = Path("/proc/%d/cmdline" % pid).read_bytes()
            except (OSError, ValueError):
                continue
            if b"qemu" in cmd:
                try:
                    os.kill(pid, signal.SIGKILL)
                    print("qemu_bench: killed a leftover guest (pid %d, %s)" % (pid, pf), flush=True)
                except OSError:
                    pass


def start_report(ours, oneshot, shell):
    o, b, s = statistics.median(ours), statistics.median(oneshot), statistics.median(shell)
    ratio = o / b if b > 0 else float("inf")
    miss = ratio > AIM_START
    MISSES[0] += miss
    say("%-24s /pve %s  virsh start %s  ratio %.2fx (aim <= %.1fx)%s" %
        ("start (ctl write)", ms(o), ms(b), ratio, AIM_START, "  MISSED" if miss else ""), True)
    say("%-24s /pve %s  virsh shell start %s  ratio %.2fx (no aim: libvirt already connected on"
        " both sides, so this is pvefs's own cost)" % ("", ms(o), ms(s), o / s if s > 0 else float("inf")), True)


def read_report(name, ours, base, size):
    o50, o99, b50, b99 = statistics.median(ours), p99(ours), statistics.median(base), p99(base)
    miss = o50 >= AIM_READ_P50
    MISSES[0] += miss
    say("%-24s /pve p50 %s p99 %s  /dev/shm p50 %s p99 %s  ratio p50 %.1fx p99 %.1fx  (%d bytes;"
        " aim: p50 < 1 ms)%s" % (name, us(o50), us(o99), us(b50), us(b99), o50 / b50, o99 / b99, size,
                                 "  MISSED" if miss else ""), True)


def main():
    t_start = time.monotonic()
    binary = os.environ.get("PVEFSD", str(ROOT / "build" / "pvefsd"))
    for tool in ("virsh", "qemu-system-x86_64"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":")):
            print("qemu_bench: %s is missing" % tool, file=sys.stderr)
            return 1
    p = subprocess.run(["sh", str(ROOT / "tests" / "qemu" / "build-guest.sh"), str(GUEST)],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        print("qemu_bench: build-guest.sh failed:\n%s%s" % (p.stdout[-2000:], p.stderr[-2000:]), file=sys.stderr)
        return 1

    base = pvefslib.make_base("pvefs-qbench-")
    d = pvefslib.Pvefs(base, binary=binary)
    one = Uri(base / "virsh-oneshot")
    sh_u = Uri(base / "virsh-shell")
    shell = None
    running = {"pvefs": False, "oneshot": False, "shell": False}
    pv_root = d.data / "libvirt"
    ctl = d.vm(VMID, "ctl")
    pv_serial = d.data / "serial" / ("%d.serial" % VMID)
    shm = None
    rc = 0
    no_boot = []
    try:
        d.start()
        d.mkvm(VMID, vm_config())
        print("qemu benchmarks: %d starts per side, alternating; machine: %d cores, load %s" %
              (ITERS, os.cpu_count(), " ".join(open("/proc/loadavg").read().split()[:3])), flush=True)

        # -- warm pvefs's libvirt (the first start probes QEMU's capabilities) and get the XML
        t = timed(lambda: pvefslib.write_ok(ctl, "start\n"))
        running["pvefs"] = True
        if not wait_boot(pv_serial, 1):
            raise RuntimeError("the guest did not boot through pvefs within %d s" % BOOT_S)
        pvefslib.write_ok(ctl, "stop\n")
        running["pvefs"] = False
        print("warm-up: first start through /pve took %s" % ms(t), flush=True)
        xml = (pv_root / "etc" / "qemu" / ("vm%d.xml" % VMID)).read_text()

        # -- the two plain-libvirt sides: a one-shot `virsh` per command, and one long-lived
        # virsh shell; each its own embed root (a root is locked by the process that opens it)
        for u in (one, sh_u):
            u.setup()
            (u.root / "serial").mkdir()
            f = u.root / ("vm%d.xml" % VMID)
            f.write_text(xml.replace(str(d.data / "serial"), str(u.root / "serial"))
                         .replace(str(pv_root), str(u.root)))
        t = timed(lambda: virsh(one, "define", str(one.root / ("vm%d.xml" % VMID))))
        print("warm-up: first virsh define (capabilities probe) took %s" % ms(t), flush=True)
        shell = VirshShell(sh_u)
        shell.cmd("define %s" % (sh_u.root / ("vm%d.xml" % VMID)))
        serial = {"oneshot": one.root / "serial" / ("%d.serial" % VMID),
                  "shell": sh_u.root / "serial" / ("%d.serial" % VMID)}
        # a warm-up start/stop on each, so that every measured start is a warm one
        virsh(one, "start", "vm%d" % VMID)
        running["oneshot"] = True
        virsh_destroy(one, VMID)
        running["oneshot"] = False
        shell.cmd("start vm%d" % VMID)
        running["shell"] = True
        shell.cmd("destroy vm%d" % VMID)
        running["shell"] = False

        # -- 1. start latency, sides alternating (rotating which goes first)
        res = {"pvefs": [], "oneshot": [], "shell": []}

        def go(side):
            if side == "pvefs":
                n = boots(pv_serial)
                res[side].append(timed(lambda: pvefslib.write_ok(ctl, "start\n")))
                running[side] = True
                ok = wait_boot(pv_serial, n + 1)
                pvefslib.write_ok(ctl, "stop\n")
            elif side == "oneshot":
                n = boots(serial[side])
                res[side].append(timed(lambda: virsh(one, "start", "vm%d" % VMID)))
                running[side] = True
                ok = wait_boot(serial[side], n + 1)
                virsh_destroy(one, VMID)
            else:
                n = boots(serial[side])
                res[side].append(timed(lambda: shell.cmd("start vm%d" % VMID)))
                running[side] = True
                ok = wait_boot(serial[side], n + 1)
                shell.cmd("destroy vm%d" % VMID)
            running[side] = False
            if not ok:
                no_boot.append(side)
            time.sleep(0.5)  # let the killed QEMU's memory go before the next start

        order = ["pvefs", "oneshot", "shell"]
        for i in range(ITERS):
            for side in order[i % 3:] + order[:i % 3]:
                go(side)
        print("qemu start, %d each, median of each (a start returns when libvirt reports the domain"
              " running):" % ITERS, flush=True)
        start_report(res["pvefs"], res["oneshot"], res["shell"])
        for side, label in (("pvefs", "/pve ctl"), ("oneshot", "virsh start"), ("shell", "virsh shell")):
            print("  %-12s %s" % (label, " ".join("%.0f" % (x * 1000) for x in res[side])) + " ms")
        if no_boot:
            print("  note: the guest did not print its boot marker within %d s %d time(s) (%s)" %
                  (BOOT_S, len(no_boot), ", ".join(no_boot)))

        # -- 2. status reads with 50 VMs defined, one of them running
        cfg = vm_config()
        for vmid in range(VMID + 1, VMID + NVMS):
            d.mkvm(vmid, cfg)
        n = boots(pv_serial)
        pvefslib.write_ok(ctl, "start\n")
        running["pvefs"] = True
        if not wait_boot(pv_serial, n + 1):
            print("  note: the guest did not boot within %d s; reading its status anyway" % BOOT_S)
        time.sleep(2)  # a stats cycle or two, so that status carries live figures
        vm_status = d.vm(VMID, "status")
        node_status = d.p("nodes/%s/status" % d.node)
        st = pvefslib.read_bytes(vm_status)
        if b"running" not in st:
            print("  note: vm %d's status does not say running:\n%s" % (VMID, st.decode(errors="replace")))
        print("status reads (open+read+close), %d VMs defined, 1 running, %d reads each, alternating with a"
              " same-size regular file in /dev/shm:" % (NVMS, READS), flush=True)
        for name, path in (("qemu/%d/status" % VMID, vm_status), ("nodes/%s/status" % d.node, node_status)):
            data = pvefslib.read_bytes(path)
            shm = "/dev/shm/pvefs-qbench-%d" % os.getpid()
            with open(shm, "wb") as f:
                f.write(data)
            for _ in range(20):  # warm both
                read_once(path)
                read_once(shm)
            ours, theirs = [], []
            for i in range(READS):
                if i % 2:
                    ours.append(timed(lambda: read_once(path)))
                    theirs.append(timed(lambda: read_once(shm)))
                else:
                    theirs.append(timed(lambda: read_once(shm)))
                    ours.append(timed(lambda: read_once(path)))
            read_report("cat " + name, ours, theirs, len(data))
            os.unlink(shm)
            shm = None
        pvefslib.write_ok(ctl, "stop\n")
        running["pvefs"] = False

        # -- 3. migration
        say("live migration: see tests/bench/migrate_bench.py (next)", True)
    except Exception as e:  # noqa: BLE001 -- report and clean up; the benchmark could not run
        print("qemu_bench: could not run: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        tail = d.log_tail(30)
        if tail:
            print("---- pvefsd output ----\n%s" % tail, file=sys.stderr)
        rc = 1
    finally:
        if running["pvefs"] and d.alive():
            try:
                pvefslib.write_ok(ctl, "stop\n")
            except (AssertionError, OSError):
                pass
        if running["oneshot"]:
            virsh(one, "destroy", "vm%d" % VMID, timeout=60, check=False)
        if shell:
            if running["shell"]:
                try:
                    shell.cmd("destroy vm%d" % VMID, timeout=60)
                except RuntimeError:
                    pass
            shell.close()
        d.cleanup()
        kill_leftover_guests([pv_root, one.root, sh_u.root])
        if shm:
            try:
                os.unlink(shm)
            except OSError:
                pass
        if os.environ.get("QB_KEEP"):
            print("qemu_bench: kept %s" % d.base)
        else:
            pvefslib.remove_base(d.base)
    if rc == 0:
        print("\nqemu summary (%.0f s, %d aim(s) missed):" % (time.monotonic() - t_start, MISSES[0]))
        for line in SUMMARY:
            print("  " + line)
    return rc


if __name__ == "__main__":
    sys.exit(main())
