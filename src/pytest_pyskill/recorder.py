"""The sink every capture module writes to, and the per-test window it fills.

One :class:`Recorder` lives in the pytest config's stash for the whole session. While a test
runs it holds an open :class:`Window`; statements sent while the window is open belong to that
test (pytest runs one test at a time per process; live-server and ``sync_to_async`` threads run
on behalf of the current test), except:

* the harness's own: a statement sent on the test's thread with no project frame on its stack
  (Django ``TestCase`` set-up and tear-down, a plugin's fixture code) is not the test's;
* an earlier test's: threads started during an earlier test's call phase and still alive (a
  poller) do not count, unless the work carries the current test's context (a task, or
  ``asyncio.to_thread`` / ``sync_to_async`` work handed to an old thread).

Outside a window, capture is a single attribute check. Nothing of the user's (frames, locals,
objects) is kept: operations are numbered by a marker in the frame itself.
"""

from __future__ import annotations

import reprlib
import threading
import traceback
import weakref
from asyncio import events as _asyncio_events
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from time import perf_counter
from types import FrameType
from typing import TYPE_CHECKING

from .callsite import Classifier
from .model import CallSite, OrmContext, Shape, StatementEvent
from .sql import shape_of, sql_text

if TYPE_CHECKING:
    from .loop.watch import LoopWatch

_get_running_loop = _asyncio_events._get_running_loop
_get_ident = threading.get_ident
# The serial of the window that was open when this context was created or last entered a test:
# tasks, ``asyncio.to_thread`` and ``sync_to_async`` copy it, so work a test hands to a thread
# started by an earlier test still counts for it. An int, never the window itself.
_CURRENT: ContextVar[int] = ContextVar("pyskill_window", default=0)
MAX_ERRORS = 50


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
    """What one test sent.

    The hot path only appends the event (``events`` keeps the first ``max_events``); grouping and
    counting happen when someone asks (the rules at the end of the test, ``pyskill.count()``).
    Past ``max_events`` statements are folded into groups as they arrive, so memory stays
    bounded by the number of distinct (shape, call site, database) groups.
    """

    def __init__(self, nodeid: str, max_events: int, serial: int = 0) -> None:
        self.nodeid = nodeid
        self.max_events = max_events
        self.serial = serial
        self.thread = _get_ident()  # the test's own thread
        self.harness = 0  # statements of the test harness, not counted (see the module doc)
        self.elsewhere = 0  # statements of earlier tests' threads, not counted
        self.events: list[StatementEvent] = []
        self.blocks: list[Block] = []
        self.started = perf_counter()
        self._overflow: dict[tuple[str, CallSite, str], Group] = {}
        self._overflow_total = 0
        self._overflow_data: dict[str, int] = {}
        self._vendors: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, event: StatementEvent) -> None:
        events = self.events
        if len(events) < self.max_events:
            events.append(event)
        else:
            self._fold(event)
        if self.blocks:
            for block in self.blocks:
                block.add(event)

    def _fold(self, event: StatementEvent, index: int | None = None) -> None:
        with self._lock:
            key = (event.shape.fingerprint, event.callsite, event.database)
            group = self._overflow.get(key)
            if group is None:
                first = self.max_events + self._overflow_total if index is None else index
                group = self._overflow[key] = Group(
                    event.shape, event.callsite, event.database, first=first
                )
            _count(group, event)
            self._overflow_total += 1
            self._vendors[event.database] = event.vendor
            if event.shape.is_data:
                self._overflow_data[event.database] = self._overflow_data.get(event.database, 0) + 1

    @property
    def total(self) -> int:
        return len(self.events) + self._overflow_total

    @property
    def dropped(self) -> int:
        return self._overflow_total

    @property
    def groups(self) -> dict[tuple[str, CallSite, str], Group]:
        """Statements grouped by (fingerprint, call site, database), kept and folded alike."""
        groups: dict[tuple[str, CallSite, str], Group] = {}
        for index, event in enumerate(list(self.events)):
            key = (event.shape.fingerprint, event.callsite, event.database)
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group(
                    event.shape, event.callsite, event.database, first=index
                )
            _count(group, event)
        for key, folded in self._overflow.items():
            group = groups.get(key)
            if group is None:
                groups[key] = Group(
                    folded.shape,
                    folded.callsite,
                    folded.database,
                    folded.count,
                    folded.batched,
                    folded.duration,
                    folded.first,
                )
            else:
                group.count += folded.count
                group.batched += folded.batched
                group.duration += folded.duration
        return groups

    @property
    def data_by_target(self) -> dict[str, int]:
        """Data statements per database and per vendor (``using=`` accepts either)."""
        counts: dict[str, int] = dict(self._overflow_data)
        vendors = dict(self._vendors)
        for event in list(self.events):
            if event.shape.is_data:
                counts[event.database] = counts.get(event.database, 0) + 1
                vendors[event.database] = event.vendor
        for database, n in list(counts.items()):
            vendor = vendors.get(database, database)
            if vendor != database:
                counts[vendor] = counts.get(vendor, 0) + n
        return counts

    @property
    def data_total(self) -> int:
        return sum(1 for e in list(self.events) if e.shape.is_data) + sum(
            self._overflow_data.values()
        )

    def data_count(self, using: str | None = None) -> int:
        return self.data_total if using is None else self.data_by_target.get(using, 0)


def _count(group: Group, event: StatementEvent) -> None:
    group.count += 1
    group.duration += event.duration
    if event.executemany:
        group.batched += 1


