"""A real libvirtd (Debian 12, libvirt 9.0, monolithic daemon) per cluster node, for
live-migration tests.

    lv = start_libvirtd(node)          # node: a clusterlib Node (or start_libvirtds(nodes))
    lv.virsh("define", "vm.xml")       # virsh -c lv.uri ..., run inside the node's netns
    lv.stop()                          # libvirtd and every qemu it started, by PID

Each libvirtd runs in its node's network namespace and in a private mount namespace:

    nsenter --net=NS -- unshare --mount --propagation private -- sh -c '
        mount -t overlay -o lowerdir=/var,upperdir=D/var,workdir=D/var.work overlay /var
        mount -t tmpfs tmpfs /run/libvirt               (sockets, pid files, domain status)
        mount --bind D/libvirt-etc /etc/libvirt         (libvirtd.conf, qemu.conf, domain XMLs)
        exec libvirtd --listen --config /etc/libvirt/libvirtd.conf --pid-file D/libvirtd.pid'

/var/{lib,cache,log}/libvirt do not exist on this host, and creating mount points there
would touch the host: instead /var is an overlay whose writes land in D/var (so
D/var/log/libvirt/qemu/<vm>.log keeps QEMU's own log for post-mortems). libvirtd listens
on tcp://<node.addr>:16509 without auth and without TLS; QEMU's migration stream uses
<node.addr> too. Each node has its own host_uuid (libvirt refuses to migrate to "the same
host" otherwise). No systemd, no cgroups, no security driver, no virtlogd
(stdio_handler = "file"): nothing outside the two namespaces and D is changed.

The cluster addresses exist only inside the namespaces: run virsh through lv.virsh() (or
`nsenter --net=<any node's nspath>`).

Caveat: the mount namespace is a copy made at start. A FUSE mount (pvefsd) present then
stays in it as it was; a pvefsd (re)mounted later is not seen by this libvirtd/QEMU.
"""
import os
import signal
import subprocess
import time
import uuid

from clusterlib import HarnessError, _alive, log, run

START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

LIBVIRTD_CONF = """\
listen_tls = 0
listen_tcp = 1
tcp_port = "16509"
listen_addr = "{addr}"
auth_tcp = "none"
unix_sock_dir = "/run/libvirt"
log_outputs = "3:file:{dir}/libvirtd.log"
host_uuid = "{uuid}"
"""

QEMU_CONF = """\
user = "root"
group = "root"
stdio_handler = "file"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
security_driver = "none"
namespaces = [ ]
migration_address = "{addr}"
migration_host = "{addr}"
migration_port_min = 49152
migration_port_max = 49215
"""

MOUNTS = ('mount -t overlay -o "lowerdir=/var,upperdir=$1/var,workdir=$1/var.work" overlay /var'
          ' && mount -t tmpfs -o mode=0755 tmpfs /run/libvirt'
          ' && mount --bind "$1/libvirt-etc" /etc/libvirt'
          ' && exec libvirtd --listen --config /etc/libvirt/libvirtd.conf --pid-file "$1/libvirtd.pid"')


