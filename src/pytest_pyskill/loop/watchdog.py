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
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from asyncio import events as _asyncio_events
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from ..callsite import LIB
from ..model import UNKNOWN_SITE, CallSite
from .allow import DEFAULTS
from .watch import IDLE_SITE, LoopWatch

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
        self._closed = False

    # -- loops starting and stopping (on the loop's thread) --------------------------------
    def loop_running(self, loop: Any) -> None:
        if self._closed:
            return
        tid = threading.get_ident()
        with self._cond:
            if loop is None:
                state = self._loops.pop(tid, None)
                if state is not None and state.sent is not None:
                    self._answer(tid, state, perf_counter())
                return
            self._loops[tid] = _LoopState(loop, clock=_cpu_clock())
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="pyskill-loop-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._loops.clear()
            self._cond.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1)

    # -- the watchdog thread ---------------------------------------------------------------
    def _run(self) -> None:
        intended: float | None = None  # when this thread meant to wake up
        while True:
            with self._cond:
                while not self._closed and not (self._loops and self.watch.watching):
                    intended = None
                    self._cond.wait(1.0)
                if self._closed:
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
            _real_sleep(self.tick)

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


def install(watchdog: Watchdog) -> Callable[[], None]:
    """Route ``asyncio._set_running_loop`` through the watchdog; reversible."""
    original = _asyncio_events._set_running_loop

    def _set_running_loop(loop: Any) -> None:
        original(loop)
        try:
            watchdog.loop_running(loop)
        except Exception as exc:  # never break a loop starting
            watchdog.watch.error("tracking an event loop", exc)

    _set_running_loop.__wrapped__ = original  # type: ignore[attr-defined]
    owners = [_asyncio_events, asyncio]
    for owner in owners:
        setattr(owner, "_set_running_loop", _set_running_loop)  # noqa: B010

    def uninstall() -> None:
        for owner in owners:
            if getattr(owner, "_set_running_loop", None) is _set_running_loop:
                setattr(owner, "_set_running_loop", original)  # noqa: B010
        watchdog.close()

    return uninstall
