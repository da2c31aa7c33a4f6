"""Fast attribution of a statement to the user's code.

A raw walk over ``f_back`` with a per-file cached classification; never ``inspect.stack()``
(which reads source files for every frame). Frames are *library* (site-packages, the standard
library, this plugin, the interpreter's scripts such as the ``pytest`` console script, generated
code, and every file outside the rootdir), *test* (test modules, ``conftest.py``, files under test
directories, doctests) or *application* (everything else under the rootdir). Paths are reported
relative to the rootdir, never absolute: the same project gives the same call sites however
pytest was started and wherever the checkout lives.
"""

from __future__ import annotations

import fnmatch
import itertools
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from types import FrameType
from typing import Any

from .model import CallSite, Frame, FrameKind

LIB = 0
APP = 1
TEST = 2
MAX_USER_FRAMES = 12
TEST_DIR_NAMES = frozenset({"tests", "test", "testing"})
# Where the code that is running now was awaited from, when the stack here cannot say: set by
# capture around asgiref's ``sync_to_async`` (Django's async ORM runs each query on a worker
# thread whose stack holds no user frame); the worker runs in a copy of the awaiting context.
# (call site, operation number): nothing of the awaiting frame itself is kept.
AWAITED_FROM: ContextVar[tuple[CallSite, int] | None] = ContextVar(
    "pyskill_awaited_from", default=None
)
# A doctest's examples run as code compiled from ``<doctest module.name[N]>``: they are tests.
_DOCTEST = "<doctest "
# Comprehensions run in place (their own frame before 3.12): report the enclosing function.
_INLINE_SCOPES = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>"})


def _library_roots() -> tuple[str, ...]:
    roots: set[str] = set()
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            roots.add(os.path.realpath(path))
            roots.add(os.path.abspath(path))
    for path in sys.path:
        if path.endswith(("site-packages", "dist-packages")):
            roots.add(os.path.realpath(path))
            roots.add(os.path.abspath(path))
    # The interpreter's scripts (the ``pytest`` console script, ``django-admin``...): how pytest
    # was started must not change whose statement it is.
    scripts = {sysconfig.get_paths().get("scripts"), os.path.dirname(sys.executable)}
    for prefix in {sys.prefix, sys.exec_prefix}:
        scripts.update(os.path.join(prefix, name) for name in ("bin", "Scripts"))
    for path in scripts:
        if path:
            roots.add(os.path.abspath(path))
    here = os.path.dirname(os.path.abspath(__file__))
    roots.add(here)
    roots.add(os.path.realpath(here))
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in roots))


class _Operation:
    """Marks one activation of an entry frame (see :meth:`Classifier.operation`).

    Lives in the frame's ``f_trace`` slot, which CPython only calls when a Python-level trace
    function runs; then it hands every event on to the trace function it replaced, so tracers
    (debuggers, coverage's Python tracer) see exactly what they saw without it."""

    __slots__ = ("number", "previous")

    def __init__(self, number: int, previous: Callable[..., Any] | None) -> None:
        self.number = number
        self.previous = previous

    def __call__(self, frame: FrameType, event: str, arg: object) -> object:
        previous = self.previous
        if previous is None:
            return None
        result = previous(frame, event, arg)
        if result is None:
            return None  # CPython keeps the frame's trace function as it is
        self.previous = result
        return self


