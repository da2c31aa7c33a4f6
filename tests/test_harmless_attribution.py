"""Whose statement is it, and what the plugin keeps alive (issue 11 items 7, 8, 10 and 15).

Each inner project passes without the plugin; with it, only the test's own statements count,
nothing of the user's outlives its scope, and findings do not depend on how pytest was started
or where the checkout lives.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import DJANGO_SETTINGS, use_django_backend

# -- item 7: the test harness's statements are not the test's ---------------------------------

DJANGO_MODELS = """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)
"""

DJANGO_TESTS = """
import pytest
from django.test import TestCase, TransactionTestCase
from shop.models import Author


class TestInTestCase(TestCase):
    @pytest.mark.max_queries(1)
    def test_one_create(self):
        Author.objects.create(name="a")

    @pytest.mark.max_queries(1)
    def test_two_queries_still_fail(self):
        Author.objects.create(name="a")
        assert Author.objects.count() == 1


class TestInTransactionTestCase(TransactionTestCase):
    @pytest.mark.max_queries(1)
    def test_one_create(self):
        Author.objects.create(name="a")

    @pytest.mark.max_queries(1)
    def test_two_queries_still_fail(self):
        Author.objects.create(name="a")
        assert Author.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.max_queries(1)
def test_function_one_create():
    Author.objects.create(name="a")


@pytest.mark.django_db(transaction=True)
@pytest.mark.max_queries(1)
def test_function_transactional_one_create():
    Author.objects.create(name="a")


def test_counted(pyskill):
    pass
"""


# (MariaDB: Django's connection set-up statement on a fresh connection is sent from the test's
# own call and still counts, for TransactionTestCase and transactional function tests alike.)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_django_testcase_harness_is_not_counted(
    pytester: pytest.Pytester,
    run: Any,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
) -> None:
    use_django_backend(request, monkeypatch, backend)
    pytester.makepyfile(settings=DJANGO_SETTINGS, test_it=DJANGO_TESTS)
    pytester.mkpydir("shop")
    pytester.makepyfile(**{"shop/models": DJANGO_MODELS})
    result = run("-v", "--ds=settings")
    out = result.stdout.str()
    for name in (
        "TestInTestCase::test_one_create PASSED",
        "TestInTransactionTestCase::test_one_create PASSED",
        "test_function_one_create PASSED",
        "test_function_transactional_one_create PASSED",
        "TestInTestCase::test_two_queries_still_fail FAILED",
        "TestInTransactionTestCase::test_two_queries_still_fail FAILED",
    ):
        assert name in out, out
    result.assert_outcomes(passed=5, failed=2)
    assert "max-queries: 2 statements, budget is 1" in out


# -- item 8: threads of earlier tests ------------------------------------------------------------

THREADS = """
import asyncio
import queue
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

DB = {db!r}
stop = threading.Event()
pool = ThreadPoolExecutor(max_workers=1)


def query(conn):
    conn.execute("SELECT 1").fetchall()


def poll():
    conn = sqlite3.connect(DB, check_same_thread=False)
    while not stop.is_set():
        query(conn)
        time.sleep(0.001)


@pytest.fixture(scope="session")
def server():
    requests = queue.Queue()

    def serve():
        conn = sqlite3.connect(DB, check_same_thread=False)
        while True:
            done = requests.get()
            if done is None:
                return
            query(conn)
            done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def ask():
        done = threading.Event()
        requests.put(done)
        done.wait()

    yield ask
    requests.put(None)
    thread.join()


def test_a_starts_a_poller():
    threading.Thread(target=poll, daemon=True).start()
    pool.submit(lambda: None).result()  # the pool's worker thread starts in this test
    time.sleep(0.05)


@pytest.mark.max_queries(1)
def test_b_one_query():
    conn = sqlite3.connect(DB)
    time.sleep(0.05)  # the poller keeps querying meanwhile
    query(conn)


@pytest.mark.max_queries(1)
def test_c_own_thread_counts():
    def twice():
        conn = sqlite3.connect(DB)
        query(conn)
        query(conn)

    thread = threading.Thread(target=twice)
    thread.start()
    thread.join()


@pytest.mark.max_queries(1)
def test_d_session_server_counts(server):
    server()
    server()


@pytest.mark.max_queries(1)
def test_e_to_thread_on_an_earlier_tests_thread_counts():
    def twice():
        conn = sqlite3.connect(DB)
        query(conn)
        query(conn)

    async def main():
        asyncio.get_running_loop().set_default_executor(pool)
        await asyncio.to_thread(twice)

    asyncio.run(main())
