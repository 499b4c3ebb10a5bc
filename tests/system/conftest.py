"""Fixtures for the pvefs system tests.

pvefs      function-scoped: a fresh data dir and mount for one test.
pvefs_mod  module-scoped: one daemon shared by the tests of a module that do not restart it
           (restarted transparently if an earlier test left it dead).
helper_bin session-scoped: directory with the C helpers of tests/system/helpers, compiled.

Every test has a time budget (default 60 s, @pytest.mark.budget(N) to change it). When it
runs out, SIGALRM raises in the test, and a watchdog thread SIGKILLs (by PID) every pvefsd
this session started, so a test stuck inside a FUSE request gets ENOTCONN instead of hanging.
"""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import pvefslib  # noqa: E402
from pvefslib import Pvefs, make_base, remove_base  # noqa: E402

MKTEMPLATE = Path(__file__).resolve().parents[2] / "tools" / "pvefs-mktemplate"

DEFAULT_BUDGET = 60


class TestTimeout(Exception):
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "budget(seconds): time budget of one test (default 60 s)")


def pytest_report_header(config):
    priv = pvefslib.in_private_mount_ns()
    return ["pvefsd: %s (%s)" % (pvefslib.PVEFSD, "present" if os.access(pvefslib.PVEFSD, os.X_OK) else "MISSING"),
            "mount namespace: %s" % ("private" if priv else
                                     "SHARED with pid 1 (run through tests/run.sh, which unshares it)")]


@pytest.fixture(autouse=True)
def _budget(request):
    m = request.node.get_closest_marker("budget")
    with pvefslib.time_budget(int(m.args[0]) if m else DEFAULT_BUDGET, pvefslib.kill_all_live_daemons, TestTimeout):
        yield


def _sanitizer_report(d):
    for log in d.logs:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue
        hits = [i for i in (text.find(m) for m in ("==ERROR: ", "AddressSanitizer", "LeakSanitizer",
                                                     "UndefinedBehaviorSanitizer", "runtime error:")) if i >= 0]
        if hits:
            i = text.rfind("\n", 0, min(hits)) + 1
            return "%s:\n%s" % (log.name, text[i:i + 3000])
    return None


def _finish(d, failed):
    d.cleanup()
    if failed:
        print("---- pvefsd output (%s) ----\n%s" % (d.logs[-1] if d.logs else "-", d.log_tail(60)))
    report = _sanitizer_report(d)
    remove_base(d.base)
    return report


@pytest.fixture
def pvefs(request):
    base = make_base()
    d = Pvefs(base)
    try:
        d.start()
    except Exception:
        _finish(d, True)
        raise
    yield d
    rep = getattr(request.node, "rep_call", None)
    report = _finish(d, rep is None or rep.failed)
    if report:
        pytest.fail("sanitizer report in pvefsd output:\n" + report, pytrace=False)


class _Shared:
    d = None


@pytest.fixture(scope="module")
def _pvefs_module():
    base = make_base()
    d = Pvefs(base)
    holder = _Shared()
    holder.d = d
    yield holder
    report = _finish(d, False)
    if report:
        print("sanitizer report in pvefsd output:\n" + report)


@pytest.fixture
def pvefs_mod(_pvefs_module, request):
    d = _pvefs_module.d
    if not d.alive() or not os.path.ismount(d.mnt):
        d.cleanup()
        d.start()
    yield d
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("---- pvefsd output ----\n" + d.log_tail(60))
    report = _sanitizer_report(d)
    if report:
        pytest.fail("sanitizer report in pvefsd output:\n" + report, pytrace=False)


@pytest.fixture(scope="session")
def helper_bin(tmp_path_factory):
    """Compile tests/system/helpers/*.c into a private dir. Returns {name: path or None}."""
    out = tmp_path_factory.mktemp("helpers")
    os.chmod(out, 0o755)
    bins = {}
    for src in sorted(pvefslib.HELPERS.glob("*.c")):
        libs = ["-lnfs"] if "nfs" in src.stem else []
        path, err = pvefslib.compile_helper(src, out / src.stem, libs)
        bins[src.stem] = path
        if err:
            bins[src.stem + ".error"] = err
    return bins


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A busybox container template (vztmpl), made by tools/pvefs-mktemplate."""
    out = tmp_path_factory.mktemp("tmpl") / "busybox.tar.gz"
    p = pvefslib.run([str(MKTEMPLATE), "busybox", str(out)], timeout=120)
    assert p.returncode == 0, p.stderr
    return out
