"""Hooks pytest-pyskill calls, for rules, filters and reporters of your own.

Implement them in a ``conftest.py`` or a plugin, like any pytest hook. The built-in rules are
registered through ``pytest_pyskill_rules`` too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .model import Finding
    from .rules.base import Rule


@pytest.hookspec
def pytest_pyskill_rules(config: pytest.Config) -> Sequence[Rule]:
    """Return rules to run on every test (objects with ``id``, ``summary``, ``severity`` and
    ``check(run) -> Iterable[Finding]``; see :class:`pytest_pyskill.Rule`). Called once, at
    configure time: implement it in a plugin or a rootdir ``conftest.py``."""
    raise NotImplementedError


@pytest.hookspec(firstresult=True)
def pytest_pyskill_finding(finding: Finding, item: pytest.Item) -> Finding | bool | None:
    """Filter or change one finding before it is reported.

    Return ``False`` to drop it, a (changed) :class:`Finding` to replace it, or ``None`` to keep
    it as it is. The first implementation that returns something other than ``None`` wins."""
    raise NotImplementedError


@pytest.hookspec
def pytest_pyskill_session_findings(findings: Sequence[Finding], config: pytest.Config) -> None:
    """Receive every finding of the session, once, at the end (on the xdist controller)."""
    raise NotImplementedError
