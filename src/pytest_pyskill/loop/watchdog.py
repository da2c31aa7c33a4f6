"""The watchdog: a thread that pings every running event loop and, while a ping waits, samples
what the loop's thread is running.

Loops are found through ``asyncio._set_running_loop``, which every loop calls when it starts and
stops running (``BaseEventLoop.run_forever`` looks it up on ``asyncio.events`` at each call;
uvloop binds ``asyncio._set_running_loop`` when it is imported, after this plugin has started).
Nothing on the loop's hot path is patched (not ``Handle._run``, which uvloop never calls), and
durations come from ``time.perf_counter`` (freezegun and time-machine fake the loop's clock).

A ping is a ``call_soon_threadsafe`` callback; the time until it runs is how long the loop could
not run anything. Pings go out one tick apart, so a stall's reported duration is short by at most
about a tick.

The thread lives only while a test is watched and a loop it knows runs: it starts when a loop
starts running in a watched test (or when the test's window opens while a loop runs), and is
stopped and joined when the last loop stops running (``asyncio.run`` has returned with no pyskill
thread left) and when the window closes, so a before/after ``threading.enumerate()`` check
around a test or an ``asyncio.run`` never sees it. Forks are safe: a ``before`` fork hook stops
and joins it (the child inherits no lock held by it, and Python 3.12+'s "process is
multi-threaded" warning, which counts threads after the fork, does not count it); the parent
restarts it from the loop once ``os.fork()`` has returned, the child starts afresh.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import weakref
from asyncio import events as _asyncio_events
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from ..callsite import LIB
from ..model import UNKNOWN_SITE, CallSite
from ..wrapping import transparent
from .allow import DEFAULTS
from .watch import IDLE_SITE, LoopWatch

# The originals, whatever is patched while the watchdog runs (the thread's own waits are never
# blocking calls of the test).
_cond_wait = threading.Condition.wait
_thread_join = threading.Thread.join
_real_stat = os.stat  # bound before any patch: the fork hook must not record its own checks
_real_sleep = time.sleep
_IMPORT_SITE = CallSite(())  # samples taken inside the import system (a first import)
_IMPORT_ALLOWANCE = next(a.key for a in DEFAULTS if a.where == "importlib*")
# Where an idle loop's thread sits: the selector's wait, or the loop's own run methods (uvloop's
# wait is in C, below its run frames).
_IDLE_FUNCTIONS = frozenset({"select", "poll", "_run_once", "run_forever", "run_until_complete"})


def _cpu_clock() -> int | None:
    """The calling thread's CPU-time clock id, readable from another thread (Linux, macOS)."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


def _idle(frame: Any) -> bool:
    module = frame.f_globals.get("__name__", "")
    if module == "selectors":
        return True
    return frame.f_code.co_name in _IDLE_FUNCTIONS and module.startswith(("asyncio", "uvloop"))


@dataclass
class _LoopState:
    loop: Any
    sent: float | None = None  # when the outstanding ping counts from
    answered: float = 0.0  # when the loop last ran a ping: it was responsive then
    token: int = 0
    clock: int | None = None  # the loop thread's CPU-time clock (POSIX)
    went_out: float = 0.0  # when the outstanding ping was actually sent
    cpu_out: float = 0.0  # the loop thread's CPU time then
    samples: Counter[tuple[CallSite, str | None]] = field(default_factory=Counter)


