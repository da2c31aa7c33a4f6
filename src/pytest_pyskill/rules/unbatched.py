"""Rules ``unbatched-insert``, ``unbatched-update`` and ``unbatched-delete``: the same write,
one row per statement, sent again and again from one line within one operation.

Batched by the caller, never flagged: ``executemany`` (and SQLAlchemy's ``insertmanyvalues``,
which reaches the driver as several statements of one batched execution), multi-row ``VALUES``,
``bulk_create``/``bulk_update``, and every statement of one SQLAlchemy flush (a flush that the
dialect forces to insert row by row is still one call of the user's). Writes made by test code
(building test data in a loop) are left alone unless ``pyskill_check_test_code`` is on; writes
from fixture set-up are outside the test's window.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model import CallSite, Finding, Location, Severity, StatementEvent
from .base import TestRun

DEFAULT_THRESHOLD = 3

_FIXES = {
    ("insert", "django"): "Model.objects.bulk_create([...]) instead of create()/save() per row",
    ("insert", "sqlalchemy"): (
        "session.add_all([...]) and one flush, or session.execute(insert(Model), rows)"
    ),
    ("insert", "dbapi"): "cursor.executemany(sql, rows), or one INSERT with many VALUES",
    ("update", "django"): (
        "queryset.update(...) (with F() for per-row arithmetic) or bulk_update(objs, fields)"
    ),
    ("update", "sqlalchemy"): (
        "session.execute(update(Model), rows) or one UPDATE ... WHERE id IN (...)"
    ),
    ("update", "dbapi"): "cursor.executemany(sql, rows), or one UPDATE ... WHERE id IN (...)",
    (
        "delete",
        "django",
    ): "Model.objects.filter(pk__in=ids).delete() instead of obj.delete() per row",
    ("delete", "sqlalchemy"): "session.execute(delete(Model).where(Model.id.in_(ids)))",
    ("delete", "dbapi"): "one DELETE ... WHERE id IN (...), or cursor.executemany(sql, rows)",
}


class _Unbatched:
    kind = ""
    id = ""
    summary = ""
    severity: Severity = "warning"

    def check(self, run: TestRun) -> Iterable[Finding]:
        threshold = int(run.options.get("unbatched_threshold", DEFAULT_THRESHOLD))
        include_tests = bool(run.options.get("check_test_code", False))
        groups: dict[tuple[str, CallSite, int], list[StatementEvent]] = {}
        for event in run.events:
            shape = event.shape
            if shape.kind != self.kind or event.executemany or shape.rows > 1:
                continue
            if event.callsite.in_test_code and not include_tests:
                continue
            groups.setdefault((shape.fingerprint, event.callsite, event.op), []).append(event)
        for (_fp, site, _op), events in groups.items():
            # One SQLAlchemy flush is one call of the user's, however many rows it writes.
            calls = {e.orm.parent if e.orm and e.orm.kind == "flush" else i
                     for i, e in enumerate(events)}  # fmt: skip
            if len(calls) >= threshold:
                yield self._finding(site, events, len(calls))

    def _finding(self, site: CallSite, events: list[StatementEvent], calls: int) -> Finding:
        first = events[0]
        table = first.shape.tables[0] if first.shape.tables else "?"
        verb = first.shape.kind.upper()
        return Finding(
            rule=self.id,
            severity=self.severity,
            message=f"{calls} single-row {verb}s into {table} from one line",
            count=calls,
            location=Location.of(site.primary),
            label=table,
            fingerprint=first.shape.fingerprint,
            fix=_FIXES.get((self.kind, first.source), _FIXES[(self.kind, "dbapi")]),
            details=(f"{len(events)} statements, one row each",),
        )


class UnbatchedInsert(_Unbatched):
    kind = "insert"
    id = "unbatched-insert"
    summary = "the same INSERT, one row per statement, sent repeatedly from one line"


class UnbatchedUpdate(_Unbatched):
    kind = "update"
    id = "unbatched-update"
    summary = "the same UPDATE, one row per statement, sent repeatedly from one line"


class UnbatchedDelete(_Unbatched):
    kind = "delete"
    id = "unbatched-delete"
    summary = "the same DELETE, one row per statement, sent repeatedly from one line"
