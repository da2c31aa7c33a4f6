"""Event-loop watching: blocking calls made on a loop's thread, and stalls of the loop.

``install()`` wraps the blocking functions (:mod:`.patches`) and starts routing loops to the
watchdog (:mod:`.watchdog`); both write to one :class:`~.watch.LoopWatch`. Everything is undone
by the returned function.
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
    if blocking:
        undo.append(patches.install(watch))
    if stalls:
        dog = Watchdog(watch, FLOOR, TICK)
        watch.on_open = dog.wake
        undo.append(watchdog.install(dog))

    def uninstall() -> None:
        watch.watching = False
        for step in reversed(undo):
            step()

    return watch, uninstall
