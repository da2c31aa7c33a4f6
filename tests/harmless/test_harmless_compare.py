"""The comparison itself: it must see a changed outcome, a changed failure message and an
extra warning, and it must not count the plugin's own findings as a difference."""

from __future__ import annotations

import pytest
from compare import Harmful, compare, files

# A conftest that misbehaves only when pytest-pyskill is loaded: a stand-in for a harmful plugin.
SABOTAGE = """
import warnings

import pytest


@pytest.fixture(autouse=True)
def sabotage(request):
    yield
    if request.config.pluginmanager.has_plugin("pyskill"):
        if request.node.name == "test_passes":
            pytest.fail("changed by the plugin")
        if request.node.name == "test_fails":
            warnings.warn("an extra warning", UserWarning)
"""

REPO = """
import sqlite3


def insert_each(n):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER)")
    for i in range(n):
        conn.execute("INSERT INTO t (a) VALUES (?)", (i,))
"""

TESTS = """
import sqlite3

import repo


def test_passes():
    repo.insert_each(4)


def test_fails():
    sqlite3.connect(":memory:").execute("SELECT 1")
    assert False, "as written"
"""


def test_compare_reports_every_kind_of_difference(pytester: pytest.Pytester) -> None:
    files(pytester, conftest=SABOTAGE, repo=REPO, test_it=TESTS)
    with pytest.raises(Harmful) as excinfo:
        compare(pytester, expect={"passed": 1, "failed": 1})
    message = str(excinfo.value)
    assert "per-test outcomes differ" in message
    assert "failure messages differ" in message
    assert "exit status" not in message  # 1 either way
    assert "an extra warning" in message
    # The plugin's finding (unbatched-insert) is a PyskillWarning: never a difference.
    assert "PyskillWarning: unbatched-insert" in message  # (in the plugged run's output)
    compared = message.split("--- without")[0]
    assert "pytest_pyskill.PyskillWarning" not in compared
    assert compared.count("builtins.UserWarning") == 1
