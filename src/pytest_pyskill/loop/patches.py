"""Reversible wrappers on the functions that block a thread: sleeps, file and socket I/O,
subprocess waits, thread-synchronisation waits, ``input()``.

The wrappers are in place only while a test is watched (:meth:`Patches.install` when its
window opens, :meth:`Patches.uninstall` when it closes): between tests, and in runs where no test
is watched, every patched name holds its original. A wrapper kept past its window (``self.sleep =
time.sleep`` inside a test) still works: it calls the original.

Each wrapper first reads one flag (is a test being watched?) and asks
``asyncio._get_running_loop()`` (a C call) whether this thread runs an event loop; everything
else calls straight through. Worker threads (``to_thread``, executors, ``sync_to_async``) have
no running loop, so they are never flagged.

Module-level functions are replaced by :func:`~pytest_pyskill.wrapping.transparent` objects
(they never bind as methods and pickle as the originals do); methods of classes by functions
that bind, as the originals do.

Names bound early (``from time import sleep`` in a module) are found by scanning loaded modules
for the original function objects: every module once, then only modules imported since the last
scan. Module attributes are read through the module's ``__dict__`` (never ``getattr``, which
would make a ``LazyLoader`` module import itself). No audit hook is used: it can never be
removed, and it would fire on every ``sys._getframe``.

Installing is atomic: if a step fails, the steps done so far are undone before the error goes
on to the caller (which reports it as one internal error).
"""

from __future__ import annotations

import builtins
import concurrent.futures
import io
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import types
import weakref
from asyncio import events as _asyncio_events
from collections.abc import Callable
from typing import Any

from ..wrapping import method_wrapper, transparent
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
    original: Any,
    guard: Guard | None,
    detail: Callable[[tuple[Any, ...]], str] | None,
    owner: Any,
    attr: str,
) -> Any:
    get_loop = _get_running_loop
    timed = watch.timed

    def call(*args: Any, **kwargs: Any) -> Any:
        if watch.watching and get_loop() is not None:
            try:
                blocks = guard is None or guard(args, kwargs)
            except Exception:  # odd arguments: the original raises its own error for them
                blocks = False
            if blocks:
                return timed(name, original, args, kwargs, detail)
        return original(*args, **kwargs)

    if isinstance(owner, type):
        return method_wrapper(original, call, owner, attr)  # looked up on instances: binds
    return transparent(original, call, (getattr(owner, "__name__", ""), attr))


_SUPPORTS = ("supports_dir_fd", "supports_fd", "supports_follow_symlinks", "supports_effective_ids")
_SKIP_MODULES = frozenset({"builtins", "io", "os", "time", "socket", "posix", "nt", "_io"})


def _namespace(module: Any) -> dict[str, Any] | None:
    """A loaded module's ``__dict__``, read without running any of its code: a ``LazyLoader``
    module (or any module class with its own ``__getattribute__``) is not loaded by this.
    None for objects in ``sys.modules`` that are not modules, and for built-in and frozen
    modules (they keep the C originals: the import system uses them)."""
    if not issubclass(type(module), types.ModuleType):
        return None
    try:
        namespace = object.__getattribute__(module, "__dict__")
    except Exception:  # pragma: no cover - a module type without a __dict__
        return None
    if not isinstance(namespace, dict) or namespace.get("__file__") is None:
        return None
    return namespace


