"""Rule ``missing-transaction``: one operation whose writes are committed separately.

An operation is one activation of the application function the test called. Its writes made
outside any transaction the code itself opened are grouped by commit unit (the transaction that
makes each one durable; a statement in autocommit is a unit of its own). Two or more writes in
two or more units mean a failure in between leaves partial data. Seen through: pytest-django's
test-case atomics and a fixture's outer SQLAlchemy transaction (the savepoint inside it is the
unit). Not flagged: a single write, one ORM call that is atomic by itself (``bulk_create``,
cascading ``delete()``, one SQLAlchemy flush), writes inside a user transaction, and writes made
by test code.

Also under this rule: ``SELECT ... FOR UPDATE`` outside a transaction the code opened. It locks
nothing in autocommit (and Django refuses it in production), but passes under ``TestCase``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model import Finding, Location, Severity, StatementEvent
from .base import TestRun

_FIX = {
    "django": "wrap the operation in transaction.atomic() (decorator or with-block)",
    "sqlalchemy": "one transaction for the operation: with session.begin(): (or engine.begin())",
    "dbapi": "commit once at the end of the operation (with conn: ...), not after each write",
}


class MissingTransaction:
    id = "missing-transaction"
    summary = "one operation's writes are committed separately (or FOR UPDATE outside one)"
    severity: Severity = "warning"

    def check(self, run: TestRun) -> Iterable[Finding]:
        ops: dict[int, list[StatementEvent]] = {}
        for event in run.events:
            if event.callsite.in_test_code or event.in_transaction is not False:
                continue
            shape = event.shape
            if shape.kind == "select" and "FOR UPDATE" in shape.fingerprint.upper():
                yield self._for_update(event)
            elif shape.is_write:
                ops.setdefault(event.op, []).append(event)
        for writes in ops.values():
            units = {e.unit if e.unit is not None else -i for i, e in enumerate(writes, 1)}
            if len(writes) >= 2 and len(units) >= 2:
                yield self._finding(writes, len(units))

    def _finding(self, writes: list[StatementEvent], units: int) -> Finding:
        first, last = writes[0], writes[-1]
        entry = first.callsite.app_frames[-1] if first.callsite.app_frames else None
        tables = sorted({t for e in writes for t in e.shape.tables})
        where = entry.function if entry else "one operation"
        return Finding(
            rule=self.id,
            severity=self.severity,
            message=f"{where}() makes {len(writes)} writes committed in {units} separate "
            f"transactions",
            count=len(writes),
            location=Location.of(entry),
            label=entry.function if entry else None,
            fingerprint=first.shape.fingerprint,
            fix=_FIX.get(first.source, _FIX["dbapi"]),
            details=(
                f"first write at {first.callsite.primary}",
                f"last write at {last.callsite.primary}",
                f"tables: {', '.join(tables)}",
            ),
            trace=tuple(f"{e.shape.fingerprint}  [{e.callsite}]" for e in writes),
        )

    def _for_update(self, event: StatementEvent) -> Finding:
        return Finding(
            rule=self.id,
            severity=self.severity,
            message="SELECT ... FOR UPDATE outside a transaction the code opened: it locks nothing",
            count=1,
            location=Location.of(event.callsite.primary),
            label="select_for_update",
            fingerprint=event.shape.fingerprint,
            fix=(
                "run it inside transaction.atomic()"
                if event.source == "django"
                else "run it inside with session.begin(): (or engine.begin())"
            ),
        )
