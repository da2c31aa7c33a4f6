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

    def by_rule(self) -> dict[str, int]:
        return dict(sorted(Counter(f.rule for f in self.findings).items()))