class Patches:
    """The wrappers for every target (built once) and the means to put them in place for one
    watched test and take them out again."""

    def __init__(self, watch: LoopWatch) -> None:
        self.watch = watch
        # (owner, attribute, original, wrapper, inherited from a base class)
        self._plan: list[tuple[Any, str, Any, Any, bool]] = []
        self._by_original: dict[int, tuple[Any, Any]] = {}  # id(original) -> (original, wrapper)
        for owner, attr, name, guard, detail in targets():
            inherited = False
            if isinstance(owner, type):
                original = owner.__dict__.get(attr)
                if original is None:
                    original = getattr(owner, attr, None)  # from a C base (socket methods)
                    inherited = True
            else:
                original = getattr(owner, attr, None)
            if original is None:
                continue
            entry = self._by_original.get(id(original))
            if entry is None:
                wrapper = _wrapper(watch, name, original, guard, detail, owner, attr)
                entry = self._by_original[id(original)] = (original, wrapper)
            self._plan.append((owner, attr, original, entry[1], inherited))
        self._by_wrapper = {id(w): (o, w) for o, w in self._by_original.values()}
        # Early-bound names: module name -> (the module, weakly; {attribute: original}).
        self._sites: dict[
            str, tuple[weakref.ref[types.ModuleType], dict[str, tuple[Any, Any]]]
        ] = {}
        self._seen: set[str] = set()  # module names scanned
        self._modules_mark: tuple[int, str | None] = (-1, None)  # (len, newest name) at last scan
        # os.supports_* sets that hold an original: (the set, the wrapper to add).
        self._supports: list[tuple[set[Any], Any]] = []
        for set_name in _SUPPORTS:
            members = getattr(os, set_name, None)
            if isinstance(members, set):
                self._supports.extend(
                    (members, w) for o, w in self._by_original.values() if o in members
                )
        self._done = _Done()
        self.installed = False

    def wrapper_for(self, original: Any) -> Any:
        entry = self._by_original.get(id(original))
        return entry[1] if entry is not None and entry[0] is original else None

    # -- install / uninstall ---------------------------------------------------------------
    def install(self) -> None:
        """Put every wrapper in place; on any error, undo what was done and raise."""
        if self.installed:
            return
        # What was done, as data (undone in reverse order by _undo_all).
        self._done = done = _Done()
        try:
            for entry in self._plan:
                owner, attr, original, wrapper, inherited = entry
                namespace = owner.__dict__  # a module's dict, or a class's (read-only) proxy
                current = namespace.get(attr, original if inherited else None)
                if current is not original and current is not wrapper:
                    continue  # someone else's replacement (a mock, pyfakefs): leave it
                if type(namespace) is dict:
                    namespace[attr] = wrapper
                else:
                    setattr(owner, attr, wrapper)
                done.targets.append(entry)
            # os.supports_* sets hold the original functions; shutil.rmtree and friends check
            # membership to pick their safe fd-based code paths.
            for members, wrapper in self._supports:
                if wrapper not in members:
                    members.add(wrapper)
                    done.supports.append((members, wrapper))
            self._scan_new_modules()
            for mod_name, (ref, attrs) in list(self._sites.items()):
                module = ref()
                namespace = _namespace(module) if module is not None else None
                if namespace is None:
                    del self._sites[mod_name]
                    continue
                for attr, (original, wrapper) in attrs.items():
                    if namespace.get(attr) is original:
                        namespace[attr] = wrapper
                        done.sites.append((namespace, attr, original, wrapper))
            done.other.extend(_rebind_class_attributes(self._by_original))
        except BaseException:
            self._done = _Done()
            done.undo()
            raise
        self.installed = True

    def uninstall(self) -> None:
        """Put every original back (those someone else replaced since stay theirs). Raises the
        first error after trying every step."""
        if not self.installed:
            return
        self.installed = False
        done, self._done = self._done, _Done()
        try:
            # Modules imported during the test bound the wrappers (``from time import sleep``):
            # point them back at the originals too, and remember them for the next test.
            self._scan_new_modules()
        finally:
            done.undo()

    def sweep(self) -> None:
        """At the end of the session: put the originals back wherever a wrapper is still found
        at a target (a fixture that restored its own patch after the test's window closed
        restores the wrapper it had found)."""
        self.uninstall()
        steps = [
            _restorer(owner, attr, original, wrapper, inherited)
            for owner, attr, original, wrapper, inherited in self._plan
        ]
        _run_all(steps)

    # -- early-bound names -----------------------------------------------------------------
    def _scan_new_modules(self) -> None:
        modules = sys.modules
        newest = next(reversed(modules), None)  # sys.modules keeps import order
        mark = (len(modules), newest)
        if mark == self._modules_mark:
            return  # nothing imported since the last scan
        by_id = self._by_original
        wrappers = self._by_wrapper
        for mod_name, module in list(modules.items()):
            if mod_name in self._seen:
                continue
            self._seen.add(mod_name)
            if mod_name in _SKIP_MODULES or mod_name.startswith("pytest_pyskill"):
                continue
            namespace = _namespace(module)
            if namespace is None:
                continue
            try:
                items = list(namespace.items())
            except RuntimeError:  # pragma: no cover - a module mutated while we looked
                continue
            found: dict[str, tuple[Any, Any]] = {}
            for attr, value in items:
                entry = by_id.get(id(value))
                if entry is not None and entry[0] is value:
                    found[attr] = entry
                    continue
                entry = wrappers.get(id(value))
                if entry is not None and entry[1] is value:
                    # Bound while a test was watched: the original goes back now.
                    found[attr] = entry
                    if not self.installed:
                        namespace[attr] = entry[0]
            if found:
                self._sites[mod_name] = (weakref.ref(module), found)
        self._modules_mark = mark


