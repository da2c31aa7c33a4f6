"""The compatibility matrix, run by nox (installed in .venv by ./scripts/bootstrap).

    .venv/bin/nox -s ci          # the reduced matrix CI runs (three combinations, see CI below)
    .venv/bin/nox -s full        # every combination (about 40; an hour or more)
    .venv/bin/nox -s full -- -k sqlalchemy   # extra arguments go to pytest

Each combination gets its own virtualenv with this project's test extras, then pins Django,
SQLAlchemy and pytest, and runs the whole test suite (real SQLite, PostgreSQL and MariaDB).
Interpreters are found on PATH as ``python3.X``; ``./scripts/matrix`` puts pyenv's installed
versions there.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
DJANGO = {"4.2": "django>=4.2,<5.0", "5.2": "django>=5.2,<6.0", "6": "django>=6.0,<7.0"}
SQLALCHEMY = {"2.0": "sqlalchemy[asyncio]>=2.0,<2.1", "2.1": "sqlalchemy[asyncio]>=2.1,<2.2"}
PYTEST = {"8": "pytest>=8.2,<9", "9": "pytest>=9,<10"}
EXTRAS = ["pytest-randomly", "factory_boy"]  # third-party plugins users combine it with

# (python, django, sqlalchemy, pytest, extras): the oldest supported stack, the newest, and a
# middle one with pytest-randomly and factory_boy; the default .venv run (3.11, Django 5.2,
# SQLAlchemy 2.1, pytest 9) is the fourth.
CI = [
    ("3.10", "4.2", "2.0", "8", False),
    ("3.12", "5.2", "2.1", "9", True),
    ("3.13", "6", "2.1", "9", False),
]


def _supported(python: str, django: str) -> bool:
    # Django 6 needs Python 3.12+.
    return django != "6" or python in ("3.12", "3.13")


def _run(session: nox.Session, django: str, sqlalchemy: str, pytest: str, extras: bool) -> None:
    session.install("-e", ".[test]")
    pins = [DJANGO[django], SQLALCHEMY[sqlalchemy], PYTEST[pytest]]
    session.install(*pins, *(EXTRAS if extras else []))
    session.run("python", "-m", "pip", "freeze", "--exclude-editable", silent=False)
    args = session.posargs or []
    # pytest-randomly is in the test extras (tests/harmless runs it in inner projects); the
    # whole suite runs in a random order (seed printed in the header) only in the extras rows.
    order = [] if extras else ["-p", "no:randomly"]
    session.run("python", "-m", "pytest", "-n", "2", "-q", *order, *args, env={"CI": "true"})


@nox.session(name="ci")
@nox.parametrize(
    "python,django,sqlalchemy,pytest,extras",
    [nox.param(*combo, id=f"py{combo[0]}-dj{combo[1]}-sa{combo[2]}-pt{combo[3]}") for combo in CI],
)
def ci(session: nox.Session, django: str, sqlalchemy: str, pytest: str, extras: bool) -> None:
    """The reduced matrix CI runs."""
    _run(session, django, sqlalchemy, pytest, extras)


@nox.session(name="full")
@nox.parametrize(
    "python,django,sqlalchemy,pytest",
    [
        nox.param(py, dj, sa, pt, id=f"py{py}-dj{dj}-sa{sa}-pt{pt}")
        for py in PYTHONS
        for dj in DJANGO
        for sa in SQLALCHEMY
        for pt in PYTEST
        if _supported(py, dj)
    ],
)
def full(session: nox.Session, django: str, sqlalchemy: str, pytest: str) -> None:
    """Every supported combination (pytest-randomly and factory_boy on Django 5.2 rows)."""
    _run(session, django, sqlalchemy, pytest, django == "5.2")
