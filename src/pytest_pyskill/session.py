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
from .reporters.session import SessionFindings
from .rules.base import Rule

FINDINGS = pytest.StashKey[list[Finding]]()
STATEMENTS = pytest.StashKey[int]()
MARKS = pytest.StashKey[markers.TestMarks]()
ALLOWED = pytest.StashKey[Counter[str]]()


@dataclass
class PyskillSession:
    config: pytest.Config
    settings: options.Settings
    recorder: Recorder
    captures: Captures
    rules: dict[str, Rule]
    warn_as_error: bool
    data: SessionFindings = field(default_factory=SessionFindings)
    reported_errors: int = 0
    loop: LoopWatch | None = None
    uninstall_loop: Callable[[], None] | None = None
    baseline: Baseline | None = None

    @property
    def github(self) -> bool:
        if self.settings.github is not None:
            return self.settings.github
        return os.environ.get("GITHUB_ACTIONS") == "true"

    def failing_rules(self) -> set[str]:
        """Rules whose findings fail tests in this run (besides budgets)."""
        if not (self.settings.strict or self.warn_as_error):
            return set()
        return {f.rule for f in self.data.findings if f.severity != "info"}

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
        """Gather one test's results from its call report (the same path serial and xdist)."""
        if report.when != "call":
            return
        data = self.data
        data.tests += 1
        data.statements += int(getattr(report, "pyskill_statements", 0) or 0)
        for raw in getattr(report, "pyskill_findings", None) or ():
            data.findings.append(Finding.from_dict(raw))
        for key, n in (getattr(report, "pyskill_allowed", None) or {}).items():
            data.allowed[key] += int(n)
        for error in getattr(report, "pyskill_errors", None) or ():
            if error not in data.errors:
                data.errors.append(error)

    def resolve_path(self, path: str) -> str:
        p = Path(path)
        return str(p if p.is_absolute() else self.config.rootpath / p)
