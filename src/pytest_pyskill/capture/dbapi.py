"""Raw DB-API capture for ``sqlite3`` connections opened by user code.

``sqlite3.Connection`` is a C type with no hook but one: ``set_trace_callback``. Handing user
code a traced subclass (``factory=``) would change ``type(conn)``, so the connection stays
exactly what ``sqlite3.connect`` returns and a trace callback is set on it instead; the
(reversible) ``sqlite3.connect`` wrapper only does that, after the original call returned.

What the callback sees, and how it is read:

- SQLite hands it the *expanded* text (bound values inlined). Every literal is masked back to
  ``?`` before the text goes anywhere, so no value reaches an event or a report (literals
  written in the SQL itself are masked too).
- ``executemany`` fires it once per row: the call site's source (the call expression at the
  caller's instruction) says whether the statement came from ``executemany``; consecutive rows
  of one call are one batched event.
- A trigger fires it again, with the same text, for each of its programs: on a table the
  database was seen creating a trigger on (``CREATE TRIGGER`` through a traced connection), an
  identical write repeated from the same instruction of the same frame is counted once. Limits:
  triggers created elsewhere (another process, before the session) are not known, so their
  programs count as statements; on a table with a known trigger, the same write with the same
  values repeated from one line is counted once.
- It also fires for what the driver sends by itself (the implicit ``BEGIN``, the ``COMMIT`` of
  ``conn.commit()``): those follow the transaction state but are not the user's statements.
- It fires before the statement runs and gives no duration (events carry 0.0).
- The transaction state is followed from the statements themselves (the callback holds nothing
  of the connection: no reference, so no cycle and no delayed close).

Not traced: connections opened by libraries (Django's and SQLAlchemy's sqlite backends,
aiosqlite: those ORMs are captured through their own hooks, and one statement is never counted
twice), connections opened before the session started, connections made with a ``factory`` of
the user's own (its ``__init__`` may install a trace callback of its own), and a connection on
which the user calls ``set_trace_callback`` (theirs replaces ours, and works as without the
plugin).
"""

from __future__ import annotations

import linecache
import re
import sqlite3
import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

from ..callsite import LIB
from ..recorder import Recorder
from ..sql import shape_of
from ..wrapping import transparent

NAME = "dbapi"

