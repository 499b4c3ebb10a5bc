"""A real single-host Ceph for the tests, started and stopped by tests/ceph/ceph-up.sh and
ceph-down.sh (by PID). Each cluster gets its own directory and port range."""
import itertools
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UP = ROOT / "tests" / "ceph" / "ceph-up.sh"
DOWN = ROOT / "tests" / "ceph" / "ceph-down.sh"
_ports = itertools.count(0)


class Ceph:
    def __init__(self, osds=1, mgr=True):
        self.dir = Path(tempfile.mkdtemp(prefix="pvefs-ceph-"))
        # clusters of one test session never share ports; 200 apart as ceph-up.sh expects
        self.port = 46789 + 200 * (next(_ports) % 8)
        self.env = dict(os.environ, CEPH_DIR=str(self.dir), CEPH_OSDS=str(osds),
                        CEPH_MGR="1" if mgr else "0", CEPH_MON_PORT=str(self.port))
        self.conf = self.dir / "ceph.conf"
        self.started = False

    def start(self, timeout=120):
        t0 = time.monotonic()
        p = subprocess.run(["bash", str(UP)], env=self.env, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            self.stop()
            raise AssertionError("ceph-up.sh failed (rc %d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr[-3000:]))
        self.started = True
        self.start_s = time.monotonic() - t0
        return self

    def pids(self):
        out = {}
        try:
            for line in (self.dir / "pids").read_text().splitlines():
                name, pid = line.split()
                out[name] = int(pid)
        except OSError:
            pass
        return out

    def kill(self, name, sig=signal.SIGKILL):
        os.kill(self.pids()[name], sig)

    def cli(self, *args, timeout=30):
        return subprocess.run(["ceph", "-c", str(self.conf), *args], capture_output=True, text=True,
                              timeout=timeout)

    def stop(self):
        subprocess.run(["bash", str(DOWN), "--kill", "--wipe"], env=self.env, capture_output=True, timeout=60)
        self.started = False
