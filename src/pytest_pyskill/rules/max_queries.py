"""Rule ``max-queries``: a test (or the ini default) set a budget and the test went over it."""

from __future__ import annotations

from collections.abc import Iterable

from ..model import Finding, Location, Severity
from .base import TestRun


class MaxQueries:
    id = "max-queries"
    summary = "a test sent more data statements than its query budget allows"
    severity: Severity = "error"

    def check(self, run: TestRun) -> Iterable[Finding]:
        budget = run.budget
        if budget is None:
            return
        count = run.count(budget.using)
        if count <= budget.limit:
            return
        on = f" on {budget.using!r}" if budget.using else ""
        source = "max_queries marker" if budget.origin == "marker" else "pyskill_max_queries"
        groups = sorted(
            (
                g
                for g in run.groups
                if g.shape.is_data and (budget.using is None or budget.using == g.database)
            ),
            key=lambda g: (-g.count, g.first),
        )
        details = [f"{g.count} x {g.shape.fingerprint}  [{g.callsite}]" for g in groups]
        trace = [
            f"{i}. {e.shape.fingerprint}  [{e.callsite}]"
            for i, e in enumerate(
                (
                    e
                    for e in run.events
                    if e.shape.is_data
                    and (budget.using is None or budget.using in (e.database, e.vendor))
                ),
                start=1,
            )
        ]
        if run.dropped:
            trace.append(f"... {run.dropped} more statements not kept (pyskill_max_events)")
        top = groups[0] if groups else None
        yield Finding(
            rule=self.id,
            severity=self.severity,
            message=f"{count} statements{on}, budget is {budget.limit} ({source})",
            count=count,
            location=run.test_location or (Location.of(top.callsite.primary) if top else None),
            label=f"max_queries({budget.limit})",
            fix="batch or eager-load the repeated statements below, or raise the budget",
            details=tuple(details),
            trace=tuple(trace),
            always_fails=True,
        )
