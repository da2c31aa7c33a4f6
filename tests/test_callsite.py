"""Frame classification and call-site attribution."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_pyskill.callsite import APP, LIB, TEST, Classifier


def test_classification(tmp_path: Path) -> None:
    c = Classifier(str(tmp_path))
    assert c.kind_of(pytest.__file__) == LIB
    assert c.kind_of(os.__file__) == LIB
    assert c.kind_of("<frozen importlib._bootstrap>") == LIB
    assert c.kind_of(str(tmp_path / "shop" / "services.py")) == APP
    assert c.kind_of(str(tmp_path / "test_shop.py")) == TEST
    assert c.kind_of(str(tmp_path / "shop" / "shop_test.py")) == TEST
    assert c.kind_of(str(tmp_path / "conftest.py")) == TEST
    assert c.kind_of(str(tmp_path / "tests" / "factories.py")) == TEST
    # The plugin itself is library code.
    import pytest_pyskill.recorder as rec

    assert c.kind_of(rec.__file__) == LIB


def test_custom_test_patterns(tmp_path: Path) -> None:
    c = Classifier(str(tmp_path), test_patterns=("check_*.py",))
    assert c.kind_of(str(tmp_path / "check_a.py")) == TEST
    assert c.kind_of(str(tmp_path / "test_a.py")) == APP


def test_relpath_is_relative_to_rootdir_with_forward_slashes(tmp_path: Path) -> None:
    c = Classifier(str(tmp_path))
    assert c.relpath(str(tmp_path / "a" / "b.py")) == "a/b.py"
    # Never an absolute path (it would go into baseline keys and SARIF): a file outside the
    # rootdir is named by its base name (and is library code, so it is rarely reported at all).
    assert c.relpath("/elsewhere/x.py") == "x.py"


def test_callsite_walks_app_frames_up_to_the_test(tmp_path: Path) -> None:
    # Write an "application" module in a folder the classifier treats as the rootdir.
    (tmp_path / "app_mod.py").write_text(
        "import sys\n"
        "def inner(c):\n"
        "    return c.callsite(sys._getframe())\n"
        "def outer(c):\n"
        "    return inner(c)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import app_mod  # type: ignore[import-not-found]

        # Root so that both the app module and this test file are user code.
        c = Classifier("/")
        site = app_mod.outer(c)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("app_mod", None)
    kinds = [f.kind for f in site.frames]
    functions = [f.function for f in site.frames]
    assert functions[:2] == ["inner", "outer"]
    assert kinds[:2] == ["app", "app"]
    assert site.frames[-1].kind == "test"
    assert site.frames[-1].function == "test_callsite_walks_app_frames_up_to_the_test"
    assert site.primary is not None and site.primary.line == 3
    # The same place gives the same (interned) call site.
    assert c.callsite(sys._getframe()) is c.callsite(sys._getframe())


def test_files_outside_the_rootdir_are_library(tmp_path: Path) -> None:
    c = Classifier(str(tmp_path / "project"))
    assert c.kind_of(str(tmp_path / "elsewhere" / "shop" / "services.py")) == LIB
    assert c.kind_of(str(tmp_path / "project-other" / "services.py")) == LIB  # a name prefix
    assert c.kind_of(str(tmp_path / "project" / "shop" / "services.py")) == APP


def test_interpreter_scripts_are_library(tmp_path: Path) -> None:
    """The ``pytest`` console script (``.venv/bin/pytest``) is not application code, even with
    the virtualenv inside the project: how pytest is started must not change call sites."""
    import sysconfig

    scripts = sysconfig.get_paths()["scripts"]
    root = os.path.dirname(sys.prefix)  # the project holding the virtualenv
    c = Classifier(root)
    assert c.kind_of(os.path.join(scripts, "pytest")) == LIB
    assert c.kind_of(os.path.join(os.path.dirname(sys.executable), "django-admin")) == LIB


def test_doctests_are_test_code(tmp_path: Path) -> None:
    c = Classifier(str(tmp_path))
    assert c.kind_of("<doctest shop.services.total[0]>") == TEST
    assert c.relpath("<doctest shop.services.total[0]>") == "<doctest shop.services.total[0]>"
    assert c.kind_of("<string>") == LIB


OPS = """
import sys
def one(c):
    return c.locate(sys._getframe())[1]
def loop_inside(c):
    return [c.locate(sys._getframe())[1] for _ in range(3)]
def keeps(c, holder):
    thing = holder()
    return c.locate(sys._getframe())[1], thing
"""


def _app(tmp_path: Path, name: str) -> object:
    import importlib

    (tmp_path / f"{name}.py").write_text(OPS)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_operations_are_activations_and_hold_no_frame(tmp_path: Path) -> None:
    import gc
    import weakref

    app: Any = _app(tmp_path, "ops_app")
    c = Classifier("/")
    # Separate calls from a loop are separate operations, although their frames share an
    # address; one call's statements are one operation.
    assert len({app.one(c) for _ in range(5)}) == 5
    assert len(set(app.loop_inside(c))) == 1

    class Thing:
        pass

    refs = []

    def make() -> Thing:
        thing = Thing()
        refs.append(weakref.ref(thing))
        return thing

    op, thing = app.keeps(c, make)
    del thing
    gc.collect()
    assert refs[0]() is None, "the classifier kept the application frame's locals alive"
    assert op > 0


def test_operation_marker_hands_trace_events_on(tmp_path: Path) -> None:
    """A frame that already had a trace function keeps getting it called (debuggers)."""
    from pytest_pyskill.callsite import _Operation

    seen: list[str] = []

    def tracer(frame: Any, event: str, arg: object) -> Any:
        seen.append(event)
        return tracer

    frame = sys._getframe()
    frame.f_trace = tracer
    try:
        c = Classifier("/")
        op = c.operation(frame)
        mark = frame.f_trace
        assert isinstance(mark, _Operation) and mark.number == op
        assert c.operation(frame) == op
        assert mark(frame, "line", None) is mark
        assert seen == ["line"]
    finally:
        frame.f_trace = None