"""


def _thread_outcomes(result: pytest.RunResult) -> dict[str, str]:
    outcomes = {}
    for line in result.stdout.lines:
        for word in ("PASSED", "FAILED"):
            if "::test_" in line and f" {word}" in line:
                outcomes[line.split("::")[1].split()[0]] = word
    return outcomes


@pytest.mark.parametrize("order", ["a-first", "b-first"])
def test_threads_of_earlier_tests_do_not_count(
    pytester: pytest.Pytester, run: Any, tmp_path: Path, order: str
) -> None:
    db = str(tmp_path / "poll.db")
    pytester.makepyfile(test_it=THREADS.format(db=db))
    names = ["a_starts_a_poller", "b_one_query", "c_own_thread_counts"]
    names += ["d_session_server_counts", "e_to_thread_on_an_earlier_tests_thread_counts"]
    if order == "b-first":
        names = names[1:2] + names[:1] + names[2:]
    result = run("-v", *(f"test_it.py::test_{n}" for n in names))
    outcomes = _thread_outcomes(result)
    assert outcomes == {
        "test_a_starts_a_poller": "PASSED",
        "test_b_one_query": "PASSED",
        "test_c_own_thread_counts": "FAILED",
        "test_d_session_server_counts": "FAILED",
        "test_e_to_thread_on_an_earlier_tests_thread_counts": "FAILED",
    }, result.stdout.str()
    assert result.stdout.str().count(" - max-queries: 2 statements, budget is 1") == 3


def test_threads_of_earlier_tests_under_randomly(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytest.importorskip("randomly", reason="pytest-randomly is not installed")
    db = str(tmp_path / "poll.db")
    pytester.makepyfile(test_it=THREADS.format(db=db))
    for seed in ("1", "2", "3"):
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-p", "randomly", "-p", f"randomly_seed={seed}", "-v",
            "test_it.py::test_a_starts_a_poller", "test_it.py::test_b_one_query",
        )  # fmt: skip
        result.assert_outcomes(passed=2)


# -- item 10: nothing of the user's is kept alive ------------------------------------------------

LIFETIME_APP = """
import sqlite3

class Thing:
    pass

def work(conn, refs):
    thing = Thing()  # only this local refers to it
    refs.append(__import__("weakref").ref(thing))
    conn.execute("SELECT 1").fetchall()
"""

LIFETIME_TESTS = """
import gc
import sqlite3
import weakref

import app


def test_local_of_an_application_function_dies_on_return():
    conn = sqlite3.connect(":memory:")
    refs = []
    app.work(conn, refs)
    assert refs[0]() is None  # without gc: reference counting frees it at the return
    gc.collect()
    assert refs[0]() is None


def test_local_of_the_test_dies_when_deleted():
    conn = sqlite3.connect(":memory:")
    thing = app.Thing()
    ref = weakref.ref(thing)
    conn.execute("SELECT 1").fetchall()
    del thing
    assert ref() is None
"""

LIFETIME_SQLALCHEMY = """
import gc
import weakref
import warnings

from sqlalchemy import String, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "item"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(10))


def rename(session, refs):
    item = session.get(Item, 1)
    refs.append(weakref.ref(item))
    item.name = "b"
    session.flush()


def test_orm_instance_leaves_the_identity_map():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Item(id=1, name="a"))
        session.commit()
        refs = []
        rename(session, refs)
        gc.collect()
        assert refs[0]() is None
        assert len(session.identity_map) == 0
"""


def test_nothing_of_the_user_is_kept_alive(pytester: pytest.Pytester, run: Any) -> None:
    pytester.makepyfile(app=LIFETIME_APP, test_it=LIFETIME_TESTS, test_sa=LIFETIME_SQLALCHEMY)
    for args in ((), ("-p", "no:pytest_pyskill")):
        result = run("-W", "error::sqlalchemy.exc.SAWarning", *args)
        result.assert_outcomes(passed=3)


# -- item 15: the same findings however pytest is started, wherever the checkout lives ---------

LAUNCH_PLUGIN = """
import sqlite3
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    conn = sqlite3.connect(":memory:")
    conn.execute("SELECT 1").fetchall()  # a plugin's own statement, from outside the project
    return (yield)
"""

LAUNCH_APP = """
def names(conn, ids):
    return [conn.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone() for i in ids]
"""

LAUNCH_TESTS = """
import sqlite3
import pytest
import app

@pytest.mark.max_queries(6)
def test_lookup_per_row():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO item (name) VALUES (?)", [("a",), ("b",), ("c",), ("d",)])
    app.names(conn, [1, 2, 3, 4])
"""


def _findings(path: Path) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = json.loads(path.read_text())["findings"]
    text = json.dumps(findings)
    assert "/tmp" not in text and str(Path.home()) not in text and '"/' not in text, text
    for finding in findings:
        _strip_durations(finding)
    return findings


def _strip_durations(value: Any) -> None:
    if isinstance(value, dict):
        for key in [k for k in value if "duration" in k or "ms" in k.split("_")]:
            value.pop(key)
        for item in value.values():
            _strip_durations(item)
    elif isinstance(value, list):
        for item in value:
            _strip_durations(item)


def test_same_findings_however_pytest_is_started(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plugins = tmp_path_factory.mktemp("plugins")
    (plugins / "harness_plugin.py").write_text(LAUNCH_PLUGIN)
    pytester.makepyfile(app=LAUNCH_APP, test_it=LAUNCH_TESTS)
    pytester._monkeypatch.setenv("PYTHONPATH", str(plugins))
    common = ("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "harness_plugin")
    script = Path(sys.executable).parent / "pytest"
    console = pytester.run(str(script), *common, "--pyskill-json=console.json")
    module = pytester.run(sys.executable, "-m", "pytest", *common, "--pyskill-json=module.json")
    console.assert_outcomes(passed=1)
    module.assert_outcomes(passed=1)
    found = _findings(pytester.path / "console.json")
    assert found == _findings(pytester.path / "module.json")
    assert [f["rule"] for f in found] == ["n-plus-one"], found

    # The same checkout in another directory: identical findings.
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "checkout"
    shutil.copytree(pytester.path, elsewhere)
    moved = pytester.run(
        sys.executable, "-m", "pytest", "--rootdir", str(elsewhere), str(elsewhere), *common,
        f"--pyskill-json={elsewhere / 'moved.json'}",
    )  # fmt: skip
    moved.assert_outcomes(passed=1)
    assert _findings(elsewhere / "moved.json") == found
