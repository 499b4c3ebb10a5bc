"""Durability under faults, checked against a recorded history.

Writers on every node record each operation (start, end, result) while a nemesis cuts
nodes off, heals, kills pvefsd and corosync with SIGKILL and restarts them. After the
final heal a checker verifies, on every node:
- every acknowledged operation (open, each write and close returned 0; mkdir, rmdir and
  rename returned 0) is in the tree, unless a later operation on the same path may have
  replaced it (a later acknowledged one, or a failed one whose outcome is not known);
- reads never went back in time: once a node read an acknowledged value of a register,
  it never read an older one;
- no node acknowledged anything it started while cut off in a minority;
- a command forwarded to another node's ctl that returned 0 was carried out there;
- all digests agree.

`make check` runs a short history (about a minute, 3 nodes). `make durability` runs the
long ones: PVEFS_HISTORY_SECONDS (default 50), PVEFS_HISTORY_NODES (default 3) and
PVEFS_HISTORY_SEED choose the length, the size and the nemesis' choices.
"""
import errno
import os
import random
import secrets
import threading
import time

import pytest

import clusterlib
from clusterlib import log, wait_until
from pvefslib import qemu_config

SECONDS = float(os.environ.get("PVEFS_HISTORY_SECONDS", "50"))
NODES = int(os.environ.get("PVEFS_HISTORY_NODES", "3"))
SEED = int(os.environ.get("PVEFS_HISTORY_SEED", "0")) or secrets.randbelow(10 ** 6)
ABSENT, DIR = "<absent>", "<dir>"
VMID = 2000  # node i's VM is VMID + i: its config is written too


class History:
    def __init__(self):
        self.ops = []
        self.reads = []
        self.lost_commands = []  # forwarded commands acknowledged but not carried out
        self.lock = threading.Lock()

    def op(self, node, kind, effects, fn):
        """Runs fn(); records node, kind, effects ({path: state after it}), times, errno."""
        t0 = time.monotonic()
        try:
            fn()
            err = 0
        except OSError as e:
            err = e.errno or errno.EIO
        rec = {"node": node, "kind": kind, "effects": effects, "start": t0, "end": time.monotonic(),
               "err": err}
        with self.lock:
            self.ops.append(rec)
        return err


