#!/usr/bin/python3
# ceph_ctl.py: the parts of ceph-up.sh that need many mon commands, over one
# python3-rados connection (each `ceph` CLI call costs ~0.3 s of start-up).
# Runs under /usr/bin/python3 only: the rados binding is not in pyenv/venv pythons.
#
#   ceph_ctl.py osd-new CONF DIR N        register osd.0..N-1 (uuid from DIR/osd.i/uuid.txt)
#   ceph_ctl.py wait CONF N MGR TIMEOUT   wait for N OSDs up+in [+ mgr available] + HEALTH_OK
import json
import sys
import time

import rados


def connect(conf, timeout):
    c = rados.Rados(conffile=conf, name="client.admin")
    for k in ("client_mount_timeout", "rados_mon_op_timeout"):
        c.conf_set(k, str(int(timeout)))
    c.connect(timeout=timeout)
    return c


def mon(c, **cmd):
    ret, out, errs = c.mon_command(json.dumps(cmd), b"", timeout=30)
    if ret < 0:
        raise RuntimeError("mon command %s failed: %d %s" % (cmd, ret, errs))
    return out


def osd_new(conf, d, n):
    c = connect(conf, 30)
    for i in range(n):
        with open("%s/osd.%d/uuid.txt" % (d, i)) as f:
            uuid = f.read().strip()
        out = mon(c, prefix="osd new", uuid=uuid, id=i, format="json")
        got = json.loads(out)["osdid"] if out.strip().startswith(b"{") else int(out)
        if got != i:
            raise RuntimeError("osd new gave id %s, expected %d" % (got, i))
    c.shutdown()
    return 0


def wait(conf, n, want_mgr, timeout):
    t0 = time.time()
    c = connect(conf, 30)
    osd_ok = mgr_ok = False
    while time.time() - t0 < timeout:
        if not osd_ok:
            st = json.loads(mon(c, prefix="osd stat", format="json"))
            osd_ok = st["num_up_osds"] == n and st["num_in_osds"] == n
        if want_mgr and not mgr_ok:
            mgr_ok = bool(json.loads(mon(c, prefix="mgr stat", format="json")).get("available"))
        if osd_ok and (mgr_ok or not want_mgr):
            h = json.loads(mon(c, prefix="health", format="json"))
            if h["status"] == "HEALTH_OK":
                print("[ceph_ctl %.2fs] HEALTH_OK" % (time.time() - t0), file=sys.stderr)
                c.shutdown()
                return 0
        time.sleep(0.1)
    print("ceph_ctl: not ready after %gs: osds up+in=%s mgr available=%s health=%s" % (
        timeout, osd_ok, mgr_ok, mon(c, prefix="health", detail="detail").decode().strip()),
        file=sys.stderr)
    c.shutdown()
    return 1


if __name__ == "__main__":
    cmds = {
        "osd-new": lambda a: osd_new(a[0], a[1], int(a[2])),
        "wait": lambda a: wait(a[0], int(a[1]), a[2] == "1", float(a[3])),
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit("usage: ceph_ctl.py osd-new CONF DIR N | wait CONF N MGR TIMEOUT")
    sys.exit(cmds[sys.argv[1]](sys.argv[2:]))