# String and blob literals, and numbers (what sqlite3_expanded_sql inlines for bound values).
_LITERAL = re.compile(
    r"[xX]?'(?:[^']|'')*'|(?<![\w.\"`\]])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w\"`])"
)
# What Python's sqlite3 sends on its own before a statement in legacy transaction control.
_DRIVER_BEGINS = frozenset({"BEGIN ", "BEGIN DEFERRED", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"})
_CALL = re.compile(r"\b(executemany|executescript|execute)\s*\(")
_TRIGGER_ON = re.compile(
    r"^\s*CREATE\s+(?:TEMP\w*\s+)?TRIGGER\b.*?\bON\s+(\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|[\w.]+)",
    re.I | re.S,
)
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"})
_MASK_LIMIT = 10_000
_masked: dict[str, str] = {}
_kinds: dict[tuple[CodeType, int], str] = {}


def mask(text: str) -> str:
    """``text`` with every literal replaced by ``?`` (cached: a pure function)."""
    out = _masked.get(text)
    if out is None:
        out = _LITERAL.sub("?", text)
        if len(_masked) >= _MASK_LIMIT:
            _masked.clear()
        _masked[text] = out
    return out


def literals(text: str) -> tuple[Any, ...]:
    """The values ``mask`` hides, as Python values (for ``--pyskill-show-params`` only)."""
    values: list[Any] = []
    for token in _LITERAL.findall(text):
        if token[0] in "xX":
            values.append(bytes.fromhex(token[2:-1]))
        elif token[0] == "'":
            values.append(token[1:-1].replace("''", "'"))
        else:
            values.append(int(token) if token.lstrip("+-").isdigit() else float(token))
    return tuple(values)


def call_kind(frame: FrameType) -> str:
    """Which cursor method ``frame`` is calling right now: ``execute``, ``executemany`` or
    ``executescript``; "other" for the connection's own ``commit()``, ``rollback()``,
    ``with conn:`` (and when the source does not say)."""
    code, lasti = frame.f_code, frame.f_lasti
    kind = _kinds.get((code, lasti))
    if kind is None:
        kind = _read_call(code, lasti, frame.f_lineno)
        if len(_kinds) >= _MASK_LIMIT:
            _kinds.clear()
        _kinds[(code, lasti)] = kind
    return kind


def _read_call(code: CodeType, lasti: int, lineno: int) -> str:
    lines = linecache.getlines(code.co_filename)
    text = ""
    positions = getattr(code, "co_positions", None)  # Python 3.11+: the call expression
    if positions is not None:
        for index, (start, end, col, end_col) in enumerate(positions()):
            if index == lasti // 2:
                if start and end and col is not None and end_col is not None:
                    span = lines[start - 1 : end]
                    if span:
                        span[-1] = span[-1][:end_col]
                        span[0] = span[0][col:]
                        text = "".join(span)
                break
    if not text and 0 < lineno <= len(lines):
        text = lines[lineno - 1]
    match = _CALL.search(text)
    return match.group(1) if match else "other"


class _State:
    """One traced connection, as its trace callback follows it (ids and flags only)."""

    __slots__ = ("database", "in_tx", "unit", "begin_at", "fresh", "last", "savepoints")

    def __init__(self, database: str, in_tx: bool, unit: int | None) -> None:
        self.database = database
        self.in_tx = in_tx
        self.unit = unit
        self.begin_at: tuple[int, int, int] | None = None  # the driver's implicit BEGIN: where
        self.fresh = False  # the next statement is the one the driver's BEGIN was sent for
        self.last: tuple[int, int, int, int, str] | None = None  # frame, code, lasti, hash, kind
        self.savepoints = 0  # depth, when a SAVEPOINT opened the transaction


def _tracer(
    recorder: Recorder, state: _State, triggers: dict[str, set[str]]
) -> Callable[[str], None]:
    record = recorder.record
    keep_params = recorder.keep_params

    def trace(text: str) -> None:
        try:
            frame = sys._getframe(1)
            # The code object too: a frame's address is reused by the next call's frame.
            where = (id(frame), id(frame.f_code), frame.f_lasti)
            head = text.lstrip()[:10].upper()
            word = head.split(None, 1)[0] if head.strip() else ""
            in_tx = state.in_tx
            if word == "BEGIN":
                state.in_tx, state.unit = True, recorder.new_unit()
                state.fresh, state.begin_at = False, None
                if text in _DRIVER_BEGINS:
                    state.begin_at = where
                    return  # the driver's, sent for the next statement: not the user's
            elif word in ("COMMIT", "END") or (word == "ROLLBACK" and " TO " not in f" {head} "):
                state.in_tx, state.unit, state.savepoints = False, None, 0
            elif word == "SAVEPOINT":
                if not state.in_tx:
                    state.in_tx, state.unit, state.savepoints = True, recorder.new_unit(), 1
                elif state.savepoints:
                    state.savepoints += 1
            elif word == "RELEASE" and state.savepoints:
                state.savepoints -= 1
                if not state.savepoints:
                    state.in_tx, state.unit = False, None
            elif word == "CREATE" and "TRIGGER" in text[:40].upper():
                on = _TRIGGER_ON.match(text)
                if on:
                    table = on.group(1).strip('"`[]').split(".")[-1].lower()
                    triggers.setdefault(state.database, set()).add(table)
            elif text.startswith("-- ") and "\n" not in text:
                return  # a trigger program's marker (when expansion fell back to it)
            if word in ("BEGIN", "COMMIT", "END", "ROLLBACK") and call_kind(frame) == "other":
                return  # commit(), rollback(), ``with conn:``: the driver's, not a statement
            if state.begin_at is not None:
                # The statement the driver opened the transaction for: it ran outside one.
                if state.begin_at == where:
                    in_tx = False
                state.begin_at = None
            kind = "execute"
            if word in _WRITES:
                kind = call_kind(frame)
                key = (*where, 0 if kind == "executemany" else hash(text), kind)
                last, state.last = state.last, key
                if kind == "executemany":
                    if last is not None and last[:3] == key[:3] and last[4] == kind:
                        return  # the next row of the same executemany
                elif last == key and _fires_triggers(text, triggers.get(state.database)):
                    return  # a trigger program of the statement just seen
            else:
                state.last = None
            if recorder.window is None:
                return
            record(
                NAME,
                state.database,
                "sqlite",
                mask(text),
                kind == "executemany",
                in_tx,
                0.0,
                frame,
                None,
                literals(text) if keep_params else None,
                state.unit if (in_tx or state.in_tx) else None,
            )
        except Exception as exc:  # never let the plugin break a user's statement
            recorder.internal_error("tracing a sqlite3 statement", exc)

    return trace


def _fires_triggers(text: str, tables: set[str] | None) -> bool:
    """Whether ``text`` writes to a table this database was seen creating a trigger on."""
    if not tables:
        return False
    written = shape_of(mask(text)).tables
    return bool(written) and written[0].split(".")[-1] in tables


def _has_own_factory(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    factory = args[5] if len(args) > 5 else kwargs.get("factory", sqlite3.Connection)
    return factory is not sqlite3.Connection


def install(recorder: Recorder) -> Callable[[], None]:
    kind_of = recorder.classifier.kind_of
    original = sqlite3.connect
    triggers: dict[str, set[str]] = {}  # database -> tables with a trigger seen created

    def connect(*args: Any, **kwargs: Any) -> Any:
        conn = original(*args, **kwargs)
        try:
            caller = sys._getframe(1).f_code.co_filename  # the transparent wrapper adds no frame
            if (
                type(conn) is sqlite3.Connection
                and not _has_own_factory(args, kwargs)
                and kind_of(caller) != LIB
            ):
                database = args[0] if args else kwargs.get("database", "sqlite")
                in_tx = bool(conn.in_transaction)  # autocommit=False opens one at once
                state = _State(f"sqlite:{database}", in_tx, recorder.new_unit() if in_tx else None)
                conn.set_trace_callback(_tracer(recorder, state, triggers))
        except Exception as exc:
            recorder.internal_error("tracing a sqlite3 connection", exc)
        return conn

    wrapper = transparent(original, connect, ("sqlite3", "connect"))
    modules = [m for m in (sqlite3, sys.modules.get("sqlite3.dbapi2")) if m is not None]
    for module in modules:
        setattr(module, "connect", wrapper)  # noqa: B010 - the module's type has no such slot

    def uninstall() -> None:
        for module in modules:
            if getattr(module, "connect", None) is wrapper:
                setattr(module, "connect", original)  # noqa: B010

    return uninstall
