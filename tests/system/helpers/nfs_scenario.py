"""NFS re-export scenario, run by test_nfs.py inside `unshare --mount --net --propagation private`.

   nfs_scenario.py BASE NFSCLI_BINARY

Inside the private namespaces: lo only, a private tmpfs on /run (rpcbind and Ganesha sockets
and pid files stay here). It starts pvefsd (on BASE/data, BASE/mnt), rpcbind, NFS-Ganesha with
FSAL_VFS exporting the mount read-only, then drives libnfs clients (nfs-ls, nfs-cat, and the
long-lived nfscli holding one handle) through a cache drop, a pvefsd restart and a Ganesha
restart. It prints one JSON document on stdout; test_nfs.py makes the assertions.
A result {"skip": reason} means the NFS server itself could not be brought up.
"""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pvefslib import NODE, QEMU_CANON, Pvefs  # noqa: E402

EXPORT = "/pvefs"
URL = "nfs://127.0.0.1" + EXPORT

GANESHA_CONF = """
NFS_CORE_PARAM {
	NFS_Port = 2049;
	MNT_Port = 20048;
	Protocols = 3, 4;
	Enable_NLM = false;
	Enable_RQUOTA = false;
	Enable_UDP = false;
	mount_path_pseudo = true;
}
NFS_KRB5 { Active_krb5 = false; }
NFSV4 {
	Graceless = true;
	RecoveryBackend = fs;
	RecoveryRoot = @RECOV@;
	Lease_Lifetime = 10;
}
EXPORT {
	Export_Id = 7;
	Path = @MNT@;
	Pseudo = @EXPORT@;
	Access_Type = RO;
	Squash = No_Root_Squash;
	Protocols = 3, 4;
	Transports = TCP;
	SecType = sys;
	Filesystem_Id = 7.7;
	Attr_Expiration_Time = 0;
	FSAL {
		Name = VFS;
		fsid_type = Major64;
	}
	CLIENT { Clients = 127.0.0.1; Access_Type = RO; }
}
LOG { Default_Log_Level = EVENT; }
"""


