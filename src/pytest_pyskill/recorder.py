"""The sink every capture module writes to, and the per-test window it fills.

One :class:`Recorder` lives in the pytest config's stash for the whole session. While a test
runs it holds an open :class:`Window`; statements sent from any thread of the process while the
window is open belong to that test (pytest runs one test at a time per process; live-server and
``sync_to_async`` threads run on behalf of the current test). Outside a window, capture is a
single attribute check.
"""

from __future__ import annotations

import threading
import traceback
from asyncio import events as _asyncio_events
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter
from types import FrameType

from .callsite import Classifier
from .model import CallSite, OrmContext, Shape, StatementEvent
from .sql import shape_of

_get_running_loop = _asyncio_events._get_running_loop


@dataclass(slots=True)
class Group:
    """Statements with the same fingerprint, call site and database in one window."""

    shape: Shape
    callsite: CallSite
    database: str
    count: int = 0
    batched: int = 0
    duration: float = 0.0
    first: int = 0  # index of the first statement of this group in the window


@dataclass
class Block:
    """A counted stretch of a test (``with pyskill.max_queries(n):``)."""

    using: str | None
    count: int = 0
    events: list[StatementEvent] = field(default_factory=list)

    def add(self, event: StatementEvent) -> None:
        if event.shape.is_data and (
            self.using is None or self.using in (event.database, event.vendor)
        ):
            self.count += 1
            if len(self.events) < 1000:
                self.events.append(event)


class Window:
    """What one test sent. Memory is bounded: ``events`` keeps the first ``max_events``
    statements; counts and groups (one per distinct shape and call site) cover all of them."""

    def __init__(self, nodeid: str, max_events: int) -> None:
        self.nodeid = nodeid
        self.max_events = max_events
        self.events: list[StatementEvent] = []
        self.groups: dict[tuple[str, CallSite, str], Group] = {}
        self.total = 0
        self.data_total = 0
        self._by_database: dict[str, int] = {}
        self._vendors: dict[str, str] = {}
        self.blocks: list[Block] = []
        self.started = perf_counter()
        self._lock = threading.Lock()

    @property
    def dropped(self) -> int:
        return self.total - len(self.events)

    def add(self, event: StatementEvent) -> None:
        shape = event.shape
        key = (shape.fingerprint, event.callsite, event.database)
        with self._lock:
            index = self.total
            self.total = index + 1
            if index < self.max_events:
                self.events.append(event)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = Group(shape, event.callsite, event.database, first=index)
                self._vendors[event.database] = event.vendor
            group.count += 1
            group.duration += event.duration
            if event.executemany:
                group.batched += 1
            if shape.is_data:
                self.data_total += 1
                by_db = self._by_database
                by_db[event.database] = by_db.get(event.database, 0) + 1
            for block in self.blocks:
                block.add(event)

    @property
    def data_by_target(self) -> dict[str, int]:
        """Data statements per database and per vendor (``using=`` accepts either)."""
        counts: dict[str, int] = dict(self._by_database)
        for database, n in self._by_database.items():
            vendor = self._vendors[database]
            if vendor != database:
                counts[vendor] = counts.get(vendor, 0) + n
        return counts

    def data_count(self, using: str | None = None) -> int:
        return self.data_total if using is None else self.data_by_target.get(using, 0)


class Recorder:
    """Session-wide sink. Capture modules call :meth:`record`; the plugin opens and closes
    windows. Internal errors are collected here and reported, never raised into user code."""

    def __init__(self, classifier: Classifier, max_events: int, keep_params: bool) -> None:
        self.classifier = classifier
        self.max_events = max_events
        self.keep_params = keep_params
        self.window: Window | None = None
        self.errors: list[str] = []
        self.sources: list[str] = []  # capture modules installed, for the header

    # -- windows ---------------------------------------------------------------------------
    def open(self, nodeid: str) -> Window:
        self.window = Window(nodeid, self.max_events)
        return self.window

    def close(self) -> Window | None:
        window, self.window = self.window, None
        return window

    # -- the hot path ----------------------------------------------------------------------
    def record(
        self,
        source: str,
        database: str,
        vendor: str,
        sql: str,
        executemany: bool,
        in_transaction: bool | None,
        duration: float,
        frame: FrameType | None,
        orm: OrmContext | None = None,
        params: object = None,
    ) -> None:
        window = self.window
        if window is None:
            return
        try:
            event = StatementEvent(
                source,
                database,
                vendor,
                sql,
                shape_of(sql),
                executemany,
                in_transaction,
                threading.get_ident(),
                _get_running_loop() is not None,
                duration,
                self.classifier.callsite(frame),
                orm,
                _safe_repr(params) if self.keep_params and params is not None else None,
            )
            window.add(event)
        except Exception as exc:  # never let the plugin break a user's statement
            self.internal_error(f"recording a {source} statement", exc)

    def internal_error(self, where: str, exc: BaseException) -> None:
        if len(self.errors) < 50:
            last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            at = f" ({last[0].filename}:{last[0].lineno})" if last else ""
            self.errors.append(f"{where}: {type(exc).__name__}: {exc}{at}")

    @contextmanager
    def guard(self, where: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            self.internal_error(where, exc)


def _safe_repr(params: object) -> str:
    try:
        text = repr(params)
    except Exception:
        return "<unrepresentable>"
    return text if len(text) <= 500 else text[:497] + "..."
