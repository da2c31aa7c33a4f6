"""Never harmful next to the plugins and runners people combine with pytest.

Each case runs one small project twice, without and with pytest-pyskill (warn mode), with a
neighbour active for real, and asserts pytest decided the same (see ``compare.py``). Every
project runs real SQL (SQLAlchemy, sqlite3, Django) and event loops while the neighbour is on.
"""

from __future__ import annotations

import sys

import pytest
from compare import Harmful, add_marker_fallback, compare, files, run
from projects import APP, EXPECT, TESTS

from conftest import DJANGO_SETTINGS, use_django_backend


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    files(pytester, app=APP, test_app=TESTS)
    return pytester


def test_plain_run(project: pytest.Pytester) -> None:
    plugged = compare(project, expect=EXPECT)
    # The project gives the plugin something to report; findings are warnings, nothing else.
    assert {f["rule"] for f in plugged.findings} >= {"n-plus-one", "unbatched-insert", "blocking-call"}
    assert plugged.pyskill_warnings


def test_xdist(project: pytest.Pytester) -> None:
    compare(project, "-n", "2", expect=EXPECT)


def test_randomly(project: pytest.Pytester) -> None:
    """pytest-randomly reorders tests and reseeds ``random`` before each one (same seed in both
    runs, so both see the same order)."""
    plugged = compare(project, randomly=True, expect=EXPECT)
    plugged.result.stdout.fnmatch_lines(["Using --randomly-seed=*"])
