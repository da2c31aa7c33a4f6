"""Shared fixtures: real databases (a fresh one per test) and pytester helpers.

PostgreSQL and MariaDB must be reachable. Locally a missing server skips its tests with the
reason; under CI (``CI`` set) it fails them: CI never silently skips a database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {type(exc).__name__}: {exc}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI never skips a database)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def pg_db() -> Iterator[str]:
    """The name of a fresh, empty PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"pyskill_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(**PG, autocommit=True)  # type: ignore[arg-type]
    except Exception as exc:
        _unavailable("PostgreSQL at 127.0.0.1:5432", exc)
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'DROP DATABASE IF EXISTS "test_{name}" WITH (FORCE)')


@pytest.fixture
def mariadb_db() -> Iterator[str]:
    """The name of a fresh, empty MariaDB database, dropped afterwards."""
    import pymysql

    name = f"pyskill_{uuid.uuid4().hex[:12]}"
    try:
        admin = pymysql.connect(**MARIADB, autocommit=True)  # type: ignore[arg-type]
    except Exception as exc:
        _unavailable("MariaDB at 127.0.0.1:3306", exc)
        raise
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}`")
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"DROP DATABASE IF EXISTS `test_{name}`")
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def sa_url(request: pytest.FixtureRequest) -> str:
    """A sync SQLAlchemy URL on SQLite (a file) and on PostgreSQL (psycopg 3)."""
    if request.param == "sqlite":
        path = request.getfixturevalue("tmp_path") / "db.sqlite3"
        return f"sqlite:///{path}"
    name = request.getfixturevalue("pg_db")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(params=["aiosqlite", "asyncpg", "psycopg_async"])
def sa_async_url(request: pytest.FixtureRequest) -> str:
    if request.param == "aiosqlite":
        path = request.getfixturevalue("tmp_path") / "db.sqlite3"
        return f"sqlite+aiosqlite:///{path}"
    name = request.getfixturevalue("pg_db")
    driver = "asyncpg" if request.param == "asyncpg" else "psycopg"
    return f"postgresql+{driver}://postgres@127.0.0.1:5432/{name}"


@pytest.fixture
def run(pytester: pytest.Pytester):  # type: ignore[no-untyped-def]
    """Run pytest in a subprocess over the pytester directory (as a user would)."""

    pytester._monkeypatch.setenv("COLUMNS", "250")  # short-summary lines whole

    def _run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess(
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            *args,
        )

    return _run


SCENARIOS = Path(__file__).parent / "scenarios"
# Scenario projects are copied into pytester directories, never collected here (their own
# conftest.py would shadow this one).
collect_ignore = ["scenarios"]


def copy_scenario(pytester: pytest.Pytester, name: str, scenario: str) -> None:
    """Copy ``tests/scenarios/<name>`` into the pytester directory, ``scenario`` as test_it.py
    (the other scenario files of the project are left out)."""
    source = SCENARIOS / name
    for path in source.rglob("*.py"):
        rel = path.relative_to(source)
        if rel.name.startswith("scenario_"):
            if rel.name != scenario:
                continue
            rel = rel.with_name("test_it.py")
        target = pytester.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


DJANGO_SETTINGS = """
import os
engine = os.environ["PYSKILL_DJANGO_ENGINE"]
if engine == "django.db.backends.mysql":
    import pymysql
    pymysql.install_as_MySQLdb()
DATABASES = {"default": {
    "ENGINE": engine,
    "NAME": os.environ["PYSKILL_DJANGO_NAME"],
    "HOST": os.environ.get("PYSKILL_DJANGO_HOST", ""),
    "PORT": os.environ.get("PYSKILL_DJANGO_PORT", ""),
    "USER": os.environ.get("PYSKILL_DJANGO_USER", ""),
    "PASSWORD": "",
}}
INSTALLED_APPS = ["shop"]
USE_TZ = True
SECRET_KEY = "x"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""


def use_django_backend(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Point the inner project's Django settings (``PYSKILL_DJANGO_*``) at a fresh database."""
    if backend == "sqlite":
        monkeypatch.setenv("PYSKILL_DJANGO_ENGINE", "django.db.backends.sqlite3")
        monkeypatch.setenv("PYSKILL_DJANGO_NAME", str(request.getfixturevalue("tmp_path") / "d.db"))
        return
    db = request.getfixturevalue("pg_db" if backend == "postgresql" else "mariadb_db")
    monkeypatch.setenv("PYSKILL_DJANGO_NAME", db)
    monkeypatch.setenv("PYSKILL_DJANGO_HOST", "127.0.0.1")
    if backend == "postgresql":
        monkeypatch.setenv("PYSKILL_DJANGO_ENGINE", "django.db.backends.postgresql")
        monkeypatch.setenv("PYSKILL_DJANGO_PORT", "5432")
        monkeypatch.setenv("PYSKILL_DJANGO_USER", "postgres")
    else:
        monkeypatch.setenv("PYSKILL_DJANGO_ENGINE", "django.db.backends.mysql")
        monkeypatch.setenv("PYSKILL_DJANGO_PORT", "3306")
        monkeypatch.setenv("PYSKILL_DJANGO_USER", "root")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def django_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A Django project's database on each backend; the backend's name."""
    use_django_backend(request, monkeypatch, request.param)
    return str(request.param)
