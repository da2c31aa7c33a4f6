"""Django ORM capture through ``connection.execute_wrapper``'s hook list.

The wrapper goes on every connection of every alias that exists now and on every connection
opened later or on another thread (``connection_created`` signal: live server, ``sync_to_async``).
Django is never set up or configured here: this module is only imported once the project has
configured it.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any

from ..model import OrmContext
from ..recorder import Recorder

NAME = "django"


def is_ready() -> bool:
    """Django is imported and configured by the project (we never configure it ourselves)."""
    if "django" not in sys.modules:
        return False
    try:
        from django.conf import settings

        return bool(settings.configured)
    except Exception:
        return False


def user_in_transaction(conn: Any) -> bool:
    """Inside a transaction the code opened, seeing through pytest-django/TestCase atomics."""
    if conn.in_atomic_block:
        return any(not getattr(b, "_from_testcase", False) for b in conn.atomic_blocks)
    # Manual transaction management (set_autocommit(False)) is the code's own transaction.
    return not conn.get_autocommit() if conn.connection is not None else False


def install(recorder: Recorder) -> Callable[[], None]:
    from django.db import connections
    from django.db.backends.signals import connection_created

    from . import django_orm

    record = recorder.record
    wrapped: weakref.WeakSet[Any] = weakref.WeakSet()
    current: ContextVar[OrmContext | None] = ContextVar("pyskill_django_orm", default=None)

    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if recorder.window is None:
            return execute(sql, params, many, context)
        conn = context["connection"]
        try:
            in_tx: bool | None = user_in_transaction(conn)
        except Exception:
            in_tx = None
        start = perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            record(
                NAME,
                conn.alias,
                conn.vendor,
                sql,
                many,
                in_tx,
                perf_counter() - start,
                sys._getframe(),
                current.get(),
                params,
            )

    def attach(conn: Any) -> None:
        if wrapper not in conn.execute_wrappers:
            # Outermost position: Django calls wrappers outside-in, ours sees the real call.
            conn.execute_wrappers.insert(0, wrapper)
            wrapped.add(conn)

    def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
        with recorder.guard("attaching to a new Django connection"):
            attach(connection)

    unpatch: Callable[[], None] | None = None
    try:
        unpatch = django_orm.install(recorder, current)
    except Exception as exc:  # an unexpected Django: statements are still captured
        recorder.internal_error("installing Django ORM context", exc)

    for conn in connections.all():
        attach(conn)
    connection_created.connect(on_connection_created, weak=False, dispatch_uid="pytest_pyskill")

    def uninstall() -> None:
        if unpatch is not None:
            unpatch()
        connection_created.disconnect(dispatch_uid="pytest_pyskill")
        for conn in list(wrapped):
            while wrapper in conn.execute_wrappers:
                conn.execute_wrappers.remove(wrapper)
        wrapped.clear()

    return uninstall