class Watchdog:
    def __init__(self, watch: LoopWatch, floor: float, tick: float) -> None:
        self.watch = watch
        self.floor = floor  # a late ping shorter than this is not a stall
        self.tick = tick
        watch.tick = tick
        self._loops: dict[int, _LoopState] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._generation = 0  # a thread runs while this is the value it started with
        self._closed = False
        self._restart_after_fork = False
        self.threads_started = 0  # for tests: how many times the thread was started
        _FORK_HOOKS.add(self)

    # -- loops starting and stopping (on the loop's thread) --------------------------------
    def loop_running(self, loop: Any) -> None:
        if self._closed:
            return
        tid = threading.get_ident()
        stop: threading.Thread | None = None
        with self._cond:
            if loop is None:
                state = self._loops.pop(tid, None)
                if state is not None and state.sent is not None:
                    self._answer(tid, state, perf_counter())
                if not self._loops:
                    stop = self._stop_locked()
            else:
                # Running from now on: a ping sent late counts from here, not from before.
                self._loops[tid] = _LoopState(loop, answered=perf_counter(), clock=_cpu_clock())
                if self.watch.watching:
                    self._start_locked()
                self._cond.notify()
        self._join(stop)

    # -- test windows (on the test's thread) ------------------------------------------------
    def window_opened(self) -> None:
        """A test's window opened: watch the loops already running (a loop on a thread of its
        own, started before the test)."""
        with self._cond:
            for tid, state in list(self._loops.items()):
                if not _is_running(state.loop):
                    del self._loops[tid]  # stopped while nobody tracked it
                else:
                    self._forget_ping(state)
            if self._loops and not self._closed:
                self._start_locked()

    def window_closed(self) -> None:
        with self._cond:
            for state in self._loops.values():
                self._forget_ping(state)  # its answer would count against the next test
            stop = self._stop_locked()
        self._join(stop)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._loops.clear()
            stop = self._stop_locked()
        self._join(stop)
        _FORK_HOOKS.discard(self)

    @property
    def running(self) -> bool:
        return self._thread is not None

    # -- the thread's lifetime -------------------------------------------------------------
    def _start_locked(self) -> None:
        if self._thread is not None or self._closed:
            return
        self._restart_after_fork = False
        thread = threading.Thread(
            target=self._run,
            args=(self._generation, perf_counter()),
            name="pyskill-loop-watchdog",
            daemon=True,
        )
        self._thread = thread
        self.threads_started += 1
        with self.watch.unrecorded():  # Thread.start waits for the thread: not the test's wait
            thread.start()

    def _stop_locked(self) -> threading.Thread | None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._generation += 1
            self._cond.notify_all()
        return thread

    @staticmethod
    def _join(thread: threading.Thread | None) -> None:
        if thread is not None and thread is not threading.current_thread():
            _thread_join(thread)

    def _restart(self) -> None:
        with self._cond:
            if self._restart_after_fork and self._loops and self.watch.watching:
                self._start_locked()
            self._restart_after_fork = False

    # -- fork (os.register_at_fork, through _FORK_HOOKS) -----------------------------------
    def before_fork(self) -> None:
        with self._cond:
            stop = self._stop_locked()
            if stop is not None:
                self._restart_after_fork = True
        self._join(stop)
        if stop is not None:
            _wait_for_os_thread_exit(stop)



    def after_fork_in_parent(self) -> None:
        if not self._restart_after_fork:
            return
        # Restart from the loop once os.fork() has returned (a run of forks, as a process
        # pool starting its workers, does not start and stop the thread in between).
        for state in list(self._loops.values()):
            try:
                state.loop.call_soon_threadsafe(self._restart)
                return
            except Exception:  # a closed loop: try the next
                continue
        self._restart_after_fork = False

    def after_fork_in_child(self) -> None:
        # Only the forking thread exists in the child: fresh locks, no thread; a loop the child
        # goes on running is not watched (a loop started in the child is).
        self._cond = threading.Condition()
        self._thread = None
        self._restart_after_fork = False
        self._loops = {}
        self.watch.after_fork_in_child()

    # -- the watchdog thread ---------------------------------------------------------------
    def _run(self, generation: int, started: float) -> None:
        # When this thread meant to wake up: its first check is due when it was started (the
        # loop may hold the GIL before this thread first gets it).
        intended: float | None = started
        while True:
            with self._cond:
                while self._generation == generation and not (self._loops and self.watch.watching):
                    intended = None
                    _cond_wait(self._cond, 1.0)
                if self._generation != generation:
                    return
                states = list(self._loops.items())
            now = perf_counter()
            # Waking up needs the GIL: while the loop's thread holds it (CPU-bound work), this
            # thread waits too, so a ping counts from when it was due, not from when it went out
            # (never from before the loop last answered).
            due = now if intended is None else min(now, intended)
            for tid, state in states:
                try:
                    self._check(tid, state, now, due)
                except Exception as exc:
                    self.watch.error("pinging an event loop", exc)
                    with self._cond:
                        if self._loops.get(tid) is state:
                            del self._loops[tid]
            intended = perf_counter() + self.tick
            with self._cond:
                if self._generation != generation:
                    return
                _cond_wait(self._cond, self.tick)

    @staticmethod
    def _forget_ping(state: _LoopState) -> None:
        state.sent = None
        state.token += 1

    def _check(self, tid: int, state: _LoopState, now: float, due: float) -> None:
        if state.sent is None:
            state.token += 1
            state.samples = Counter()
            state.sent = max(due, state.answered)
            state.went_out = perf_counter()
            if state.clock is not None:
                state.cpu_out = time.clock_gettime(state.clock)
            try:
                state.loop.call_soon_threadsafe(self._pong, tid, state, state.token)
            except RuntimeError:  # closed loop
                state.sent = None
            return
        if now - state.sent >= self.floor / 2:
            self._sample(tid, state)

    def _pong(self, tid: int, state: _LoopState, token: int) -> None:
        if token == state.token and state.sent is not None:
            self._answer(tid, state, perf_counter())

    def _answer(self, tid: int, state: _LoopState, now: float) -> None:
        sent, state.sent = state.sent, None
        state.answered = now
        state.token += 1
        if sent is None:
            return
        late = now - sent
        if late >= self.floor:
            self.watch.stall(tid, sent, late, state.samples, self._busy(state, now))

    @staticmethod
    def _busy(state: _LoopState, now: float) -> bool | None:
        """Did the loop's thread run (use CPU) for most of the wait? None: cannot tell. A loop
        starved of the GIL by other threads waits without running."""
        if state.clock is None:
            return None
        try:
            used = time.thread_time() - state.cpu_out  # _answer runs on the loop's thread
        except (OSError, ValueError):  # pragma: no cover
            return None
        return used >= 0.5 * max(now - state.went_out, 1e-9)

    def _sample(self, tid: int, state: _LoopState) -> None:
        frame = sys._current_frames().get(tid)
        if frame is None:
            return
        if _idle(frame):
            # The loop has nothing of its own running: the ping is late because other threads
            # hold the GIL (CPU work offloaded to a thread), not because the loop is blocked.
            state.samples[(IDLE_SITE, None)] += 1
            return
        # Inside the import system: a first import, never a finding.
        f: Any = frame
        while f is not None:
            name = f.f_globals.get("__name__", "")
            if name.startswith(("_frozen_importlib", "importlib")):
                state.samples[(_IMPORT_SITE, _IMPORT_ALLOWANCE)] += 1
                return
            if self.watch.classifier.kind_of(f.f_code.co_filename) != LIB:
                break
            f = f.f_back
        site, _entry = self.watch.classifier.locate(frame)
        allowed = self.watch.place_allowance("slow-callback", "*", frame)
        key = (site if site.frames else UNKNOWN_SITE, allowed.key if allowed else None)
        state.samples[key] += 1


