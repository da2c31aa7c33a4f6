"""What a rule is: a pure function of one test's statements to findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..model import Finding, Location, LoopEvent, Severity, StatementEvent
from ..recorder import Group


@dataclass(frozen=True, slots=True)
class Budget:
    """A query budget for a test: at most ``limit`` data statements (on ``using`` if given)."""

    limit: int
    using: str | None = None
    origin: str = "marker"  # "marker" or "ini"


@dataclass(frozen=True)
class TestRun:
    """Everything rules may look at for one test. No pytest objects, no I/O."""

    __test__ = False  # not a pytest test class

    nodeid: str
    events: tuple[StatementEvent, ...]
    groups: tuple[Group, ...]
    total: int
    data_count: Mapping[str | None, int]
    dropped: int = 0
    budget: Budget | None = None
    test_location: Location | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    loop_events: tuple[LoopEvent, ...] = ()  # blocking calls and stalls of event loops

    def count(self, using: str | None = None) -> int:
        return self.data_count.get(using, 0)


@runtime_checkable
class Rule(Protocol):
    """A rule: an ``id`` (kebab-case), a one-line ``summary``, a ``severity``, and ``check``."""

    id: str
    summary: str
    severity: Severity

    def check(self, run: TestRun) -> Iterable[Finding]: ...
