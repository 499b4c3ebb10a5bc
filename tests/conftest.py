"""Shared by tests/system and tests/cluster: each phase's report is kept on the test item
(item.rep_setup, item.rep_call), so fixtures can tell at teardown whether the test failed."""
import pytest


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
