"""The sink the blocking-call patches and the watchdog write to while a test is watched.

One :class:`LoopWatch` per session. ``open()`` puts the blocking-call wrappers in place and
``close()`` takes them out (``on_open``/``on_close`` steps, set by :func:`..install`); between
tests nothing is patched. ``watching`` is the one flag every wrapper reads first.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import perf_counter
from types import FrameType
from typing import Any

from ..callsite import LIB, Classifier
from ..model import UNKNOWN_SITE, CallSite, LoopEvent
from .allow import BLOCK_ALLOWANCES, Allowance, Allowances

MAX_LOOP_EVENTS = 2000
# The watchdog's sample of a loop waiting in its selector: starved of the GIL, not blocked.
IDLE_SITE = CallSite(())


class LoopWatch:
    def __init__(self, classifier: Classifier, allowances: Allowances, keep_detail: bool) -> None:
        self.classifier = classifier
        self.allowances = allowances
        self.keep_detail = keep_detail
        self.watching = False
        self.events: list[LoopEvent] = []
        self.used: Counter[str] = Counter()  # allowance key -> uses in the current test
        self.test_allow: tuple[Allowance, ...] = ()
        self.tick = 0.01  # the watchdog's period, seconds (set by the watchdog)
        # Steps run when a window opens (in order) and closes (in reverse order): the patches,
        # the watchdog. A step that fails to open is reported once and not tried again.
        self.on_open: list[tuple[str, Callable[[], None], Callable[[], None]]] = []
        self._opened: list[Callable[[], None]] = []
        self._broken: set[str] = set()
        self.on_error: Callable[[str, BaseException], None] | None = None
        self._inside: set[int] = set()  # threads inside a timed call (nested calls count once)
        self._lock = threading.Lock()

    # -- test windows ----------------------------------------------------------------------
    def open(self, test_allow: tuple[Allowance, ...] = ()) -> None:
        if self.watching:
            self.close()
        self.events = []
        self.used = Counter()
        self.test_allow = test_allow
        self.watching = True  # first: a watchdog started below finds the window open
        for what, start, stop in self.on_open:
            if what in self._broken:
                continue
            try:
                start()
            except Exception as exc:  # the step undid itself; the test runs unwatched by it
                self._broken.add(what)
                self.error(what, exc)
                continue
            self._opened.append(stop)

    def close(self) -> tuple[list[LoopEvent], Counter[str]]:
        self.watching = False
        opened, self._opened = self._opened, []
        for stop in reversed(opened):
            try:
                stop()
            except Exception as exc:
                self.error("closing the event-loop watch", exc)
        events, used = self.events, self.used
        self.events, self.used, self.test_allow = [], Counter(), ()
        return events, used

    @contextmanager
    def unrecorded(self) -> Iterator[None]:
        """Blocking calls made by this thread inside the block are the plugin's own."""
        tid = threading.get_ident()
        if tid in self._inside:
            yield
            return
        self._inside.add(tid)
        try:
            yield
        finally:
            self._inside.discard(tid)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._inside = set()

    def error(self, where: str, exc: BaseException) -> None:
        if self.on_error is not None:
            self.on_error(where, exc)

    # -- blocking calls (called on a thread whose event loop is running) --------------------
    def timed(
        self,
        name: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        detail: Callable[[tuple[Any, ...]], str] | None = None,
    ) -> Any:
        tid = threading.get_ident()
        if tid in self._inside:
            return fn(*args, **kwargs)
        self._inside.add(tid)
        frame = sys._getframe(2)  # the caller of the patched function
        start = perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self._inside.discard(tid)
            duration = perf_counter() - start
            try:
                text = detail(args) if detail is not None and self.keep_detail else None
                self.call(name, frame, start, duration, text)
            except Exception as exc:  # never break the user's call
                self.error(f"recording a {name} call", exc)

    def call(
        self,
        name: str,
        frame: FrameType | None,
        started: float,
        duration: float | None,
        detail: str | None = None,
        site: CallSite | None = None,
    ) -> None:
        """Record a blocking call made from ``frame`` (the caller of the blocking function)."""
        if not self.watching or len(self.events) >= MAX_LOOP_EVENTS:
            return
        allowed = self._allowance("blocking-call", name, frame)
        if site is None:
            site = self.classifier.locate(frame)[0] if frame is not None else UNKNOWN_SITE
        if allowed is not None:
            self.used[allowed.key] += 1
        event = LoopEvent(
            "call",
            name,
            site,
            started,
            duration,
            threading.get_ident(),
            allowed.key if allowed is not None else None,
            detail,
        )
        with self._lock:
            self.events.append(event)

    def _allowance(self, rule: str, name: str, frame: FrameType | None) -> Allowance | None:
        for allowance in (*BLOCK_ALLOWANCES.get(), *self.test_allow):
            if allowance.covers(rule, name):
                return allowance
        return self.place_allowance(rule, name, frame)

    def place_allowance(self, rule: str, name: str, frame: FrameType | None) -> Allowance | None:
        """The first allowance that covers a frame from ``frame`` out to the first user frame
        (library frames in between included: ``threading`` calling ``Event.wait`` is
        threading's business)."""
        kind_of = self.classifier.kind_of
        relpath = self.classifier.relpath
        at = self.allowances.at
        f = frame
        while f is not None:
            code = f.f_code
            filename = code.co_filename
            module = f.f_globals.get("__name__") or ""
            if not module.startswith("pytest_pyskill."):  # our capture frames: look past them
                for allowance in at(module, relpath(filename)):
                    if allowance.covers(rule, name):
                        return allowance
            # A user frame ends the walk, unless it is a module body running at its first
            # import (then the import system further out decides).
            if kind_of(filename) != LIB and code.co_name != "<module>":
                return None
            f = f.f_back
        return None

    # -- stalls (called by the watchdog) ----------------------------------------------------
    def stall(
        self,
        thread: int,
        started: float,
        duration: float,
        samples: Counter[tuple[CallSite, str | None]],
        busy: bool | None = None,
    ) -> None:
        if not self.watching or len(self.events) >= MAX_LOOP_EVENTS:
            return
        idle = sum(n for (site, _a), n in samples.items() if site is IDLE_SITE)
        if idle == sum(samples.values()) and (idle or busy is False):
            # Every sample found the loop idle, or (no samples) its thread hardly ran while the
            # ping waited: other threads held the GIL (work offloaded to a thread); the loop
            # itself was not blocked.
            return
        samples = Counter({k: n for k, n in samples.items() if k[0] is not IDLE_SITE})
        ranked = samples.most_common()
        by_site: Counter[CallSite] = Counter()
        for (site, _allowed), n in ranked:
            by_site[site] += n
        top_site = by_site.most_common(1)[0][0] if by_site else UNKNOWN_SITE
        allowed = next((a for (s, a), _n in ranked if s is top_site), None)
        if allowed is not None:
            self.used[allowed] += 1
        event = LoopEvent(
            "stall",
            "",
            top_site,
            started,
            duration,
            thread,
            allowed,
            None,
            tuple(by_site.most_common()),
            sum(samples.values()),
        )
        with self._lock:
            self.events.append(event)
