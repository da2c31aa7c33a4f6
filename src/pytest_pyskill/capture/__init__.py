"""Capture modules: one per source of statements, each with ``install(recorder) -> uninstall``.

SQLAlchemy and Django are imported only when the project has them (and, for Django, only once
the project has configured it).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from contextlib import ExitStack

from ..recorder import Recorder

# The oldest versions capture is written for; older ones are left alone with one header line.
MINIMUM = {"sqlalchemy": (2, 0), "django": (4, 2)}


def unsupported(package: str) -> str | None:
    """One line when ``package`` is installed in a version capture does not support."""
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    need = MINIMUM[package]
    if tuple(parts) >= need:
        return None
    name = {"sqlalchemy": "SQLAlchemy", "django": "Django"}[package]
    return (
        f"pyskill: {name} {version} is not supported (needs {need[0]}.{need[1]}+); "
        f"its statements are not captured"
    )


class Captures:
    """Installs what is available, lazily and reversibly (``close()`` undoes all of it)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.stack = ExitStack()
        self._sqlalchemy: bool | None = None  # None: not decided yet
        self._django = False
        self._dbapi = False
        self.notes: list[str] = []  # unsupported combinations, for the header

    def _add(self, name: str, uninstall: Callable[[], None]) -> None:
        self.stack.callback(uninstall)
        self.recorder.sources.append(name)

    def install_available(self) -> None:
        """Install every capture that can be installed now; cheap when nothing changed."""
        if self._sqlalchemy is None:
            self._sqlalchemy = importlib.util.find_spec("sqlalchemy") is not None
            note = unsupported("sqlalchemy") if self._sqlalchemy else None
            if note:
                self.notes.append(note)
                self._sqlalchemy = False
            if self._sqlalchemy:
                with self.recorder.guard("installing SQLAlchemy capture"):
                    from . import sqlalchemy

                    self._add(sqlalchemy.NAME, sqlalchemy.install(self.recorder))
        if not self._django:
            from . import django

            if django.is_ready():
                self._django = True
                note = unsupported("django")
                if note:
                    self.notes.append(note)
                else:
                    with self.recorder.guard("installing Django capture"):
                        self._add(django.NAME, django.install(self.recorder))
        if not self._dbapi:
            self._dbapi = True
            from . import dbapi

            self._add(dbapi.NAME, dbapi.install(self.recorder))

    def close(self) -> None:
        self.stack.close()
        self.recorder.sources.clear()