class Classifier:
    """Classifies files and walks stacks; one per session, its caches grow with distinct files."""

    def __init__(
        self,
        rootdir: str,
        test_patterns: Iterable[str] = ("test_*.py", "*_test.py"),
        extra_library: Iterable[str] = (),
    ) -> None:
        self.rootdir = os.path.abspath(rootdir)
        self.test_patterns = tuple(test_patterns)
        # A library root that contains the rootdir (a checkout inside a virtualenv folder)
        # does not make the project itself library code.
        prefix = self.rootdir.rstrip(os.sep) + os.sep
        self.library_roots = tuple(
            root
            for root in _library_roots()
            + tuple(os.path.abspath(p).rstrip(os.sep) + os.sep for p in extra_library)
            if not prefix.startswith(root)
        )
        self._kinds: dict[str, int] = {}
        self._relpaths: dict[str, str] = {}
        self._sites: dict[tuple[int, ...], tuple[CallSite, tuple[object, ...]]] = {}
        self._by_content: dict[tuple[Frame, ...], CallSite] = {}
        self._operations = itertools.count(1)

    # -- files -----------------------------------------------------------------------------
    def kind_of(self, filename: str) -> int:
        kind = self._kinds.get(filename)
        if kind is None:
            kind = self._classify(filename)
            self._kinds[filename] = kind
        return kind

    def _classify(self, filename: str) -> int:
        if not filename:
            return LIB
        if filename.startswith("<"):
            return TEST if filename.startswith(_DOCTEST) else LIB
        path = os.path.abspath(filename)
        if any(path.startswith(root) for root in self.library_roots):
            return LIB
        if not path.startswith(self.rootdir.rstrip(os.sep) + os.sep):
            return LIB  # outside the project: installed or vendored elsewhere, not its code
        base = os.path.basename(path)
        if base == "conftest.py" or any(fnmatch.fnmatch(base, p) for p in self.test_patterns):
            return TEST
        rel = self.relpath(path)
        parts = rel.split("/")[:-1]
        if any(part in TEST_DIR_NAMES for part in parts):
            return TEST
        return APP

    def relpath(self, filename: str) -> str:
        """``filename`` relative to the rootdir, with ``/``: never an absolute path (a file
        outside the rootdir is named by its base name; ``<doctest ...>`` names stay)."""
        rel = self._relpaths.get(filename)
        if rel is None:
            if filename.startswith("<"):
                rel = filename
            else:
                path = os.path.abspath(filename)
                try:
                    rel = os.path.relpath(path, self.rootdir)
                except ValueError:  # another drive on Windows
                    rel = os.path.basename(path)
                if rel == os.pardir or rel.startswith(os.pardir + os.sep):
                    rel = os.path.basename(path)
                rel = rel.replace(os.sep, "/")
            self._relpaths[filename] = rel
        return rel

    # -- stacks ----------------------------------------------------------------------------
    def callsite(self, frame: FrameType | None) -> CallSite:
        """The call site of ``frame`` (see :meth:`locate`)."""
        return self.locate(frame)[0]

    def locate(self, frame: FrameType | None) -> tuple[CallSite, int]:
        """The user frames from ``frame`` outwards, up to and including the first test frame.

        Continues into the parent greenlet when the walk runs off the top of a greenlet (async
        SQLAlchemy runs the ORM in one, and the user's ``await`` sits in the parent).

        The cache key is (code object id, instruction offset) per user frame: ``f_lasti`` is
        O(1) where ``f_lineno`` scans the line table, so line numbers are only computed the
        first time a chain is seen. The cache keeps those code objects alive, so their ids
        cannot be reused while the key exists.

        Also returns the *operation*: the number of this activation of the entry frame (the
        outermost application frame of the chain: the function the test called; or the test
        frame when no application code is involved; 0 when there is no user frame). Statements
        under one activation of the entry frame belong to one operation.
        """
        kinds = self._kinds
        key: list[int] = []
        user: list[FrameType] = []
        entry: FrameType | None = None
        hopped = False
        f = frame
        while f is not None:
            code = f.f_code
            kind = kinds.get(code.co_filename)
            if kind is None:
                kind = self.kind_of(code.co_filename)
            if kind and code.co_name not in _INLINE_SCOPES:
                key.append(id(code))
                key.append(f.f_lasti)
                user.append(f)
                if kind == TEST:
                    if entry is None:
                        entry = f
                    break
                entry = f
                if len(user) >= MAX_USER_FRAMES:
                    break
            f = f.f_back
            if f is None and not hopped:
                hopped = True
                f = _parent_greenlet_frame()
        if not key:
            awaited = AWAITED_FROM.get()
            if awaited is not None:
                return awaited
        tkey = tuple(key)
        cached = self._sites.get(tkey)
        if cached is None:
            cached = self._build(tkey, user)
        return cached[0], self.operation(entry) if entry is not None else 0

    def operation(self, frame: FrameType) -> int:
        """The number of ``frame``'s activation, the same for as long as it runs.

        Nothing of the frame is kept (its locals must die when it returns): the number lives in
        the frame itself, in a marker in its ``f_trace`` slot. An address or a code object
        cannot tell activations apart: the next call of the same function from a loop gets a
        frame at the same address."""
        mark = frame.f_trace
        if type(mark) is _Operation:
            return mark.number
        number = next(self._operations)
        frame.f_trace = _Operation(number, mark)
        return number

    def _build(
        self, key: tuple[int, ...], user: list[FrameType]
    ) -> tuple[CallSite, tuple[object, ...]]:
        frames = []
        for f in user:
            code = f.f_code
            fk: FrameKind = "test" if self.kind_of(code.co_filename) == TEST else "app"
            frames.append(Frame(self.relpath(code.co_filename), f.f_lineno or 0, code.co_name, fk))
        # Two instructions on one line give two keys but one call site: intern by content too.
        chain = tuple(frames)
        site = self._by_content.get(chain)
        if site is None:
            site = self._by_content[chain] = CallSite(chain)
        entry = (site, tuple(f.f_code for f in user))
        if len(self._sites) > 50_000:
            self._sites.clear()
            self._by_content.clear()
        self._sites[key] = entry
        return entry


def _parent_greenlet_frame() -> FrameType | None:
    greenlet = sys.modules.get("greenlet")
    if greenlet is None:
        return None
    try:
        current = greenlet.getcurrent()
        parent = current.parent
        if parent is None:
            return None
        gr_frame: FrameType | None = parent.gr_frame
        return gr_frame
    except Exception:  # pragma: no cover - greenlet without frames
        return None