def _is_running(loop: Any) -> bool:
    try:
        return bool(loop.is_running()) and not loop.is_closed()
    except Exception:
        return False


class _ForkHooks:
    """One set of ``os.register_at_fork`` hooks per process (they cannot be removed), calling
    the watchdogs of the sessions still open; a closed session's watchdog has left the set."""

    def __init__(self) -> None:
        self._dogs: weakref.WeakSet[Watchdog] = weakref.WeakSet()
        self._registered = False

    def add(self, dog: Watchdog) -> None:
        self._dogs.add(dog)
        if not self._registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(
                before=self._before, after_in_parent=self._parent, after_in_child=self._child
            )
            self._registered = True

    def discard(self, dog: Watchdog) -> None:
        self._dogs.discard(dog)

    def _each(self, method: str) -> None:
        for dog in list(self._dogs):
            try:
                getattr(dog, method)()
            except Exception as exc:  # never break the user's fork
                dog.watch.error("stopping the loop watchdog around a fork", exc)

    def _before(self) -> None:
        self._each("before_fork")

    def _parent(self) -> None:
        self._each("after_fork_in_parent")

    def _child(self) -> None:
        self._each("after_fork_in_child")


_FORK_HOOKS = _ForkHooks()


def install(watchdog: Watchdog) -> Callable[[], None]:
    """Route ``asyncio._set_running_loop`` through the watchdog for the session; reversible.

    This hook stays for the whole session (unlike the blocking-call wrappers, which are in
    place only while a test is watched): uvloop binds ``asyncio._set_running_loop`` when it is
    imported, often at collection, and a loop nobody sees start cannot be watched. Outside a
    watched test it only notes which loops run; it starts no thread.
    """
    original = _asyncio_events._set_running_loop

    def _set_running_loop(loop: Any) -> None:
        original(loop)
        try:
            watchdog.loop_running(loop)
        except Exception as exc:  # never break a loop starting
            watchdog.watch.error("tracking an event loop", exc)

    wrapper = transparent(original, _set_running_loop)
    owners = [_asyncio_events, asyncio]
    done: list[Any] = []
    try:
        for owner in owners:
            setattr(owner, "_set_running_loop", wrapper)  # noqa: B010
            done.append(owner)
    except BaseException:
        for owner in done:
            setattr(owner, "_set_running_loop", original)  # noqa: B010
        raise

    def uninstall() -> None:
        try:
            for owner in owners:
                if getattr(owner, "_set_running_loop", None) is wrapper:
                    setattr(owner, "_set_running_loop", original)  # noqa: B010
        finally:
            watchdog.close()

    return uninstall


def _wait_for_os_thread_exit(thread: threading.Thread, limit: float = 0.5) -> None:
    """``join()`` returns once the thread's Python state is gone; the OS thread ends a moment
    later. Python 3.12+ counts OS threads (``/proc/self/task`` on Linux) when it decides whether
    ``os.fork()`` warns that the process is multi-threaded: wait (briefly, bounded) until the
    joined thread has left that count."""
    native = getattr(thread, "native_id", None)
    task = f"/proc/self/task/{native}"
    if native is None:
        return
    deadline = perf_counter() + limit
    while perf_counter() < deadline:
        try:
            _real_stat(task)
        except OSError:
            return  # gone (or no /proc: nothing counts it there)
        _real_sleep(0.0002)
