"""SQLAlchemy 2.x capture.

* Statements: the dialect-level ``do_execute`` / ``do_executemany`` / ``do_execute_no_params``
  events (``DialectEvents``, listened for on the ``Engine`` class so every engine's dialect,
  including the sync engine under an ``AsyncEngine``, is covered). Any ``ConnectionEvents``
  listener (``before_cursor_execute``, ``begin``...) switches every engine onto SQLAlchemy's
  event path, which costs about 9 us per statement by itself; the dialect events do not.
  To time the statement, the plugin's listener runs it: it calls the listeners SQLAlchemy would
  have called after it (class-level ones registered later, then each engine's own), in order,
  and the dialect's method only if none of them handled the statement, so a user's listeners
  (counters, rewriters, custom executors) behave exactly as without the plugin.
* ORM context: the ``Session`` class event ``do_orm_execute`` (which relation was lazily loaded
  from which object, column loads).
* Transactions: who opened the transaction a statement runs in. ``Connection.begin`` and
  ``begin_nested`` are wrapped (reversibly) to note the caller -- the ``begin`` connection event
  would cost every statement the slow path above -- and the Session's own transaction events
  resolve transactions a Session opens. The result tells a transaction the *code* opened from an
  autobegin or an outer transaction owned by the test harness (a fixture's ``conn.begin()``).

Every listener and wrapper is removed again by the returned ``uninstall`` callable.
"""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from time import perf_counter
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import ExecuteStyle
from sqlalchemy.orm import Mapper, ORMExecuteState, Session
from sqlalchemy.orm.base import instance_state
from sqlalchemy.orm.interfaces import MANYTOMANY, MANYTOONE, ONETOMANY
from sqlalchemy.orm.session import SessionTransaction

from ..callsite import LIB, TEST, Classifier, _parent_greenlet_frame
from ..model import CallSite, OrmContext
from ..recorder import Recorder

NAME = "sqlalchemy"
_INSERTMANY = ExecuteStyle.INSERTMANYVALUES
_FETCHED_AT = ("pytest_pyskill", "fetched_at")


def _lazy_context(
    state: ORMExecuteState, parent: Any, fetched: weakref.WeakKeyDictionary[Any, CallSite]
) -> OrmContext:
    """A lazy load of a relationship from ``parent`` (an InstanceState)."""
    path = state.loader_strategy_path
    prop = path[-1] if path is not None and len(path) else None
    owner = parent.class_.__name__
    key = getattr(prop, "key", None) or "?"
    direction = getattr(prop, "direction", None)
    if direction is MANYTOONE:
        kind = "many-to-one"
    elif direction is MANYTOMANY:
        kind = "many-to-many"
    elif direction is ONETOMANY:
        kind = "one-to-one" if getattr(prop, "uselist", True) is False else "one-to-many"
    else:
        kind = "relationship"
    mapper = state.bind_mapper
    return OrmContext(
        NAME,
        mapper.class_.__name__ if mapper is not None else None,
        f"{owner}.{key}",
        _identity(parent),
        False,
        kind,
        fetched.get(parent),
    )


def _column_context(
    state: ORMExecuteState, fetched: weakref.WeakKeyDictionary[Any, CallSite]
) -> OrmContext:
    """A deferred column loaded, or expired attributes refreshed, for one object."""
    refresh = state.load_options._refresh_state
    compile_options = getattr(state.statement, "_compile_options", None)
    only: frozenset[str] = getattr(compile_options, "_only_load_props", None) or frozenset()
    owner = refresh.class_.__name__ if refresh is not None else "?"
    deferred = bool(only) and refresh is not None and not refresh.expired
    if deferred:
        label = (
            f"{owner}.{sorted(only)[0]}"
            if len(only) == 1
            else f"{owner}.({', '.join(sorted(only))})"
        )
    else:
        label = f"{owner} (expired attributes)"
    return OrmContext(
        NAME,
        owner,
        label,
        _identity(refresh) if refresh is not None else None,
        True,
        "deferred" if deferred else "expired",
        fetched.get(refresh) if refresh is not None else None,
    )


