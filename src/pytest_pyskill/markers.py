"""The plugin's markers: registration with their signatures, and validation.

Each marker is validated by calling a function whose signature *is* the marker's API, so a
wrong call gets Python's own precise complaint, reworded into one line naming the marker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

MARKERS = (
    "max_queries(n, *, using=None): fail the test if its call phase sends more than n data "
    "statements (transaction control not counted); using= limits the count to one database "
    "alias or vendor. pytest-pyskill.",
    "pyskill_ignore(*rules, reason=None): switch the named pytest-pyskill rules off for this "
    "test (no rules: all of them).",
    "pyskill_threshold(**thresholds): override pytest-pyskill rule thresholds for this test, "
    "e.g. pyskill_threshold(n_plus_one=5, unbatched=10, slow_callback_ms=250).",
    "pyskill_allow(*calls, reason=None): allow the named blocking calls (patterns such as "
    "'time.sleep', 'socket.*', 'db.sqlalchemy'; none: all) on the event loop in this test "
    "(pytest-pyskill blocking-call).",
    "max_loop_block(ms): fail the test if the event loop was blocked for more than ms "
    "milliseconds in all (pytest-pyskill watchdog estimate).",
)

THRESHOLDS = {"n_plus_one": 2, "unbatched": 2, "slow_callback_ms": 1}  # name -> minimum value


class MarkerError(Exception):
    """A marker was used with arguments it does not take; the message is one line."""


def _max_queries(n: int, *, using: str | None = None) -> tuple[int, str | None]:
    if isinstance(n, bool) or not isinstance(n, int):
        raise MarkerError(f"n must be a whole number, got {n!r}")
    if n < 0:
        raise MarkerError(f"n must be >= 0, got {n}")
    if using is not None and not isinstance(using, str):
        raise MarkerError(f"using must be a database alias or vendor name, got {using!r}")
    return n, using


def _pyskill_ignore(*rules: str, reason: str | None = None) -> tuple[frozenset[str], str | None]:
    for rule in rules:
        if not isinstance(rule, str):
            raise MarkerError(f"rule names must be strings, got {rule!r}")
    return frozenset(rules), reason


def _pyskill_threshold(**thresholds: int) -> dict[str, int]:
    if not thresholds:
        raise MarkerError(f"name at least one threshold: {', '.join(sorted(THRESHOLDS))}")
    for name, value in thresholds.items():
        if name not in THRESHOLDS:
            raise MarkerError(
                f"unknown threshold {name!r}; valid thresholds: {', '.join(sorted(THRESHOLDS))}"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < THRESHOLDS[name]:
            raise MarkerError(f"{name} must be a whole number >= {THRESHOLDS[name]}, got {value!r}")
    return dict(thresholds)


def _pyskill_allow(*calls: str, reason: str | None = None) -> tuple[str, ...]:
    for call in calls:
        if not isinstance(call, str) or not call:
            raise MarkerError(f"calls must be names such as 'time.sleep', got {call!r}")
    if reason is not None and not isinstance(reason, str):
        raise MarkerError(f"reason must be a string, got {reason!r}")
    return calls or ("*",)


def _max_loop_block(ms: int) -> int:
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
        raise MarkerError(f"ms must be a whole number of milliseconds >= 0, got {ms!r}")
    return ms


def _call(fn: Any, name: str, mark: pytest.Mark) -> Any:
    try:
        return fn(*mark.args, **mark.kwargs)
    except MarkerError as exc:
        raise MarkerError(f"@pytest.mark.{name}: {exc}") from None
    except TypeError as exc:
        text = str(exc).replace(fn.__name__ + "()", name + "()")
        raise MarkerError(f"@pytest.mark.{name}: {text}") from None


@dataclass(frozen=True)
class TestMarks:
    __test__ = False

    max_queries: tuple[int, str | None] | None = None
    ignore_all: bool = False
    ignore: frozenset[str] = frozenset()
    thresholds: tuple[tuple[str, int], ...] = ()
    allow: tuple[tuple[str, str], ...] = ()  # (call pattern, reason) from pyskill_allow
    max_loop_block: int | None = None


def read(item: pytest.Item, known_rules: Iterable[str]) -> TestMarks:
    """The pyskill markers of one test, validated; raises MarkerError with one line."""
    budget = None
    mark = item.get_closest_marker("max_queries")
    if mark is not None:
        budget = _call(_max_queries, "max_queries", mark)
    ignore: set[str] = set()
    ignore_all = False
    known = set(known_rules)
    for mark in item.iter_markers("pyskill_ignore"):
        rules, _reason = _call(_pyskill_ignore, "pyskill_ignore", mark)
        if not rules:
            ignore_all = True
        unknown = sorted(rules - known)
        if unknown:
            raise MarkerError(
                f"@pytest.mark.pyskill_ignore: unknown rule {', '.join(map(repr, unknown))}; "
                f"valid rules: {', '.join(sorted(known))}"
            )
        ignore |= rules
    thresholds: dict[str, int] = {}
    for mark in reversed(list(item.iter_markers("pyskill_threshold"))):
        thresholds.update(_call(_pyskill_threshold, "pyskill_threshold", mark))
    allow: list[tuple[str, str]] = []
    for mark in item.iter_markers("pyskill_allow"):
        calls = _call(_pyskill_allow, "pyskill_allow", mark)
        reason = mark.kwargs.get("reason") or f"pyskill_allow marker on {item.name}"
        allow.extend((call, reason) for call in calls)
    loop_budget = None
    mark = item.get_closest_marker("max_loop_block")
    if mark is not None:
        loop_budget = _call(_max_loop_block, "max_loop_block", mark)
    return TestMarks(
        budget,
        ignore_all,
        frozenset(ignore),
        tuple(sorted(thresholds.items())),
        tuple(allow),
        loop_budget,
    )
