"""Allowances: blocking calls and loop stalls that are fine, kept as data with a reason.

An allowance names a rule, a called function (a pattern on names such as ``time.sleep``,
``socket.*``, ``db.sqlalchemy``) and where the call is made from (a pattern on a module name
such as ``myapp.cache.*``, or on a file path relative to the rootdir such as ``src/legacy/*.py``).
The plugin ships defaults for machinery that is known to be safe, the ini option
``pyskill_allow`` adds a project's own, the ``pyskill_allow`` marker and the
``allow_blocking()`` context manager allow calls in one test or one block. Each one's uses are
counted so the summary can list the ones nothing needed any more.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

LOOP_RULES = ("blocking-call", "slow-callback")


@dataclass(frozen=True, slots=True)
class Allowance:
    rule: str  # "blocking-call", "slow-callback" or "*"
    call: str  # pattern on the called function's name; "*" for any
    where: str  # pattern on the calling module, or on a file path when it has "/" or ".py"
    reason: str
    origin: str = "ini"  # "default", "ini", "marker", "block"

    @property
    def key(self) -> str:
        return f"{self.rule} | {self.call} | {self.where} | {self.reason}"

    @property
    def on_path(self) -> bool:
        return "/" in self.where or self.where.endswith(".py")

    def covers(self, rule: str, call: str) -> bool:
        if self.rule not in ("*", rule):
            return False
        return self.call == "*" or fnmatch.fnmatchcase(call, self.call)

    def matches_place(self, module: str, relpath: str) -> bool:
        if self.where == "*":
            return True
        if self.on_path:
            return fnmatch.fnmatchcase(relpath, self.where)
        return fnmatch.fnmatchcase(module, self.where) or (
            # "myapp" also covers "myapp.sub.module"
            not any(c in self.where for c in "*?[") and module.startswith(self.where + ".")
        )


def _default(rule: str, call: str, where: str, reason: str) -> Allowance:
    return Allowance(rule, call, where, reason, "default")


DEFAULTS: tuple[Allowance, ...] = (
    _default("*", "*", "importlib*", "the first import of a module reads its source once"),
    _default("*", "*", "_frozen_importlib*", "the first import of a module reads its source once"),
    _default("*", "*", "_pytest*", "pytest's own machinery"),
    _default("*", "*", "pytest", "pytest's own machinery"),
    _default("*", "*", "pluggy*", "pytest's plugin machinery"),
    _default("*", "*", "pytest_asyncio*", "pytest-asyncio's runner machinery"),
    _default("*", "*", "anyio.pytest_plugin", "the anyio pytest plugin's runner machinery"),
    _default("*", "*", "coverage*", "coverage measurement"),
    _default("*", "*", "pdb", "the debugger"),
    _default("*", "*", "bdb", "the debugger"),
    _default("*", "*", "pydevd*", "the debugger"),
    _default("*", "*", "_pydevd*", "the debugger"),
    _default("*", "*", "debugpy*", "the debugger"),
    _default("blocking-call", "*", "linecache", "source lines for tracebacks, cached"),
    _default("blocking-call", "*", "tokenize", "source lines for tracebacks, cached"),
    _default("blocking-call", "*", "traceback", "formatting a traceback"),
    _default(
        "blocking-call",
        "threading.*",
        "threading",
        "threading's own hand-offs (Thread.start waits for the new thread to run)",
    ),  # fmt: skip
    _default("blocking-call", "*", "asyncio*", "asyncio's own loop machinery"),
    _default("blocking-call", "*", "concurrent.futures*", "executor hand-offs"),
    _default(
        "blocking-call",
        "os.*",
        "asyncpg.connect_utils",
        "asyncpg looks for ~/.pgpass and client certificates once per new connection",
    ),  # fmt: skip
)

# allow_blocking(): allowances active in the current context (task, thread).
BLOCK_ALLOWANCES: ContextVar[tuple[Allowance, ...]] = ContextVar("pyskill_allow", default=())


class AllowanceError(ValueError):
    """A bad allowance; the message is one line naming what to fix."""


def parse(spec: str, origin: str = "ini") -> Allowance:
    """``RULE | CALL | WHERE | REASON``, e.g. ``blocking-call | os.stat | myapp.settings |
    reads the settings file once at start-up``."""
    parts = [p.strip() for p in spec.split("|")]
    if len(parts) != 4:
        raise AllowanceError(
            f"{spec.strip()!r} is not 'RULE | CALL | WHERE | REASON' "
            "(e.g. 'blocking-call | time.sleep | myapp.retry | back-off runs in a worker')"
        )
    rule, call, where, reason = parts
    if rule not in (*LOOP_RULES, "*"):
        raise AllowanceError(
            f"{spec.strip()!r}: rule must be one of {', '.join(LOOP_RULES)} or *, got {rule!r}"
        )
    if not call or not where:
        raise AllowanceError(f"{spec.strip()!r}: CALL and WHERE must not be empty (use *)")
    if not reason:
        raise AllowanceError(f"{spec.strip()!r}: give a reason after the last '|'")
    return Allowance(rule, call, where, reason, origin)


def parse_all(lines: Iterable[str]) -> tuple[Allowance, ...]:
    return tuple(parse(line) for line in lines if line.strip() and not line.strip().startswith("#"))


class Allowances:
    """The session's allowances with a per-file cache of the ones that apply to a place."""

    def __init__(self, configured: Iterable[Allowance], defaults: bool = True) -> None:
        self.items: tuple[Allowance, ...] = (*(DEFAULTS if defaults else ()), *configured)
        self._by_place: dict[tuple[str, str], tuple[Allowance, ...]] = {}

    def at(self, module: str, relpath: str) -> tuple[Allowance, ...]:
        key = (module, relpath)
        found = self._by_place.get(key)
        if found is None:
            found = tuple(a for a in self.items if a.matches_place(module, relpath))
            self._by_place[key] = found
        return found


@contextmanager
def allow_blocking(*calls: str, reason: str | None = None) -> Iterator[None]:
    """Allow the named blocking calls (patterns such as ``"time.sleep"``, ``"socket.*"``; none:
    every call) inside the block, in this task or thread only."""
    for call in calls:
        if not isinstance(call, str):
            raise TypeError(f"allow_blocking() takes call names as strings, got {call!r}")
    why = reason or "allowed in this block"
    added = tuple(Allowance("*", call, "*", why, "block") for call in (calls or ("*",)))
    token = BLOCK_ALLOWANCES.set(BLOCK_ALLOWANCES.get() + added)
    try:
        yield
    finally:
        BLOCK_ALLOWANCES.reset(token)
