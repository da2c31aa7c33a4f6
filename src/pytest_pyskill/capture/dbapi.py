"""Raw DB-API capture for ``sqlite3`` connections opened by user code.

``sqlite3.Connection`` is a C type with no hook, so ``sqlite3.connect`` is wrapped (reversibly)
to hand user code a connection of a traced subclass (``factory=``). Connections opened by
libraries (Django's and SQLAlchemy's sqlite backends, aiosqlite) are left alone: those ORMs are
captured through their own hooks, and one statement is never counted twice. A connection
opened before the session started, or with a ``factory=`` of its own, is not traced.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from time import perf_counter
from typing import Any

from ..callsite import LIB
from ..recorder import Recorder

NAME = "dbapi"


def install(recorder: Recorder) -> Callable[[], None]:
    record = recorder.record
    kind_of = recorder.classifier.kind_of

    class TracedCursor(sqlite3.Cursor):
        def _run(
            self, method: Callable[..., Any], sql: Any, args: tuple[Any, ...], many: bool
        ) -> Any:
            if recorder.window is None or not isinstance(sql, str):
                return method(sql, *args)
            conn = self.connection
            in_tx = bool(conn.in_transaction)
            # The commit unit: None in autocommit (isolation_level None, no explicit BEGIN);
            # otherwise the transaction this statement runs in, or opens (legacy implicit BEGIN).
            unit = getattr(conn, "_pyskill_unit", None)
            if not in_tx:
                unit = None if conn.isolation_level is None else recorder.new_unit()
                setattr(conn, "_pyskill_unit", unit)  # noqa: B010
            elif unit is None:
                unit = recorder.new_unit()
                setattr(conn, "_pyskill_unit", unit)  # noqa: B010
            start = perf_counter()
            try:
                return method(sql, *args)
            finally:
                record(
                    NAME,
                    getattr(conn, "_pyskill_database", "sqlite"),
                    "sqlite",
                    sql,
                    many,
                    in_tx,
                    perf_counter() - start,
                    sys._getframe(2),
                    None,
                    args[0] if args else None,
                    unit,
                )

        def execute(self, sql: Any, *args: Any) -> Any:
            return self._run(super().execute, sql, args, False)

        def executemany(self, sql: Any, *args: Any) -> Any:
            return self._run(super().executemany, sql, args, True)

        def executescript(self, sql: Any) -> Any:
            return self._run(super().executescript, sql, (), False)

    class TracedConnection(sqlite3.Connection):
        _pyskill_database = "sqlite"

        def cursor(self, factory: Any = None) -> Any:
            return super().cursor(factory or TracedCursor)

        # The C implementations of these shortcuts bypass Python-level cursor methods.
        def execute(self, *args: Any) -> Any:
            return self.cursor().execute(*args)

        def executemany(self, *args: Any) -> Any:
            return self.cursor().executemany(*args)

        def executescript(self, *args: Any) -> Any:
            return self.cursor().executescript(*args)

    # Show up in users' tracebacks and reprs as what they are: sqlite3 connections and cursors.
    for cls, name in ((TracedCursor, "Cursor"), (TracedConnection, "Connection")):
        cls.__module__, cls.__name__, cls.__qualname__ = "sqlite3", name, name

    original = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_code.co_filename
        if "factory" in kwargs or kind_of(caller) == LIB:
            return original(*args, **kwargs)
        conn = original(*args, factory=TracedConnection, **kwargs)
        database = args[0] if args else kwargs.get("database", "sqlite")
        conn._pyskill_database = f"sqlite:{database}"
        return conn

    connect.__wrapped__ = original  # type: ignore[attr-defined]
    modules = [m for m in (sqlite3, sys.modules.get("sqlite3.dbapi2")) if m is not None]
    for module in modules:
        setattr(module, "connect", connect)  # noqa: B010 - the module's type has no such slot

    def uninstall() -> None:
        for module in modules:
            if getattr(module, "connect", None) is connect:
                setattr(module, "connect", original)  # noqa: B010

    return uninstall