def _identity(state: Any) -> str:
    owner = state.class_.__name__
    identity = state.identity
    return f"{owner}#{identity!r}" if identity else f"{owner}@{id(state):x}"


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
    # Plain dicts keyed by id(), entries dropped by weakref callbacks: a WeakKeyDictionary lookup
    # builds a weakref on every call, and these are read on every statement.
    engines: dict[int, tuple[str, str]] = {}
    user_txs: set[int] = set()  # transactions (Connection or Session level) the code opened
    harness_txs: set[int] = set()  # transactions opened by test code (fixtures)
    serials: dict[int, int] = {}  # transaction -> commit-unit number
    # connection -> (Session transaction on it, opened by the code?), resolved once per begin
    # (weakly: a long-lived connection must not keep a closed Session and its objects alive)
    session_txs: dict[int, tuple[weakref.ref[SessionTransaction], bool]] = {}
    origins: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()  # Session txs
    keep: dict[int, weakref.ref[Any]] = {}
    # (window, ORM context) of the next statement; (window, Session, number) of a flush.
    pending: ContextVar[tuple[weakref.ref[Any], OrmContext] | None] = ContextVar(
        "pyskill_sqlalchemy_orm", default=None
    )
    flushing: ContextVar[tuple[weakref.ref[Any], weakref.ref[Any], int] | None] = ContextVar(
        "pyskill_sqlalchemy_flush", default=None
    )

    tables_of: dict[int, list[dict[int, Any] | set[int]]] = {}

    def forget(key: int) -> Callable[[Any], None]:
        def drop(_ref: Any) -> None:
            keep.pop(key, None)
            for table in tables_of.pop(key, ()):
                table.discard(key) if isinstance(table, set) else table.pop(key, None)

        return drop

    def remember(obj: Any, table: dict[int, Any] | set[int]) -> int:
        """id(obj), with the entry in ``table`` dropped when obj is garbage collected (so a
        later object at the same address never inherits it)."""
        key = id(obj)
        if key not in keep:
            keep[key] = weakref.ref(obj, forget(key))
        tables = tables_of.setdefault(key, [])
        if not any(t is table for t in tables):
            tables.append(table)
        return key

    def describe(conn: Connection) -> tuple[str, str]:
        engine = conn.engine
        meta = engines.get(id(engine))
        if meta is None:
            meta = (engine.url.render_as_string(hide_password=True), engine.dialect.name)
            engines[remember(engine, engines)] = meta
        return meta

    def transaction_state(conn: Connection) -> tuple[bool, int | None]:
        """(inside a transaction the code opened, commit unit) for a statement on ``conn``.

        The commit unit is the transaction whose commit makes the statement durable, seeing
        through an outer transaction the test harness owns (then the savepoint inside it is the
        unit); None in autocommit."""
        if conn._execution_options.get("isolation_level") == "AUTOCOMMIT":
            return False, None
        root = conn._transaction
        nested = conn._nested_transaction
        in_tx = False
        if user_txs:
            in_tx = (nested is not None and id(nested) in user_txs) or (
                root is not None and id(root) in user_txs
            )
        if not in_tx:
            session = session_txs.get(id(conn))
            if session is not None and session[1]:
                tx = session[0]()
                in_tx = tx is not None and tx.is_active
        if root is None:
            return in_tx, None
        if id(root) in harness_txs:
            return in_tx, serials.get(id(nested)) if nested is not None else None
        return in_tx, serials.get(id(root))

    # -- statements ------------------------------------------------------------------------
    # The plugin's listener times the statement, so it must be the one that runs it: it runs
    # the listeners SQLAlchemy would have called after it (the same dispatch collection, from
    # the entry after ours: later class-level listeners, then every engine's own), stops at the
    # first that handles the statement (returns True), and calls the dialect's method only if
    # none did -- exactly SQLAlchemy's loop -- then returns True so SQLAlchemy stops there.
    def capture(
        me: Callable[..., bool],
        method: str,
        args: tuple[Any, ...],
        statement: Any,
        parameters: Any,
        context: Any,
        many: bool,
    ) -> bool:
        conn = context.root_connection
        if not getattr(conn, "_allow_autobegin", True):
            # SQLAlchemy's own first-connect set-up (server version, encoding...): the
            # ConnectionEvents never see it either.
            return False
        window = recorder.window
        try:
            dialect = context.dialect
            later = iter(getattr(dialect.dispatch, method))
            for fn in later:
                if fn is me:
                    break
            else:
                return False  # not called from SQLAlchemy's loop: leave the statement alone
            database, vendor = describe(conn)
            batched = many or context.execute_style is _INSERTMANY
            orm = None
            marked = pending.get()
            if marked is not None:
                pending.set(None)
                if marked[0]() is window:
                    orm = marked[1]
            if orm is None and flushing.get() is not None:
                orm = flush_context(window)
            in_tx, unit = transaction_state(conn)
        except Exception as exc:
            recorder.internal_error("reading a SQLAlchemy statement", exc)
            return False  # let SQLAlchemy run the statement itself
        start = perf_counter()
        try:
            for fn in later:
                if fn(*args):
                    break
            else:
                getattr(dialect, method)(*args)
        finally:
            record(
                NAME,
                database,
                vendor,
                statement,
                batched,
                in_tx,
                perf_counter() - start,
                sys._getframe(1),
                orm,
                parameters,
                unit,
                not dialect.is_async,
            )
        return True

    def do_execute(cursor: Any, statement: Any, parameters: Any, context: Any) -> bool:
        if recorder.window is None:
            return False
        return capture(
            do_execute, "do_execute", (cursor, statement, parameters, context),
            statement, parameters, context, False,
        )  # fmt: skip

    def do_executemany(cursor: Any, statement: Any, parameters: Any, context: Any) -> bool:
        if recorder.window is None:
            return False
        return capture(
            do_executemany, "do_executemany", (cursor, statement, parameters, context),
            statement, parameters, context, True,
        )  # fmt: skip

    def do_execute_no_params(cursor: Any, statement: Any, context: Any) -> bool:
        if recorder.window is None:
            return False
        return capture(
            do_execute_no_params, "do_execute_no_params", (cursor, statement, context),
            statement, None, context, False,
        )  # fmt: skip

    # -- ORM context -----------------------------------------------------------------------
    # Both markers carry the window they were set in (weakly) and are only believed in that
    # window: a ContextVar outlives the test, and a flush that raised never reaches
    # after_flush_postexec. The flush marker is also only believed while its Session is still
    # flushing, so a failed flush cannot tag the statements that follow it.
    flushes = [0]

    def flush_context(window: Any) -> OrmContext | None:
        marked = flushing.get()
        if marked is None:
            return None
        window_ref, session_ref, number = marked
        session = session_ref()
        if window_ref() is window and session is not None and getattr(session, "_flushing", True):
            return OrmContext(NAME, None, None, f"flush#{number}", False, "flush", None)
        flushing.set(None)  # stale: from another test, or a flush that ended (or raised)
        return None

    def before_flush(session: Session, flush_context: Any, instances: Any) -> None:
        window = recorder.window
        if window is None:
            return
        try:
            flushes[0] += 1
            pending.set(None)
            flushing.set((weakref.ref(window), weakref.ref(session), flushes[0]))
        except Exception as exc:
            recorder.internal_error("tracking a SQLAlchemy flush", exc)

    def after_flush_postexec(session: Session, flush_context: Any) -> None:
        try:
            if flushing.get() is not None:
                flushing.set(None)
        except Exception as exc:
            recorder.internal_error("tracking a SQLAlchemy flush", exc)

    def do_orm_execute(state: ORMExecuteState) -> None:
        window = recorder.window
        if window is None:
            return
        try:
            context = None
            if state.is_select:
                loaded_from = state.lazy_loaded_from
                if loaded_from is not None:
                    context = _lazy_context(state, loaded_from, fetched)
                elif state.is_column_load:
                    context = _column_context(state, fetched)
            if context is not None:
                pending.set((weakref.ref(window), context))
            elif pending.get() is not None:
                pending.set(None)  # a marker whose statement never ran belongs to no other
        except Exception as exc:
            recorder.internal_error("reading SQLAlchemy ORM context", exc)

    # Where each loaded object's row was fetched: the first load of a query result walks the
    # stack once and tags the result's QueryContext; every object loaded from it points there.
    fetched: weakref.WeakKeyDictionary[Any, CallSite] = weakref.WeakKeyDictionary()

    def on_load(target: Any, context: Any) -> None:
        if recorder.window is None:
            return
        try:
            attributes = context.attributes
            site = attributes.get(_FETCHED_AT)
            if site is None:
                site = recorder.last_site or classifier.callsite(sys._getframe())
                attributes[_FETCHED_AT] = site
            fetched[instance_state(target)] = site
        except Exception as exc:
            recorder.internal_error("tracking SQLAlchemy loads", exc)

    # -- transactions ----------------------------------------------------------------------
    def note_origin(original: Callable[[Connection], Any]) -> Callable[[Connection], Any]:
        @functools.wraps(original)
        def begin(self: Connection) -> Any:
            tx = original(self)
            # Always, not only inside a test: the harness's outer transaction begins in a fixture.
            try:
                # From this (plugin) frame: at the top of a greenlet there is no caller frame, and
                # the walk hops into the awaiting coroutine's greenlet instead.
                origin = _origin(classifier, sys._getframe())
                if origin == "user":
                    user_txs.add(remember(tx, user_txs))
                elif origin == "harness":
                    harness_txs.add(remember(tx, harness_txs))
                serials[remember(tx, serials)] = recorder.new_unit()
            except Exception as exc:
                recorder.internal_error("tracking a SQLAlchemy begin", exc)
            return tx

        begin.__pyskill_original__ = original  # type: ignore[attr-defined]
        return begin

    def after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
        if recorder.window is None:
            return
        with recorder.guard("tracking a Session transaction"):
            origins[transaction] = _origin(classifier, sys._getframe())

    def after_begin(
        session: Session, transaction: SessionTransaction, connection: Connection
    ) -> None:
        try:
            is_user = _session_origin(transaction, origins) == "user"
            session_txs[remember(connection, session_txs)] = (weakref.ref(transaction), is_user)
        except Exception as exc:
            recorder.internal_error("tracking a Session transaction", exc)

    listeners: list[tuple[Any, str, Callable[..., Any]]] = [
        (Engine, "do_execute", do_execute),
        (Engine, "do_executemany", do_executemany),
        (Engine, "do_execute_no_params", do_execute_no_params),
        (Session, "do_orm_execute", do_orm_execute),
        (Mapper, "load", on_load),
        (Session, "after_transaction_create", after_transaction_create),
        (Session, "after_begin", after_begin),
        (Session, "before_flush", before_flush),
        (Session, "after_flush_postexec", after_flush_postexec),
    ]
    added: list[tuple[Any, str, Callable[..., Any]]] = []
    patched: list[tuple[str, Any, Any]] = []

    def uninstall() -> None:
        while patched:
            name, original, wrapper = patched.pop()
            if Connection.__dict__.get(name) is wrapper:
                setattr(Connection, name, original)
        while added:
            target, name, fn = added.pop()
            if event.contains(target, name, fn):
                event.remove(target, name, fn)

    try:
        for target, name, fn in listeners:
            event.listen(target, name, fn)
            added.append((target, name, fn))
        for name in ("begin", "begin_nested"):
            original = Connection.__dict__[name]
            wrapper = note_origin(original)
            setattr(Connection, name, wrapper)
            patched.append((name, original, wrapper))
    except Exception:
        uninstall()
        raise
    return uninstall