def sh(cmd, timeout=30):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def port_open(port):
    s = socket.socket()
    s.settimeout(0.2)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Ganesha:
    def __init__(self, base, mnt):
        self.dir = base / "ganesha"
        (self.dir / "recov").mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "ganesha.conf"
        self.conf.write_text(GANESHA_CONF.replace("@MNT@", str(mnt)).replace("@RECOV@", str(self.dir / "recov"))
                             .replace("@EXPORT@", EXPORT))
        self.proc = None
        self.n = 0

    def start(self):
        self.n += 1
        log = self.dir / ("ganesha.%d.log" % self.n)
        out = open(self.dir / ("stdout.%d" % self.n), "wb")
        self.proc = subprocess.Popen(["ganesha.nfsd", "-F", "-f", str(self.conf), "-L", str(log),
                                      "-p", "/run/ganesha/ganesha.pid"], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "ganesha.nfsd exited rc=%s: %s" % (self.proc.returncode, self.log_tail(log))
            if port_open(2049):
                break
            time.sleep(0.1)
        else:
            return "ganesha.nfsd not listening on 2049 after 20 s: %s" % self.log_tail(log)
        # wait until the export answers (NFSv4 pseudo fs)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rc, _, _ = sh(["nfs-ls", URL + "/?version=4"], timeout=10)
            if rc == 0:
                return None
            time.sleep(0.2)
        return None  # listening; export failures are the daemon's problem and are asserted later

    def log_tail(self, log):
        """Ganesha's warnings and errors, without the harmless dbus/krb5/shutdown noise."""
        try:
            lines = Path(log).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        keep = [l for l in lines if any(k in l for k in (":CRIT :", ":MAJ :", ":WARN :", ":FATAL :"))
                and not any(k in l for k in ("dbus", "DBUS", "krb5", "gssd", "KRB5", "Kerberos"))]
        return "\n".join(keep[-15:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        # the port must be free before the next start
        deadline = time.monotonic() + 10
        while port_open(2049) and time.monotonic() < deadline:
            time.sleep(0.1)


class Client:
    """The long-lived libnfs client: one handle, commands on stdin."""

    def __init__(self, binary, url):
        self.p = subprocess.Popen([binary, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.first = self.line(15)

    def line(self, timeout):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            return "TIMEOUT"
        return self.p.stdout.readline().rstrip("\n") or "EOF"

    def cmd(self, c, timeout=20):
        if self.p.poll() is not None:
            return "EXITED"
        self.p.stdin.write(c + "\n")
        self.p.stdin.flush()
        return self.line(timeout)

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait(5)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def main():
    base = Path(sys.argv[1])
    nfscli = sys.argv[2]
    res = {"steps": {}}
    step = res["steps"]

    def nfs(label, tool, path, v4=False):
        url = URL + path + ("?version=4" if v4 else "")
        rc, out, err = sh([tool, url], timeout=30)
        step[label] = {"rc": rc, "out": out[-4000:], "err": err[-1000:]}

    sh(["ip", "link", "set", "lo", "up"])
    rc, _, err = sh(["mount", "-t", "tmpfs", "pvefs-st-run", "/run"])
    if rc != 0:
        print(json.dumps({"skip": "cannot mount a private /run: " + err}))
        return
    os.makedirs("/run/rpcbind", exist_ok=True)
    os.makedirs("/run/ganesha", exist_ok=True)

    d = Pvefs(base)
    g = Ganesha(base, d.mnt)
    rpcbind = None
    clients = []
    try:
        d.start()
        d.mkvm(100, QEMU_CANON)
        rpcbind = subprocess.Popen(["rpcbind", "-w", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if os.path.exists("/run/rpcbind.sock") or port_open(111):
                break
            time.sleep(0.05)
        err = g.start()
        if err:
            res["skip"] = "NFS-Ganesha could not start: " + err
            return
        nfs("v3-ls-root", "nfs-ls", "/")
        nfs("v4-ls-node", "nfs-ls", "/nodes/%s" % NODE, v4=True)
        nfs("v3-ls-vm", "nfs-ls", "/nodes/%s/qemu/100" % NODE)
        nfs("v3-cat-status", "nfs-cat", "/nodes/%s/status" % NODE)
        nfs("v4-cat-config", "nfs-cat", "/nodes/%s/qemu/100/config" % NODE, v4=True)
        nfs("v3-cat-quorate", "nfs-cat", "/cluster/quorate")

        c3 = Client(nfscli, URL + "/nodes/%s/status" % NODE)
        clients.append(c3)
        c3c = Client(nfscli, URL + "/nodes/%s/qemu/100/config" % NODE)
        clients.append(c3c)
        step["cli-open"] = [c3.first, c3c.first]
        step["cli-read-1"] = [c3.cmd("read"), c3c.cmd("read")]
        step["cli-stat-1"] = [c3.cmd("stat"), c3c.cmd("stat")]

        drop_caches()
        step["cli-read-after-drop"] = [c3.cmd("read"), c3c.cmd("read")]
        nfs("v3-cat-status-after-drop", "nfs-cat", "/nodes/%s/status" % NODE)

        d.restart()  # SIGTERM + start, same data dir
        step["cli-read-after-fs-restart-only"] = [c3.cmd("read", 15), c3c.cmd("read", 15)]  # informative
        g.stop()
        err = g.start()
        step["ganesha-restart"] = err or "OK"
        step["cli-read-after-restart"] = [c3.cmd("read"), c3c.cmd("read")]
        step["cli-stat-after-restart"] = [c3.cmd("stat"), c3c.cmd("stat")]
        nfs("v3-cat-status-after-restart", "nfs-cat", "/nodes/%s/status" % NODE)
        nfs("v3-cat-config-after-restart", "nfs-cat", "/nodes/%s/qemu/100/config" % NODE)
    except Exception as e:  # report, do not hide
        res["exception"] = "%s: %s" % (type(e).__name__, e)
        res["pvefsd_log"] = d.log_tail(30)
    finally:
        for c in clients:
            c.close()
        g.stop()
        d.cleanup()
        if rpcbind is not None:
            rpcbind.kill()
            rpcbind.wait(5)
        res["ganesha_log"] = g.log_tail(g.dir / ("ganesha.%d.log" % max(g.n, 1)))
        print(json.dumps(res))


if __name__ == "__main__":
    main()
