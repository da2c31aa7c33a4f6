"""The steps between pytest's hooks and the pytest-free core, re-exported for plugin.py:
session state (:mod:`.session`), start-up (:mod:`.startup`), rule evaluation
(:mod:`.evaluate`), delivery (:mod:`.delivery`), failure reprs (:mod:`.failures`) and JUnit
properties (:mod:`.junit`)."""

from __future__ import annotations

from .delivery import deliver, issue
from .evaluate import evaluate
from .session import (
    ALLOWED,
    CALLED,
    FAILING,
    FINDINGS,
    MARKS,
    STATEMENTS,
    PyskillSession,
    forget_attempt,
)
from .startup import start

__all__ = [
    "ALLOWED",
    "CALLED",
    "FAILING",
    "FINDINGS",
    "MARKS",
    "STATEMENTS",
    "PyskillSession",
    "deliver",
    "evaluate",
    "forget_attempt",
    "issue",
    "start",
]
