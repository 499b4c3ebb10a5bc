"""Fixtures for the multi-node pvefs tests (see clusterlib.py for the set-up).

cluster3, cluster5   a fresh cluster per test: N namespaces, N corosyncs, N pvefsd, all quorate.
make_cluster         a factory, for tests that want another shape: make_cluster(3, pvefsd=[1, 2]).

Every test has a time budget (default 90 s, @pytest.mark.budget(N) to change it): SIGALRM
raises in the test, and a watchdog SIGKILLs (by PID) every pvefsd this session started, so
a test stuck in a FUSE request gets ENOTCONN. Cleanup always runs. Sanitizer reports in
any node's pvefsd output fail the test.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import clusterlib  # noqa: E402
from clusterlib import Cluster  # noqa: E402

DEFAULT_BUDGET = 90
TestTimeout = clusterlib.TestTimeout


def pytest_configure(config):
    config.addinivalue_line("markers", "budget(seconds): time budget of one test (default 90 s)")


def pytest_report_header(config):
    priv = clusterlib.pvefslib.in_private_mount_ns()
    return ["cluster pvefsd: %s (%s)" % (clusterlib.PVEFSD,
                                         "present" if os.access(clusterlib.PVEFSD, os.X_OK) else "MISSING"),
            "cluster mount namespace: %s" % ("private" if priv else
                                             "SHARED with pid 1 (run through tests/run.sh, which unshares it)")]


@pytest.fixture(autouse=True)
def _budget(request):
    m = request.node.get_closest_marker("budget")
    with clusterlib.pvefslib.time_budget(int(m.args[0]) if m else DEFAULT_BUDGET, clusterlib.kill_all_live_daemons, TestTimeout):
        yield


def _dump(c):
    for nd in c:
        print("---- %s pvefsd output (%s) ----\n%s" % (nd.name, nd.logs[-1].name if nd.logs else "-",
                                                       nd.log_tail(40)))
        print("---- %s corosync log ----\n%s" % (nd.name, nd.corosync_log_tail(15)))


@pytest.fixture
def make_cluster(request):
    made = []

    def make(n, **kw):
        c = Cluster(n, **kw)
        made.append(c)
        c.setup()  # on failure, the teardown below prints the logs and cleans up
        return c

    yield make
    rep = getattr(request.node, "rep_call", None)
    failed = rep is None or rep.failed
    reports = []
    for c in made:
        if failed:
            _dump(c)
        c.cleanup()
        reports += c.sanitizer_reports
    if reports:
        pytest.fail("sanitizer report in pvefsd output:\n" + "\n".join(reports), pytrace=False)


@pytest.fixture
def cluster3(make_cluster):
    return make_cluster(3)


@pytest.fixture
def cluster5(make_cluster):
    return make_cluster(5)