class _Done:
    """The changes one install made, undone last first; every one is tried, and the first
    error is raised once all have been."""

    __slots__ = ("other", "sites", "supports", "targets")

    def __init__(self) -> None:
        self.targets: list[tuple[Any, str, Any, Any, bool]] = []
        self.supports: list[tuple[set[Any], Any]] = []
        self.sites: list[tuple[dict[str, Any], str, Any, Any]] = []
        self.other: list[Callable[[], None]] = []

    def undo(self) -> None:
        _run_all([self._targets, self._supports, self._sites, *self.other])

    def _targets(self) -> None:
        error: Exception | None = None
        for owner, attr, original, wrapper, inherited in reversed(self.targets):
            try:
                namespace = owner.__dict__
                if namespace.get(attr) is not wrapper:
                    continue  # someone patched over us since: leave theirs in place
                if inherited:
                    delattr(owner, attr)
                elif type(namespace) is dict:
                    namespace[attr] = original
                else:
                    setattr(owner, attr, original)
            except Exception as exc:  # keep restoring the rest
                error = error or exc
        if error is not None:
            raise error

    def _sites(self) -> None:
        for namespace, attr, original, wrapper in reversed(self.sites):
            if namespace.get(attr) is wrapper:
                namespace[attr] = original

    def _supports(self) -> None:
        for members, wrapper in reversed(self.supports):
            members.discard(wrapper)


def _run_all(steps: list[Callable[[], None]]) -> None:
    """Run every undo step, last first; raise the first error once all have run."""
    error: BaseException | None = None
    for step in reversed(steps):
        try:
            step()
        except Exception as exc:  # keep restoring the rest
            error = error or exc
    if error is not None:
        raise error


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


def _rebind_class_attributes(replaced: dict[int, tuple[Any, Any]]) -> list[Callable[[], None]]:
    """Classes that hold the originals as attributes: Python 3.10's ``pathlib`` calls
    ``io.open``/``os.stat``... through ``_NormalAccessor`` class attributes bound at import.
    The wrappers do not bind, so they go in as the builtins were."""
    undo: list[Callable[[], None]] = []
    pathlib = sys.modules.get("pathlib")
    accessor = pathlib.__dict__.get("_NormalAccessor") if pathlib is not None else None
    if accessor is None:
        return undo
    try:
        for attr, value in list(vars(accessor).items()):
            entry = replaced.get(id(value))
            if entry is None or entry[0] is not value:
                continue
            wrapper = entry[1]
            setattr(accessor, attr, wrapper)

            def restore(attr: str = attr, value: Any = value, wrapper: Any = wrapper) -> None:
                if vars(accessor).get(attr) is wrapper:
                    setattr(accessor, attr, value)

            undo.append(restore)
    except BaseException:
        _run_all(undo)
        raise
    return undo
