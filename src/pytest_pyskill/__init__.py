"""pytest-pyskill: your test suite as a runtime linter for backend best practices."""

from __future__ import annotations

import pytest

from .loop.allow import allow_blocking
from .model import (
    CallSite,
    Finding,
    Frame,
    Location,
    LoopEvent,
    OrmContext,
    Shape,
    StatementEvent,
)
from .rules.base import Budget, Rule, TestRun

__version__ = "0.1.0.dev0"


class PyskillWarning(pytest.PytestWarning):
    """A pytest-pyskill finding, delivered as a warning in warn mode."""

    __module__ = "pytest_pyskill"


__all__ = [
    "Budget",
    "CallSite",
    "Finding",
    "Frame",
    "Location",
    "LoopEvent",
    "OrmContext",
    "PyskillWarning",
    "Rule",
    "Shape",
    "StatementEvent",
    "TestRun",
    "__version__",
    "allow_blocking",
]
