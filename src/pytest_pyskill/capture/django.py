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
from types import FrameType
from typing import Any

from ..callsite import AWAITED_FROM
from ..model import CallSite, OrmContext
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

    unawait = _follow_sync_to_async(recorder)

    def uninstall() -> None:
        unawait()
        if unpatch is not None:
            unpatch()
        connection_created.disconnect(dispatch_uid="pytest_pyskill")
        for conn in list(wrapped):
            while wrapper in conn.execute_wrappers:
                conn.execute_wrappers.remove(wrapper)
        wrapped.clear()

    return uninstall


def awaited_from(recorder: Recorder, frame: FrameType) -> tuple[CallSite, int]:
    """Where a ``sync_to_async`` call was awaited from (a module-level seam, for tests)."""
    return recorder.classifier.locate(frame)


def _follow_sync_to_async(recorder: Recorder) -> Callable[[], None]:
    """Remember where ``sync_to_async`` was awaited from (reversibly): Django's async ORM
    (``aget``, ``acreate``, ``async for``...) runs each query on asgiref's worker thread, whose
    own stack holds no user frame, in a copy of the awaiting context."""
    try:
        from asgiref.sync import SyncToAsync
    except ImportError:  # pragma: no cover - asgiref ships with Django
        return lambda: None
    original = SyncToAsync.__call__

    async def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        if recorder.window is None:
            return await original(self, *args, **kwargs)
        token = None
        try:
            token = AWAITED_FROM.set(awaited_from(recorder, sys._getframe(1)))
        except Exception as exc:  # the user's call goes ahead as without the plugin
            recorder.internal_error("following sync_to_async", exc)
        try:
            return await original(self, *args, **kwargs)
        finally:
            if token is not None:
                try:
                    AWAITED_FROM.reset(token)
                except Exception as exc:
                    recorder.internal_error("following sync_to_async", exc)

    __call__.__wrapped__ = original  # type: ignore[attr-defined]
    SyncToAsync.__call__ = __call__  # type: ignore[method-assign]

    def uninstall() -> None:
        if SyncToAsync.__call__ is __call__:
            SyncToAsync.__call__ = original  # type: ignore[method-assign]

    return uninstall