def _ino(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


class Libvirtd:
    def __init__(self, node):
        self.node = node
        self.uri = "qemu+tcp://%s/system" % node.addr
        self.log = node.dir / "libvirtd.log"
        self.proc = None
        self.t0 = None
        self.mntns = None      # inode of libvirtd's mount namespace (its QEMUs share it)

    def virsh(self, *args, timeout=60, check=True):
        """`virsh -c self.uri ARGS` inside the node's network namespace; a CompletedProcess."""
        return run(["nsenter", "--net=" + self.node.nspath, "--", "virsh", "-c", self.uri] + list(args),
                   timeout=timeout, check=check)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=30):
        out = []
        for f in (self.log, self.node.dir / "libvirtd.out"):
            try:
                out += ["== %s" % f] + f.read_text(errors="replace").splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(out)

    def pids(self):
        """This libvirtd and the processes it started (QEMU): everything in its mount
        namespace that is also in the node's network namespace."""
        net = _ino(self.node.nspath)
        if self.mntns is None or net is None:
            return []
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit() and _ino("/proc/%s/ns/mnt" % d) == self.mntns and _ino("/proc/%s/ns/net" % d) == net:
                out.append(int(d))
        return out

    def spawn(self):
        """Starts libvirtd without waiting (start() = spawn() + wait_up())."""
        d = self.node.dir
        etc = d / "libvirt-etc"
        for sub in (etc, d / "var", d / "var.work"):
            sub.mkdir(parents=True, exist_ok=True)
        (etc / "libvirtd.conf").write_text(LIBVIRTD_CONF.format(addr=self.node.addr, dir=d, uuid=uuid.uuid4()))
        (etc / "qemu.conf").write_text(QEMU_CONF.format(addr=self.node.addr))
        out = open(d / "libvirtd.out", "ab")
        # nsenter, unshare and sh's exec keep one PID: self.proc.pid is libvirtd's
        self.proc = subprocess.Popen(
            ["nsenter", "--net=" + self.node.nspath, "--", "unshare", "--mount", "--propagation", "private", "--",
             "sh", "-c", MOUNTS, "sh", str(d)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.t0 = time.monotonic()
        return self

    def wait_up(self):
        """Waits until `virsh version` answers (30 s; ~5 s measured: QEMU capability probe)."""
        try:
            deadline = self.t0 + START_TIMEOUT
            while self.virsh("version", timeout=10, check=False).returncode != 0:
                if self.proc.poll() is not None:
                    raise HarnessError("libvirtd exited with rc=%s" % self.proc.returncode)
                if time.monotonic() > deadline:
                    raise HarnessError("no answer on %s after %g s" % (self.uri, START_TIMEOUT))
                time.sleep(0.2)
            self.mntns = _ino("/proc/%d/ns/mnt" % self.proc.pid)
        except BaseException as e:
            tail = self.log_tail()
            self.stop()
            if isinstance(e, Exception):
                raise HarnessError("%s: libvirtd did not start: %s\n%s" % (self.node.name, e, tail)) from None
            raise
        log("%s: libvirtd pid %d up in %.2f s (%s)" % (self.node.name, self.proc.pid, time.monotonic() - self.t0, self.uri))
        return self

    def start(self):
        return self.spawn().wait_up()

    def domain_log(self, name):
        """QEMU's own log for domain `name` (its stderr, command line, errors)."""
        return self.node.dir / "var" / "log" / "libvirt" / "qemu" / (name + ".log")

    def stop(self):
        """SIGTERM libvirtd (SIGKILL after 5 s), then SIGKILL every QEMU it started. Never
        raises."""
        if self.proc is None:
            return
        if self.mntns is None:
            self.mntns = _ino("/proc/%d/ns/mnt" % self.proc.pid)
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log("%s: libvirtd still running %g s after SIGTERM, SIGKILL" % (self.node.name, STOP_TIMEOUT))
                self.proc.kill()
                self.proc.wait()
        left = [p for p in self.pids() if p != os.getpid()]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(_alive(p) for p in left) and time.monotonic() < deadline:
            time.sleep(0.02)
        if left:
            log("%s: killed %d leftover process(es) of libvirtd: %s" % (self.node.name, len(left), left))


def start_libvirtd(node):
    """Starts a libvirtd for node (a clusterlib Node) and waits until it answers."""
    return Libvirtd(node).start()


def start_libvirtds(nodes):
    """start_libvirtd for several nodes, started in parallel. On failure stops them all."""
    lvs = [Libvirtd(nd) for nd in nodes]
    try:
        for lv in lvs:
            lv.spawn()
        for lv in lvs:
            lv.wait_up()
    except BaseException:
        for lv in lvs:
            lv.stop()
        raise
    return lvs
