"""What the session gathered, in one place, for every reporter (JSON-safe, xdist-friendly)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..model import Finding


@dataclass
class SessionFindings:
    findings: list[Finding] = field(default_factory=list)
    tests: int = 0
    statements: int = 0
    errors: list[str] = field(default_factory=list)
    allowed: Counter[str] = field(default_factory=Counter)  # allowance key -> uses
    configured_allowances: list[str] = field(default_factory=list)  # from ini / command line
    baseline_path: str | None = None  # set when a baseline is in use
    baseline_stale: list[tuple[str, str, str, str]] = field(default_factory=list)
    baseline_written: int | None = None  # entries recorded by --pyskill-update-baseline

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
