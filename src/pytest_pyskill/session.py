"""The session's state: settings, rules, the recorder and capture, and what the tests reported
(one :class:`PyskillSession` in the config's stash)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import markers, options
from .baseline import Baseline
from .capture import Captures
from .loop import LoopWatch
from .loop.allow import Allowance
from .model import Finding, LoopEvent
from .recorder import Recorder
from .reporters import terminal
from .reporters.session import SessionFindings, TestResult
from .rules.base import Rule

FINDINGS = pytest.StashKey[list[Finding]]()
STATEMENTS = pytest.StashKey[int]()
MARKS = pytest.StashKey[markers.TestMarks]()
ALLOWED = pytest.StashKey[Counter[str]]()
FAILING = pytest.StashKey[list[Finding]]()  # the findings that fail the test
CALLED = pytest.StashKey[bool]()  # the call phase ended; its report is the test's own


def forget_attempt(item: pytest.Item) -> None:
    """Clear what an earlier run of this item left in its stash (a rerun plugin runs the same
    item again): each attempt is judged on its own."""
    item.stash[FINDINGS] = []
    item.stash[FAILING] = []
    item.stash[STATEMENTS] = 0
    item.stash[ALLOWED] = Counter()
    item.stash[CALLED] = False


@dataclass
class PyskillSession:
    config: pytest.Config
    settings: options.Settings
    recorder: Recorder
    captures: Captures
    rules: dict[str, Rule]
    data: SessionFindings = field(default_factory=SessionFindings)
    reported_errors: int = 0
    reported_dropped: int = 0
    file_mode: int = 0o644  # report files: 0o666 & ~umask, read once at start-up
    collection_errors: int = 0
    crashed_workers: int = 0
    loop: LoopWatch | None = None
    uninstall_loop: Callable[[], None] | None = None
    baseline: Baseline | None = None

    @property
    def github(self) -> bool:
        if self.settings.github is not None:
            return self.settings.github
        return os.environ.get("GITHUB_ACTIONS") == "true"

    def failing_rules(self) -> set[str]:
        """Rules whose findings failed tests in this run."""
        return self.data.failing_rules()

    def close(self) -> None:
        undo = self.uninstall_loop
        if undo is not None:
            self.uninstall_loop = None
            with self.recorder.guard("removing the event-loop patches"):
                undo()
        self.captures.close()

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    @property
    def mode(self) -> str:
        return "strict" if self.settings.strict else "warn"

    def header_lines(self) -> list[str]:
        lines = [terminal.header(self.mode, self.recorder.sources)]
        lines.extend(self.captures.notes)
        others = [
            line
            for line in self.config.getini("markers")
            if line.split("(")[0].split(":")[0].strip() == "max_queries"
            and "pytest-pyskill" not in line
        ]
        if others:
            lines.append(
                "pyskill: another plugin also defines the max_queries marker "
                f"({others[0].split(':')[0]}); both will enforce it"
            )
        return lines

    def read_marks(self, item: pytest.Item) -> markers.TestMarks:
        marks = markers.read(item, self.rules)
        item.stash[MARKS] = marks
        return marks

    def watch_loop(self, item: pytest.Item, marks: markers.TestMarks) -> None:
        """Start watching event loops for this test (from its set-up on: async fixtures)."""
        if self.loop is None:
            return
        ignored = self.settings.ignore | marks.ignore
        if marks.ignore_all or {"blocking-call", "slow-callback", "max-loop-block"} <= ignored:
            return
        allow = tuple(Allowance("*", call, "*", reason, "marker") for call, reason in marks.allow)
        self.loop.open(allow)

    def stop_watching(self) -> tuple[list[LoopEvent], Counter[str]]:
        if self.loop is None or not self.loop.watching:
            return [], Counter()
        return self.loop.close()

    def open(self, item: pytest.Item) -> None:
        with self.recorder.guard("installing capture"):
            self.captures.install_available()
        window = self.recorder.window
        if window is None or window.nodeid != item.nodeid:
            self.recorder.open(item.nodeid)

    def collect(self, report: pytest.TestReport) -> None:
        """Gather one test's results from its call report (the same path serial and xdist).
        Reports without pyskill's attributes (subtests, a rerun plugin's own) are not tests."""
        if report.when != "call" or not hasattr(report, "pyskill_findings"):
            return
        data = self.data
        allowed: Counter[str] = Counter()
        for key, n in (getattr(report, "pyskill_allowed", None) or {}).items():
            allowed[key] += int(n)
        result = TestResult(
            [Finding.from_dict(raw) for raw in report.pyskill_findings or ()],
            int(getattr(report, "pyskill_statements", 0) or 0),
            allowed,
            frozenset(getattr(report, "pyskill_failing", None) or ()),
            report.passed,
        )
        data.record(report.nodeid, result)
        for error in getattr(report, "pyskill_errors", None) or ():
            if error not in data.errors:
                data.errors.append(error)
        data.errors_dropped += int(getattr(report, "pyskill_errors_dropped", 0) or 0)

    def resolve_path(self, path: str) -> str:
        p = Path(path)
        return str(p if p.is_absolute() else self.config.rootpath / p)
