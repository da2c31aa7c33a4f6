"""Reversible wrappers on the functions that block a thread: sleeps, file and socket I/O,
subprocess waits, thread-synchronisation waits, ``input()``.

Each wrapper first reads one flag (is a test being watched?) and asks
``asyncio._get_running_loop()`` (a C call) whether this thread runs an event loop; everything
else calls straight through. Worker threads (``to_thread``, executors, ``sync_to_async``) have
no running loop, so they are never flagged.

Names bound before the plugin started (``from time import sleep`` in a module imported by a
conftest) are found by scanning loaded modules for the original function objects; each
replaced attribute is put back on uninstall. No audit hook is used: it can never be removed,
and it would fire on every ``sys._getframe``.
"""

from __future__ import annotations

import builtins
import concurrent.futures
import contextlib
import functools
import io
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from asyncio import events as _asyncio_events
from collections.abc import Callable
from typing import Any

from .watch import LoopWatch

_get_running_loop = _asyncio_events._get_running_loop

Guard = Callable[[tuple[Any, ...], dict[str, Any]], bool]


def _timeout(args: tuple[Any, ...], kwargs: dict[str, Any], index: int) -> Any:
    if "timeout" in kwargs:
        return kwargs["timeout"]
    return args[index] if len(args) > index else None


def _not_zero_timeout(index: int) -> Guard:
    return lambda a, k: _timeout(a, k, index) != 0


