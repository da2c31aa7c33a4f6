"""What the session gathered, in one place, for every reporter (JSON-safe, xdist-friendly)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..model import Finding


@dataclass
class TestResult:
    """One test's contribution (its last attempt's, under reruns)."""

    __test__ = False  # not a pytest test class

    findings: list[Finding]
    statements: int = 0
    allowed: Counter[str] = field(default_factory=Counter)
    failing: frozenset[str] = frozenset()  # rules whose findings failed the test
    passed: bool = True  # the call phase passed: a finding it did not report is gone


@dataclass
class SessionFindings:
    findings: list[Finding] = field(default_factory=list)
    tests: int = 0
    statements: int = 0
    errors: list[str] = field(default_factory=list)
    errors_dropped: int = 0  # internal errors past the cap (counted, not listed)
    output_errors: list[str] = field(default_factory=list)  # a report file that was not written
    results: dict[str, TestResult] = field(default_factory=dict)  # by node id
    allowed: Counter[str] = field(default_factory=Counter)  # allowance key -> uses
    configured_allowances: list[str] = field(default_factory=list)  # from ini / command line
    baseline_path: str | None = None  # set when a baseline is in use
    baseline_stale: list[tuple[str, str, str, str]] = field(default_factory=list)
    baseline_written: int | None = None  # entries recorded by --pyskill-update-baseline
    baseline_refused: str | None = None  # why --pyskill-update-baseline wrote nothing
    baseline_unchecked: int = 0  # schema-1 entries that do not know their tests

    def record(self, nodeid: str, result: TestResult) -> None:
        """One test's result; a test reported again (a rerun) replaces its earlier attempt, so
        tests are counted by node id and findings once per test."""
        previous = self.results.pop(nodeid, None)
        if previous is None:
            self.tests += 1
        else:
            gone = {id(f) for f in previous.findings}
            self.findings = [f for f in self.findings if id(f) not in gone]
            self.statements -= previous.statements
            self.allowed.subtract(previous.allowed)
            self.allowed += Counter()  # drop the keys that went to zero
        self.results[nodeid] = result
        self.findings.extend(result.findings)
        self.statements += result.statements
        self.allowed.update(result.allowed)

    @property
    def passed_tests(self) -> set[str]:
        return {nodeid for nodeid, result in self.results.items() if result.passed}

    def failing_rules(self) -> set[str]:
        return {rule for result in self.results.values() for rule in result.failing}

    def baseline_summary(self) -> dict[str, object] | None:
        if self.baseline_path is None:
            return None
        return {
            "path": self.baseline_path,
            "known": sum(1 for f in self.findings if f.baseline == "known"),
            "new": sum(1 for f in self.findings if f.baseline == "new"),
            "stale": [
                {"rule": r, "label": label, "path": p, "function": fn}
                for r, label, p, fn in self.baseline_stale
            ],
            "recorded": self.baseline_written,
        }

    def by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(f.rule for f in self.findings).items()))
