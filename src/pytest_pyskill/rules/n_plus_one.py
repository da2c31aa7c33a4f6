"""Rule ``n-plus-one``: one query per row where one or two would do.

Two kinds of evidence, strongest first:

* **ORM lazy loads.** The same relation (or deferred/expired column) loaded lazily for several
  distinct objects, from one call-site chain, within one operation (one activation of the
  function the test called). Grouped by (relation, call site, operation); a finding needs
  ``threshold`` distinct parent objects (default 2). An ORM-explained statement is never counted
  again by the backstop.
* **Backstop for any SQL.** The same SELECT shape sent again and again from one call-site chain
  within one operation, with no ORM explanation (Core, ``text()``, ``cursor.execute``, raw
  ``sqlite3``, ``session.get()``/``Model.objects.get()`` in a loop). Weaker evidence, so it needs
  one more repeat than the ORM rule (default 3).

Repeats spread over separate operations (a test calling the application once per URL) are the
test's loop, not an N+1, and are not reported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..model import CallSite, Finding, Location, Severity, StatementEvent
from .base import TestRun

DEFAULT_THRESHOLD = 2


class NPlusOne:
    id = "n-plus-one"
    summary = (
        "one query per row where one or two would do (lazy relations, deferred columns, "
        "get() in a loop)"
    )
    severity: Severity = "warning"

    def check(self, run: TestRun) -> Iterable[Finding]:
        threshold = int(run.options.get("n_plus_one_threshold", DEFAULT_THRESHOLD))
        lazy: dict[tuple[str, CallSite, int], list[StatementEvent]] = {}
        raw: dict[tuple[str, CallSite, int], list[StatementEvent]] = {}
        for event in run.events:
            if event.shape.kind != "select":
                continue
            orm = event.orm
            if orm is not None and orm.lazy_load is not None:
                lazy.setdefault((orm.lazy_load, event.callsite, event.op), []).append(event)
            elif event.callsite.frames:
                raw.setdefault((event.shape.fingerprint, event.callsite, event.op), []).append(
                    event
                )
        for (label, site, _op), events in lazy.items():
            parents = {e.orm.parent for e in events if e.orm is not None}
            if len(parents) >= threshold:
                yield self._orm_finding(label, site, events, len(parents))
        for (_fp, site, _op), events in raw.items():
            if len(events) >= threshold + 1:
                yield self._raw_finding(site, events)

    def _orm_finding(
        self, label: str, site: CallSite, events: list[StatementEvent], parents: int
    ) -> Finding:
        first = events[0]
        orm = first.orm
        assert orm is not None
        owner, _, attribute = label.partition(".")
        kind = orm.kind or "relationship"
        if kind == "expired":
            owner = orm.entity or owner.split(" ")[0]
            what = f"{parents} expired {owner} objects refreshed one by one"
        elif kind == "deferred":
            what = f"deferred column {label} loaded for {parents} {owner} objects"
        else:
            what = f"{label} lazy-loaded for {parents} {owner} objects"
        fetched = Counter(e.orm.fetched_at for e in events if e.orm and e.orm.fetched_at)
        details = [f"{len(events)} queries, one per object ({kind})"]
        fetched_at = Location.of(fetched.most_common(1)[0][0].primary) if fetched else None
        if site.in_test_code:
            details.append(
                "the loop is in test code: fix it there, or in the query that fetched the rows"
            )
        return Finding(
            rule=self.id,
            severity=self.severity,
            message=what,
            count=len(events),
            location=Location.of(site.primary),
            label=label,
            fingerprint=first.shape.fingerprint,
            fix=fix_for(orm.source, kind, owner, attribute),
            details=tuple(details),
            fetched_at=fetched_at,
            trace=tuple(f"{e.orm.parent if e.orm else '?'}: {e.shape.fingerprint}" for e in events),
        )

    def _raw_finding(self, site: CallSite, events: list[StatementEvent]) -> Finding:
        first = events[0]
        table = first.shape.tables[0] if first.shape.tables else None
        on = f" on {table}" if table else ""
        source = first.source
        orm = first.orm
        if orm is not None and orm.kind == "get" and orm.entity:
            return Finding(
                rule=self.id,
                severity=self.severity,
                message=f"{orm.entity}.objects.get() called {len(events)} times from one line",
                count=len(events),
                location=Location.of(site.primary),
                label=f"{orm.entity}.objects.get",
                fingerprint=first.shape.fingerprint,
                fix=(f"fetch them in one query before the loop: {orm.entity}.objects.in_bulk(ids)"),
                details=(f"{len(events)} queries, one per iteration",),
            )
        if source == "django":
            fix = (
                "fetch the rows in one query before the loop: Model.objects.in_bulk(ids) "
                "or filter(pk__in=ids)"
            )
        elif source == "sqlalchemy":
            fix = (
                "fetch the rows in one query before the loop: "
                "select(Model).where(Model.id.in_(ids))"
            )
        else:
            fix = "fetch the rows in one query before the loop (WHERE ... IN (...)) or join them in"
        return Finding(
            rule=self.id,
            severity=self.severity,
            message=f"the same SELECT{on} sent {len(events)} times from one line",
            count=len(events),
            location=Location.of(site.primary),
            label=table,
            fingerprint=first.shape.fingerprint,
            fix=fix,
            details=(f"{len(events)} identical query shapes, one per iteration",),
        )


def fix_for(source: str, kind: str, owner: str, attribute: str) -> str:
    """The exact fix for one kind of per-row load, in the ORM's own words."""
    label = f"{owner}.{attribute}"
    if source == "sqlalchemy":
        if kind == "many-to-one" or kind == "one-to-one":
            return f"select({owner}).options(joinedload({label})) (or selectinload)"
        if kind in ("one-to-many", "many-to-many", "relationship"):
            return f"select({owner}).options(selectinload({label}))"
        if kind == "deferred":
            return f"select({owner}).options(undefer({label}))"
        if kind == "expired":
            return (
                f"a commit expired these {owner} objects: commit once after the loop, use "
                f"Session(expire_on_commit=False), or re-load them in one query "
                f"(select({owner}).execution_options(populate_existing=True))"
            )
    if source == "django":
        if kind in ("many-to-one", "one-to-one", "reverse-one-to-one"):
            return f'{owner}.objects.select_related("{attribute}")'
        if kind in ("one-to-many", "many-to-many", "generic", "generic-relation"):
            return f'{owner}.objects.prefetch_related("{attribute}")'
        if kind == "count":
            return f'{owner}.objects.annotate(Count("{attribute}")) instead of a count per row'
        if kind == "deferred":
            return f'load "{attribute}" with the rows: add it to only() or drop it from defer()'
        if kind == "prefetch":
            return f'prefetch_related_objects(objects, "{attribute}") once, for the whole list'
    return "load the related rows with the first query (eager loading)"