def _write(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    try:
        mv = memoryview(data)
        while len(mv):
            mv = mv[os.write(fd, mv):]
    finally:
        os.close(fd)  # raises on a failed commit: the acknowledgement is close's result


class Writer(threading.Thread):
    """Node i's writer: numbered files, a register, renames, mkdir/rmdir and its VM's config,
    each path touched by this writer alone, one operation at a time."""

    def __init__(self, c, i, hist, stop, rng):
        super().__init__(daemon=True)
        self.c, self.i, self.h, self.stop, self.rng = c, i, hist, stop, rng
        self.k = 0

    def run(self):
        nd = self.c[self.i]
        me = "n%d" % self.i
        made = []  # directories this writer made, to rmdir later
        files = []  # (path, content) of files written (acknowledged) and not moved yet
        while not self.stop.is_set():
            self.k += 1
            k = self.k
            r = self.rng.random()
            if r < 0.45:
                rel = "priv/h/%s-%d" % (me, k)
                data = ("%s %d %s\n" % (me, k, secrets.token_hex(4))).encode()
                err = self.h.op(self.i, "write", {rel: data}, lambda: _write(nd.p(rel), data))
                if not err:  # a failed one may have left its file created but empty
                    files.append((rel, data))
            elif r < 0.65:
                rel = "priv/reg-%s" % me
                data = b"%d\n" % k
                err = self.h.op(self.i, "reg", {rel: data}, lambda: _write(nd.p(rel), data))
            elif r < 0.75 and files:
                # a file written before moves to a new name, once
                src, data = files.pop(self.rng.randrange(len(files)))
                dst = "priv/h/%s-%d-moved" % (me, k)
                err = self.h.op(self.i, "rename", {src: ABSENT, dst: data},
                                lambda: os.rename(nd.p(src), nd.p(dst)))
            elif r < 0.85:
                rel = "priv/d/%s-%d" % (me, k)
                err = self.h.op(self.i, "mkdir", {rel: DIR}, lambda: os.mkdir(nd.p(rel)))
                if not err:
                    made.append(rel)
            elif r < 0.88 and len(self.c.nodes) > 1:
                err = self._forward(me, k)
            elif r < 0.92 and made:
                rel = made.pop(self.rng.randrange(len(made)))
                err = self.h.op(self.i, "rmdir", {rel: ABSENT}, lambda: os.rmdir(nd.p(rel)))
            else:
                rel = "nodes/%s/qemu/%d/config" % (me, VMID + self.i)
                data = qemu_config(name="h%s" % me, memory=512 + k).encode()
                err = self.h.op(self.i, "config", {rel: data}, lambda: _write(nd.p(rel), data))
            if err:
                time.sleep(0.05)  # the node is cut off, restarting or read-only


    def _forward(self, me, k):
        """A command to another node's ctl, forwarded over the status channel: if write(2)
        returned 0, the owner must have carried it out (its cluster/log has the line)."""
        t = self.rng.choice([j for j in self.c.nodes if j != self.i])
        marker = "hist-%s-%d-%s" % (me, k, secrets.token_hex(3))
        rel = "nodes/n%d/ctl" % t
        err = self.h.op(self.i, "forward", {}, lambda: _write(self.c[self.i].p(rel),
                                                             ("log %s\n" % marker).encode(),
                                                             os.O_WRONLY))
        if not err:
            try:
                with open(self.c[t].p("cluster/log"), "rb") as f:
                    seen = marker.encode() in f.read()
            except OSError:
                return err  # the owner was restarted since: its log is gone, nothing to check
            if not seen:
                with self.h.lock:
                    self.h.lost_commands.append("n%d -> n%d: %s" % (self.i, t, marker))
        return err


class Reader(threading.Thread):
    """Reads every node's register on node i, again and again."""

    def __init__(self, c, i, hist, stop):
        super().__init__(daemon=True)
        self.c, self.i, self.h, self.stop = c, i, hist, stop

    def run(self):
        nd = self.c[self.i]
        while not self.stop.is_set():
            for j in self.c.nodes:
                rel = "priv/reg-n%d" % j
                try:
                    with open(nd.p(rel), "rb") as f:
                        v = f.read()
                except OSError:
                    continue
                with self.h.lock:
                    self.h.reads.append((self.i, rel, v, time.monotonic()))
            time.sleep(0.05)


def nemesis(c, rng, until, cuts):
    """Faults until `until`: cut a node off (recorded in cuts as (node, t_cut, t_heal)),
    kill -9 a pvefsd, kill -9 a corosync; each followed by a recovery."""
    everyone = sorted(c.nodes)
    n = 0
    while time.monotonic() < until:
        n += 1
        v = rng.choice(everyone)
        what = ["partition", "kill-pvefsd", "kill-corosync"][n % 3]
        others = [i for i in everyone if i != v]
        if what == "partition":
            c.partition([[v], others])
            t_cut = time.monotonic()
            time.sleep(rng.uniform(2.5, 5.0))
            t_heal = time.monotonic()
            c.heal()
            cuts.append((v, t_cut, t_heal))
        elif what == "kill-pvefsd":
            c[v].kill9()
            time.sleep(rng.uniform(0.2, 2.0))
            c[v].start(wait_quorate=False)
        else:
            c[v].corosync_kill9()
            time.sleep(rng.uniform(0.5, 2.0))
            c[v].corosync_start()
        log("nemesis: %s n%d at %.2f" % (what, v, time.monotonic()))
        c.wait_quorum(timeout=30)
        c.wait_pvefs_quorate(everyone, "1", 30)
        time.sleep(rng.uniform(0.5, 2.0))


def expected_states(ops):
    """{path: set of states it may end in}: the effect of its last acknowledged operation,
    or of any operation after that one that failed (its outcome is not known)."""
    by_path = {}
    for op in sorted(ops, key=lambda o: o["start"]):
        for path, st in op["effects"].items():
            by_path.setdefault(path, []).append((op, st))
    out = {}
    for path, seq in by_path.items():
        last = max((n for n, (op, _) in enumerate(seq) if not op["err"]), default=None)
        if last is None:
            continue  # never acknowledged: nothing is promised
        out[path] = {seq[last][1]} | {st for op, st in seq[last + 1:] if op["err"]}
    return out


def state_on(nd, rel):
    p = nd.p(rel)
    if os.path.isdir(p):
        return DIR
    try:
        with open(p, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return ABSENT


@pytest.mark.budget(SECONDS + 240)
def test_history_under_faults(make_cluster):
    c = make_cluster(NODES)
    rng = random.Random(SEED)
    log("history: %d nodes, %.0f s, seed %d (PVEFS_HISTORY_SEED to repeat), clock %.2f"
        % (NODES, SECONDS, SEED, time.monotonic()))
    a = c[1]
    for rel in ("priv/h", "priv/d"):
        os.mkdir(a.p(rel))
    for i in c.nodes:
        os.mkdir(c[i].vm(VMID + i))
    c.wait_converged(timeout=30)
    h, stop, cuts = History(), threading.Event(), []
    threads = [Writer(c, i, h, stop, random.Random(SEED * 31 + i)) for i in c.nodes]
    threads += [Reader(c, i, h, stop) for i in c.nodes]
    for t in threads:
        t.start()
    try:
        nemesis(c, rng, time.monotonic() + SECONDS, cuts)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not any(t.is_alive() for t in threads), "a writer or reader hangs"
    c.heal()
    for nd in c:
        if not nd.corosync_alive():
            nd.corosync_start()
    c.wait_quorum(timeout=30)
    for nd in c:
        if not nd.alive():
            nd.start()
    c.wait_pvefs_quorate(sorted(c.nodes), "1", 30)
    digest = c.wait_converged(timeout=60)

    acked = [op for op in h.ops if not op["err"]]
    failed = {}
    for op in h.ops:
        if op["err"]:
            failed[errno.errorcode.get(op["err"], op["err"])] = failed.get(
                errno.errorcode.get(op["err"], op["err"]), 0) + 1
    log("history: %d operations, %d acknowledged, failed: %s; %d reads; %d cuts; converged at %s"
        % (len(h.ops), len(acked), failed, len(h.reads), len(cuts), digest))
    assert len(acked) > 100, "too few acknowledged operations to judge: %d" % len(acked)

    problems = []
    # 1. every acknowledged operation survived, on every node
    want = expected_states(h.ops)
    for nd in c:
        for path, states in sorted(want.items()):
            got = state_on(nd, path)
            if got not in states:
                hist = ["%s n%d %.2f-%.2f %s" % (op["kind"], op["node"], op["start"], op["end"],
                                                 errno.errorcode.get(op["err"], "ok"))
                        for op in h.ops if path in op["effects"]]
                problems.append("%s: %s is %r, want one of %r (history: %s)"
                                % (nd.name, path, got, sorted(map(repr, states)), "; ".join(hist)))
    # 2. reads never went back in time past an acknowledged value
    acked_vals = {}
    for op in acked:
        if op["kind"] == "reg":
            for path, v in op["effects"].items():
                acked_vals.setdefault(path, set()).add(int(v))
    seen = {}
    for node, rel, v, t in sorted(h.reads, key=lambda r: r[3]):
        if not v:
            continue  # created, its first content not committed yet (O_CREAT is a commit of its own)
        try:
            val = int(v)
        except ValueError:
            problems.append("n%d read %r from %s" % (node, v, rel))
            continue
        hi = seen.get((node, rel))
        if hi is not None and val < hi:
            problems.append("n%d read %s = %d after it had read the acknowledged %d" % (node, rel, val, hi))
        if val in acked_vals.get(rel, ()) and (hi is None or val > hi):
            seen[(node, rel)] = val
    # 3. a node cut off in a minority acknowledged nothing it started then
    for v, t_cut, t_heal in cuts:
        for op in acked:
            if op["node"] == v and op["start"] >= t_cut and op["end"] <= t_heal:
                problems.append("n%d acknowledged a %s while cut off (%.2f s after the cut): %s"
                                % (v, op["kind"], op["start"] - t_cut, sorted(op["effects"])))
    # 4. a forwarded command acknowledged was carried out on its owner
    problems += ["forwarded command acknowledged, not in the owner's log: " + m for m in h.lost_commands]
    assert not problems, "%d problems:\n%s" % (len(problems), "\n".join(problems[:40]))
