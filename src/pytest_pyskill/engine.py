"""The steps between pytest's hooks and the pytest-free core, re-exported for plugin.py:
session state (:mod:`.session`), start-up (:mod:`.startup`), rule evaluation
(:mod:`.evaluate`), delivery (:mod:`.delivery`), failure reprs (:mod:`.failures`) and JUnit
properties (:mod:`.junit`)."""

from __future__ import annotations

from .delivery import deliver
from .evaluate import evaluate
from .session import ALLOWED, FINDINGS, MARKS, STATEMENTS, PyskillSession
from .startup import start

__all__ = [
    "ALLOWED",
    "FINDINGS",
    "MARKS",
    "STATEMENTS",
    "PyskillSession",
    "deliver",
    "evaluate",
    "start",
]
