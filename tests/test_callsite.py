"""Frame classification and call-site attribution."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
    assert c.relpath("/elsewhere/x.py") == "/elsewhere/x.py"


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
