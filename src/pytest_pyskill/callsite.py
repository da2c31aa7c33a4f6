"""Fast attribution of a statement to the user's code.

A raw walk over ``f_back`` with a per-file cached classification; never ``inspect.stack()``
(which reads source files for every frame). Frames are *library* (site-packages, the standard
library, this plugin, generated code), *test* (test modules, ``conftest.py``, files under test
directories) or *application* (everything else).
"""

from __future__ import annotations

import fnmatch
import os
import sys
import sysconfig
from collections.abc import Iterable
from contextvars import ContextVar
from types import FrameType

from .model import CallSite, Frame, FrameKind

LIB = 0
APP = 1
TEST = 2
MAX_USER_FRAMES = 12
TEST_DIR_NAMES = frozenset({"tests", "test", "testing"})
# Where the code that is running now was awaited from, when the stack here cannot say: set by
# capture around asgiref's ``sync_to_async`` (Django's async ORM runs each query on a worker
# thread whose stack holds no user frame); the worker runs in a copy of the awaiting context.
AWAITED_FROM: ContextVar[tuple[CallSite, FrameType | None] | None] = ContextVar(
    "pyskill_awaited_from", default=None
)
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
    here = os.path.dirname(os.path.abspath(__file__))
    roots.add(here)
    roots.add(os.path.realpath(here))
    return tuple(sorted(r.rstrip(os.sep) + os.sep for r in roots))


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

    # -- files -----------------------------------------------------------------------------
    def kind_of(self, filename: str) -> int:
        kind = self._kinds.get(filename)
        if kind is None:
            kind = self._classify(filename)
            self._kinds[filename] = kind
        return kind

    def _classify(self, filename: str) -> int:
        if not filename or filename.startswith("<"):
            return LIB
        path = os.path.abspath(filename)
        if any(path.startswith(root) for root in self.library_roots):
            return LIB
        base = os.path.basename(path)
        if base == "conftest.py" or any(fnmatch.fnmatch(base, p) for p in self.test_patterns):
            return TEST
        rel = self.relpath(path)
        parts = rel.split(os.sep)[:-1]
        if any(part in TEST_DIR_NAMES for part in parts):
            return TEST
        return APP

    def relpath(self, filename: str) -> str:
        rel = self._relpaths.get(filename)
        if rel is None:
            path = os.path.abspath(filename)
            try:
                rel = os.path.relpath(path, self.rootdir)
            except ValueError:  # another drive on Windows
                rel = path
            if rel.startswith(".." + os.sep):
                rel = path
            rel = rel.replace(os.sep, "/")
            self._relpaths[filename] = rel
        return rel

    # -- stacks ----------------------------------------------------------------------------
    def callsite(self, frame: FrameType | None) -> CallSite:
        """The call site of ``frame`` (see :meth:`locate`)."""
        return self.locate(frame)[0]

    def locate(self, frame: FrameType | None) -> tuple[CallSite, FrameType | None]:
        """The user frames from ``frame`` outwards, up to and including the first test frame.

        Continues into the parent greenlet when the walk runs off the top of a greenlet (async
        SQLAlchemy runs the ORM in one, and the user's ``await`` sits in the parent).

        The cache key is (code object id, instruction offset) per user frame: ``f_lasti`` is
        O(1) where ``f_lineno`` scans the line table, so line numbers are only computed the
        first time a chain is seen. The cache keeps those code objects alive, so their ids
        cannot be reused while the key exists.

        Also returns the *entry* frame: the outermost application frame of the chain (the
        function the test called), or the test frame when no application code is involved.
        Statements under one activation of the entry frame belong to one operation.
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
        return cached[0], entry

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