class Recorder:
    """Session-wide sink. Capture modules call :meth:`record`; the plugin opens and closes
    windows. Internal errors are collected here and reported, never raised into user code."""

    def __init__(self, classifier: Classifier, max_events: int, keep_params: bool) -> None:
        self.classifier = classifier
        self.max_events = max_events
        self.keep_params = keep_params
        self.window: Window | None = None
        self.errors: list[str] = []  # distinct internal errors, the first MAX_ERRORS of them
        self.errors_dropped = 0  # distinct ones past MAX_ERRORS, counted, not kept
        self.sources: list[str] = []  # capture modules installed, for the header
        self._serial = 0
        # Threads started during an earlier test's call phase and still alive: ident -> a weak
        # reference to the Thread (an ident is reused once its thread ends).
        self._earlier: dict[int, weakref.ref[threading.Thread]] = {}
        self._before: set[int] = set()  # thread idents alive when the call phase started
        # The call site of the latest statement: rows an ORM materialises right after a query
        # were fetched there, so "rows fetched at" needs no second walk up the stack.
        self.last_site: CallSite | None = None
        self._units = 0
        # Event-loop watching, when a loop rule is on: a sync driver's statement sent on a
        # loop's thread is also a blocking call.
        self.loop: LoopWatch | None = None

    def new_unit(self) -> int:
        """A fresh commit-unit number (capture modules number the transactions they see)."""
        self._units += 1
        return self._units

    # -- windows ---------------------------------------------------------------------------
    def open(self, nodeid: str) -> Window:
        self._serial += 1
        window = Window(nodeid, self.max_events, self._serial)
        earlier = self._earlier
        for ident, ref in list(earlier.items()):
            thread = ref()
            if thread is None or not thread.is_alive():
                del earlier[ident]
        earlier.pop(window.thread, None)  # the test's own thread always counts
        _CURRENT.set(window.serial)
        self.last_site = None
        self.window = window
        self.call_started()
        return window

    def call_started(self) -> None:
        """The test's call phase starts: threads started from here on belong to this test (and
        stop counting once it ends); threads started before (fixtures: a live server, a portal)
        keep serving every test."""
        self._before = {t.ident for t in threading.enumerate() if t.ident is not None}
        window = self.window
        if window is not None:
            _CURRENT.set(window.serial)

    def close(self) -> Window | None:
        window, self.window = self.window, None
        if window is not None:
            before = self._before
            for thread in threading.enumerate():
                ident = thread.ident
                if ident is not None and ident not in before and ident != window.thread:
                    self._earlier[ident] = weakref.ref(thread)
        self._before = set()
        self.last_site = None
        return window

    def _from_earlier_test(self, ident: int, window: Window) -> bool:
        """A statement on a thread an earlier test started, not on this test's behalf."""
        ref = self._earlier.get(ident)
        thread = ref() if ref is not None else None
        if thread is None or threading.current_thread() is not thread:
            self._earlier.pop(ident, None)  # that thread ended; its ident was reused
            return False
        return _CURRENT.get() != window.serial

    # -- the hot path ----------------------------------------------------------------------
    def record(
        self,
        source: str,
        database: str,
        vendor: str,
        sql: object,
        executemany: bool,
        in_transaction: bool | None,
        duration: float,
        frame: FrameType | None,
        orm: OrmContext | None = None,
        params: object = None,
        unit: int | None = None,
        blocking: bool = True,
    ) -> None:
        window = self.window
        if window is None:
            return
        try:
            ident = _get_ident()
            if ident in self._earlier and self._from_earlier_test(ident, window):
                window.elsewhere += 1
                return
            site, op = self.classifier.locate(frame)
            if not site.frames and ident == window.thread:
                window.harness += 1  # no project frame at all, on the test's thread
                return
            if type(sql) is not str:  # bytes, psycopg's sql.Composed...: counted all the same
                sql = sql_text(sql)
            self.last_site = site
            in_loop = _get_running_loop() is not None
            if in_loop and blocking:
                loop = self.loop
                if loop is not None and loop.watching:
                    started = perf_counter() - duration
                    loop.call(f"db.{source}", frame, started, duration, None, site)
            event = StatementEvent(
                source,
                database,
                vendor,
                sql,
                shape_of(sql),
                executemany,
                in_transaction,
                ident,
                in_loop,
                duration,
                site,
                orm,
                _safe_repr(params) if self.keep_params and params is not None else None,
                op,
                unit,
            )
            window.add(event)
        except Exception as exc:  # never let the plugin break a user's statement
            self.internal_error(f"recording a {source} statement", exc)

    def internal_error(self, where: str, exc: BaseException) -> None:
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        at = f" ({last[0].filename}:{last[0].lineno})" if last else ""
        self.problem(f"{where}: {type(exc).__name__}: {exc}{at}")

    def problem(self, message: str) -> None:
        """An internal error described in one line (each distinct one is kept once)."""
        if message in self.errors:
            return
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)
        else:
            self.errors_dropped += 1

    @contextmanager
    def guard(self, where: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            self.internal_error(where, exc)


class _ParamsRepr(reprlib.Repr):
    """``repr`` that looks at no more of a value than it shows (long strings, bytes and
    containers are cut before they are formatted)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = self.maxother = 200
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 20
        self.maxlong = 60

    def repr_bytes(self, x: bytes, level: int) -> str:
        return repr(x[: self.maxstring]) + ("..." if len(x) > self.maxstring else "")

    def repr_bytearray(self, x: bytearray, level: int) -> str:
        return repr(bytes(x[: self.maxstring])) + ("..." if len(x) > self.maxstring else "")


_PARAMS_REPR = _ParamsRepr()


def _safe_repr(params: object) -> str:
    try:
        text = _PARAMS_REPR.repr(params)
    except Exception:
        return "<unrepresentable>"
    return text if len(text) <= 500 else text[:497] + "..."
