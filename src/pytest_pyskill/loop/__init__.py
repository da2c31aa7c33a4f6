"""Event-loop watching: blocking calls made on a loop's thread, and stalls of the loop.

``install()`` builds the wrappers of the blocking functions (:mod:`.patches`), put in place
only while a test is watched (``LoopWatch.open``/``close``), and routes loops starting and
stopping to the watchdog (:mod:`.watchdog`), whose thread runs only while a watched loop runs;
both write to one :class:`~.watch.LoopWatch`. Everything is undone by the returned function;
if a step fails, the steps before it are undone and the error is raised once.
"""

from __future__ import annotations

from collections.abc import Callable

from ..callsite import Classifier
from .allow import Allowance, Allowances, allow_blocking
from .watch import LoopWatch
from .watchdog import Watchdog

__all__ = ["Allowance", "Allowances", "LoopWatch", "allow_blocking", "install"]

FLOOR = 0.01  # seconds: a ping answered later than this counts as a stall
TICK = 0.01  # seconds between the watchdog's checks


def install(
    classifier: Classifier,
    allowances: Allowances,
    keep_detail: bool,
    blocking: bool = True,
    stalls: bool = True,
) -> tuple[LoopWatch, Callable[[], None]]:
    from . import patches, watchdog

    watch = LoopWatch(classifier, allowances, keep_detail)
    undo: list[Callable[[], None]] = []
    try:
        if blocking:
            wrappers = patches.Patches(watch)
            watch.on_open.append(
                ("installing the blocking-call wrappers", wrappers.install, wrappers.uninstall)
            )
            undo.append(wrappers.sweep)
        if stalls:
            dog = Watchdog(watch, FLOOR, TICK)
            undo.append(dog.close)
            undo.append(watchdog.install(dog))
            watch.on_open.append(
                ("starting the loop watchdog", dog.window_opened, dog.window_closed)
            )
    except BaseException:
        _undo_all(undo)
        raise

    def uninstall() -> None:
        watch.close()
        watch.on_open = []
        _undo_all(undo)

    return watch, uninstall


def _undo_all(steps: list[Callable[[], None]]) -> None:
    error: BaseException | None = None
    for step in reversed(steps):
        try:
            step()
        except Exception as exc:  # keep undoing the rest
            error = error or exc
    if error is not None:
        raise error
