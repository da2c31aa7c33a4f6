"""SQLAlchemy 2.x capture through official events only.

* ``Engine`` class events (``before/after_cursor_execute``) see every statement of every engine,
  including the sync engine under an ``AsyncEngine``.
* ``Session`` class event ``do_orm_execute`` adds ORM context (which relation was lazily loaded
  from which object, column loads).
* ``begin``/``commit``/``rollback``/savepoint events plus the Session's transaction events tell
  whether a statement ran inside a transaction the *code* opened, as opposed to an autobegin or an
  outer transaction owned by the test harness (a fixture's ``connection.begin()``).

Every listener is removed again by the returned ``uninstall`` callable.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from time import perf_counter
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import ExecuteStyle
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.session import SessionTransaction

from ..callsite import LIB, TEST, Classifier, _parent_greenlet_frame
from ..model import OrmContext
from ..recorder import Recorder

NAME = "sqlalchemy"
_INSERTMANY = ExecuteStyle.INSERTMANYVALUES
_EXECUTEMANY = ExecuteStyle.EXECUTEMANY


@dataclass(slots=True)
class _ConnState:
    levels: list[str] = field(default_factory=list)  # origin of each open transaction level
    session_tx: SessionTransaction | None = None


def _origin(classifier: Classifier, frame: FrameType | None) -> str:
    """Who opened the transaction being begun: "auto" (autobegin), "session" (resolved by the
    Session's own events), "harness" (test code or a fixture) or "user" (application code)."""
    f = frame
    hopped = False
    while f is not None:
        code = f.f_code
        kind = classifier.kind_of(code.co_filename)
        if kind == LIB:
            name = code.co_name
            if name == "_autobegin":
                return "auto"
            if name == "_autobegin_t" and f.f_locals.get("begin") is not True:
                return "auto"  # Session.begin() passes begin=True: keep looking for its caller
            if name == "_connection_for_bind":
                return "session"
        else:
            return "harness" if kind == TEST else "user"
        f = f.f_back
        if f is None and not hopped:
            hopped = True
            f = _parent_greenlet_frame()
    return "auto"


def _session_origin(
    tx: SessionTransaction | None, origins: weakref.WeakKeyDictionary[Any, str]
) -> str:
    found = "auto"
    while tx is not None:
        origin = origins.get(tx, "auto")
        if origin == "user":
            return "user"
        if origin == "harness":
            found = "harness"
        tx = tx.parent
    return found


def install(recorder: Recorder) -> Callable[[], None]:
    classifier = recorder.classifier
    record = recorder.record
    engines: weakref.WeakKeyDictionary[Engine, tuple[str, str]] = weakref.WeakKeyDictionary()
    conns: weakref.WeakKeyDictionary[Connection, _ConnState] = weakref.WeakKeyDictionary()
    tx_origins: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
    pending: ContextVar[OrmContext | None] = ContextVar("pyskill_sqlalchemy_orm", default=None)
    starts: ContextVar[float] = ContextVar("pyskill_sqlalchemy_t0", default=0.0)

    def describe(engine: Engine) -> tuple[str, str]:
        meta = engines.get(engine)
        if meta is None:
            meta = (engine.url.render_as_string(hide_password=True), engine.dialect.name)
            engines[engine] = meta
        return meta

    def in_transaction(conn: Connection) -> bool:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return False
        state = conns.get(conn)
        if state is None:
            return False
        if "user" in state.levels:
            return True
        tx = state.session_tx
        return tx is not None and tx.is_active and _session_origin(tx, tx_origins) == "user"

    # -- statements ------------------------------------------------------------------------
    def before_cursor_execute(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if recorder.window is not None:
            starts.set(perf_counter())

    def after_cursor_execute(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if recorder.window is None:
            return
        duration = perf_counter() - starts.get()
        try:
            database, vendor = describe(conn.engine)
            style = getattr(context, "execute_style", None)
            batched = executemany or style is _INSERTMANY or style is _EXECUTEMANY
            orm = pending.get()
            if orm is not None:
                pending.set(None)
            in_tx = in_transaction(conn)
        except Exception as exc:
            recorder.internal_error("reading a SQLAlchemy statement", exc)
            return
        record(
            NAME,
            database,
            vendor,
            statement,
            batched,
            in_tx,
            duration,
            sys._getframe(1),
            orm,
            parameters,
        )

    def do_orm_execute(state: ORMExecuteState) -> None:
        if recorder.window is None:
            return
        try:
            loaded_from = state.lazy_loaded_from
            if loaded_from is None and not state.is_column_load:
                pending.set(None)
                return
            mapper = state.bind_mapper
            entity = mapper.class_.__name__ if mapper is not None else None
            label = None
            parent = None
            if loaded_from is not None:
                path = state.loader_strategy_path
                prop = path[-1] if path is not None and len(path) else None
                owner = loaded_from.class_.__name__
                key = getattr(prop, "key", None) or "?"
                label = f"{owner}.{key}"
                parent = (
                    f"{owner}#{loaded_from.identity!r}"
                    if loaded_from.identity
                    else (f"{owner}@{id(loaded_from):x}")
                )
            pending.set(OrmContext(NAME, entity, label, parent, bool(state.is_column_load)))
        except Exception as exc:
            recorder.internal_error("reading SQLAlchemy ORM context", exc)

    # -- transactions ----------------------------------------------------------------------
    def push(conn: Connection, origin: str) -> None:
        state = conns.get(conn)
        if state is None:
            state = conns[conn] = _ConnState()
        state.levels.append(origin)

    def on_begin(conn: Connection) -> None:
        with recorder.guard("tracking a SQLAlchemy begin"):
            state = conns.get(conn)
            if state is not None:
                state.levels.clear()
            push(conn, _origin(classifier, sys._getframe(1)))

    def on_end(conn: Connection) -> None:
        state = conns.get(conn)
        if state is not None:
            state.levels.clear()

    def on_savepoint(conn: Connection, name: str) -> None:
        with recorder.guard("tracking a SQLAlchemy savepoint"):
            push(conn, _origin(classifier, sys._getframe(1)))

    def on_savepoint_end(conn: Connection, name: str, context: Any) -> None:
        state = conns.get(conn)
        if state is not None and len(state.levels) > 1:
            state.levels.pop()

    def after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
        with recorder.guard("tracking a Session transaction"):
            tx_origins[transaction] = _origin(classifier, sys._getframe(1))

    def after_begin(
        session: Session, transaction: SessionTransaction, connection: Connection
    ) -> None:
        with recorder.guard("tracking a Session begin"):
            state = conns.get(connection)
            if state is None:
                state = conns[connection] = _ConnState()
            state.session_tx = transaction
            origin = _session_origin(transaction, tx_origins)
            state.levels[:] = [origin if lvl == "session" else lvl for lvl in state.levels]

    listeners: list[tuple[Any, str, Callable[..., Any]]] = [
        (Engine, "before_cursor_execute", before_cursor_execute),
        (Engine, "after_cursor_execute", after_cursor_execute),
        (Engine, "begin", on_begin),
        (Engine, "commit", on_end),
        (Engine, "rollback", on_end),
        (Engine, "savepoint", on_savepoint),
        (Engine, "release_savepoint", on_savepoint_end),
        (Engine, "rollback_savepoint", on_savepoint_end),
        (Session, "do_orm_execute", do_orm_execute),
        (Session, "after_transaction_create", after_transaction_create),
        (Session, "after_begin", after_begin),
    ]
    added: list[tuple[Any, str, Callable[..., Any]]] = []

    def uninstall() -> None:
        while added:
            target, name, fn = added.pop()
            if event.contains(target, name, fn):
                event.remove(target, name, fn)

    try:
        for target, name, fn in listeners:
            event.listen(target, name, fn)
            added.append((target, name, fn))
    except Exception:
        uninstall()
        raise
    return uninstall