def _blocking_socket(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    # Non-blocking sockets (asyncio's, anything after setblocking(False)) never wait.
    return bool(a[0].gettimeout() != 0.0)


def _real_file(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    # open(fd) wraps a descriptor that is already open (stdout, a pipe): no I/O to speak of.
    target = a[0] if a else k.get("file", k.get("path"))
    return not isinstance(target, int)


def _event_wait(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    return not a[0].is_set() and _timeout(a, k, 1) != 0


def _semaphore_acquire(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    blocking = k.get("blocking", a[1] if len(a) > 1 else True)
    # Uncontended (a permit is free) or non-blocking acquires return at once.
    return bool(blocking) and _timeout(a, k, 2) != 0 and getattr(a[0], "_value", 0) == 0


def _thread_join(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    return bool(a[0].is_alive()) and _timeout(a, k, 1) != 0


def _queue_get(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    block = k.get("block", a[1] if len(a) > 1 else True)
    return bool(block) and _timeout(a, k, 2) != 0 and a[0].empty()


def _queue_put(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    block = k.get("block", a[2] if len(a) > 2 else True)
    return bool(block) and _timeout(a, k, 3) != 0 and a[0].full()


def _future_wait(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    return not a[0].done() and _timeout(a, k, 1) != 0


def _popen_wait(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    return a[0].returncode is None and _timeout(a, k, 1) != 0


def _waitpid(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    options = a[1] if len(a) > 1 else k.get("options", 0)
    return not (options & getattr(os, "WNOHANG", 1))


def _positive_delay(a: tuple[Any, ...], k: dict[str, Any]) -> bool:
    # time.sleep(0) is a yield, not a wait; bad arguments go through to raise their own error.
    return bool(a) and isinstance(a[0], (int, float)) and a[0] > 0


def _first_arg(a: tuple[Any, ...]) -> str:
    return str(a[0]) if a else ""


def _address(a: tuple[Any, ...]) -> str:
    return str(a[1]) if len(a) > 1 else ""


def _host(a: tuple[Any, ...]) -> str:
    return str(a[0]) if a else ""


# (owner, attribute, reported name, guard, detail)
Target = tuple[Any, str, str, "Guard | None", "Callable[[tuple[Any, ...]], str] | None"]


def targets() -> list[Target]:
    found: list[Target] = [
        (time, "sleep", "time.sleep", _positive_delay, None),
        (builtins, "open", "open", _real_file, _first_arg),
        (io, "open", "open", _real_file, _first_arg),
        (builtins, "input", "input", None, None),
        (os, "stat", "os.stat", _real_file, _first_arg),
        (os, "lstat", "os.lstat", None, _first_arg),
        (os, "listdir", "os.listdir", None, _first_arg),
        (os, "scandir", "os.scandir", None, _first_arg),
        (os, "open", "os.open", None, _first_arg),
        (os, "mkdir", "os.mkdir", None, _first_arg),
        (os, "rmdir", "os.rmdir", None, _first_arg),
        (os, "remove", "os.remove", None, _first_arg),
        (os, "unlink", "os.unlink", None, _first_arg),
        (os, "rename", "os.rename", None, _first_arg),
        (os, "replace", "os.replace", None, _first_arg),
        (os, "system", "os.system", None, _first_arg),
        (socket, "getaddrinfo", "socket.getaddrinfo", None, _host),
        (socket, "gethostbyname", "socket.gethostbyname", None, _host),
        (socket, "gethostbyname_ex", "socket.gethostbyname_ex", None, _host),
        (socket, "gethostbyaddr", "socket.gethostbyaddr", None, _host),
        (subprocess.Popen, "wait", "subprocess.Popen.wait", _popen_wait, None),
        (subprocess.Popen, "communicate", "subprocess.Popen.communicate", _popen_wait, None),
        (threading.Event, "wait", "threading.Event.wait", _event_wait, None),
        (threading.Condition, "wait", "threading.Condition.wait", _not_zero_timeout(1), None),
        (
            threading.Semaphore,
            "acquire",
            "threading.Semaphore.acquire",
            _semaphore_acquire,
            None,
        ),  # fmt: skip
        (threading.Barrier, "wait", "threading.Barrier.wait", _not_zero_timeout(1), None),
        (threading.Thread, "join", "threading.Thread.join", _thread_join, None),
        (queue.Queue, "get", "queue.Queue.get", _queue_get, None),
        (queue.Queue, "put", "queue.Queue.put", _queue_put, None),
        (
            concurrent.futures.Future,
            "result",
            "concurrent.futures.Future.result",
            _future_wait,
            None,
        ),  # fmt: skip
        (
            concurrent.futures.Future,
            "exception",
            "concurrent.futures.Future.exception",
            _future_wait,
            None,
        ),  # fmt: skip
    ]
    if hasattr(os, "waitpid"):
        found.append((os, "waitpid", "os.waitpid", _waitpid, None))
    for method in ("connect", "connect_ex", "accept", "recv", "recv_into", "recvfrom",
                   "recvfrom_into", "send", "sendall", "sendto"):  # fmt: skip
        detail = _address if method.startswith("connect") else None
        found.append((socket.socket, method, f"socket.{method}", _blocking_socket, detail))
    return found


def _wrapper(
    watch: LoopWatch,
    name: str,
    original: Callable[..., Any],
    guard: Guard | None,
    detail: Callable[[tuple[Any, ...]], str] | None,
) -> Callable[..., Any]:
    get_loop = _get_running_loop
    timed = watch.timed

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if watch.watching and get_loop() is not None and (guard is None or guard(args, kwargs)):
            return timed(name, original, args, kwargs, detail)
        return original(*args, **kwargs)

    try:
        functools.update_wrapper(wrapper, original)
    except (AttributeError, TypeError):  # pragma: no cover - builtins without some attributes
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    return wrapper


_SUPPORTS = ("supports_dir_fd", "supports_fd", "supports_follow_symlinks", "supports_effective_ids")


def install(watch: LoopWatch) -> Callable[[], None]:
    """Wrap every target; returns the function that puts every original back."""
    undo: list[Callable[[], None]] = []
    replaced: dict[int, tuple[Any, Any]] = {}  # id(original) -> (original, wrapper)
    for owner, attr, name, guard, detail in targets():
        original = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr)
        if original is None and isinstance(owner, type):
            original = getattr(owner, attr, None)  # inherited from a C base (socket methods)
            inherited = True
        else:
            inherited = False
        if original is None:
            continue
        previous = replaced.get(id(original))
        wrapper = previous[1] if previous else _wrapper(watch, name, original, guard, detail)
        replaced[id(original)] = (original, wrapper)
        setattr(owner, attr, wrapper)
        undo.append(_restorer(owner, attr, original, wrapper, inherited))
    # os.supports_* sets hold the original functions; shutil.rmtree and friends check
    # membership to pick their safe fd-based code paths.
    for set_name in _SUPPORTS:
        members = getattr(os, set_name, None)
        if not isinstance(members, set):
            continue
        for original, wrapper in replaced.values():
            if original in members:
                members.add(wrapper)
                undo.append(functools.partial(members.discard, wrapper))
    undo.extend(_rebind_early_names(replaced))
    undo.extend(_rebind_class_attributes(replaced))

    def uninstall() -> None:
        for step in reversed(undo):
            with contextlib.suppress(Exception):  # keep restoring the rest
                step()

    return uninstall


def _restorer(
    owner: Any, attr: str, original: Any, wrapper: Any, inherited: bool
) -> Callable[[], None]:
    def restore() -> None:
        current = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr)
        if current is not wrapper:
            return  # someone patched over us since: leave theirs in place
        if inherited:
            delattr(owner, attr)
        else:
            setattr(owner, attr, original)

    return restore


_SKIP_MODULES = frozenset({"builtins", "io", "os", "time", "socket", "posix", "nt", "_io"})


def _rebind_early_names(replaced: dict[int, tuple[Any, Any]]) -> list[Callable[[], None]]:
    """Module attributes bound to an original before we started (``from time import sleep``):
    point them at the wrapper too."""
    undo: list[Callable[[], None]] = []
    for mod_name, module in list(sys.modules.items()):
        if mod_name in _SKIP_MODULES or mod_name.startswith("pytest_pyskill"):
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict) or getattr(module, "__file__", None) is None:
            continue  # built-in and frozen modules keep the C originals (importlib uses them)
        try:
            items = list(namespace.items())
        except RuntimeError:  # pragma: no cover - a module mutated while we looked
            continue
        for attr, value in items:
            entry = replaced.get(id(value))
            if entry is None or entry[0] is not value:
                continue
            namespace[attr] = entry[1]
            undo.append(_rebinder(namespace, attr, value, entry[1]))
    return undo


def _rebind_class_attributes(replaced: dict[int, tuple[Any, Any]]) -> list[Callable[[], None]]:
    """Classes that hold the originals as attributes: Python 3.10's ``pathlib`` calls
    ``io.open``/``os.stat``... through ``_NormalAccessor`` class attributes bound at import."""
    undo: list[Callable[[], None]] = []
    pathlib = sys.modules.get("pathlib")
    accessor = getattr(pathlib, "_NormalAccessor", None)
    if accessor is None:
        return undo
    for attr, value in list(vars(accessor).items()):
        entry = replaced.get(id(value))
        if entry is None or entry[0] is not value:
            continue
        patched = staticmethod(entry[1])  # a plain function would bind the accessor as self
        setattr(accessor, attr, patched)

        def restore(attr: str = attr, value: Any = value, patched: Any = patched) -> None:
            if vars(accessor).get(attr) is patched:
                setattr(accessor, attr, value)

        undo.append(restore)
    return undo


def _rebinder(
    namespace: dict[str, Any], attr: str, original: Any, wrapper: Any
) -> Callable[[], None]:
    def restore() -> None:
        if namespace.get(attr) is wrapper:
            namespace[attr] = original

    return restore
