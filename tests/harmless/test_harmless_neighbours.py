"""Never harmful next to the plugins and runners people combine with pytest.

Each case runs one small project twice, without and with pytest-pyskill (warn mode), with a
neighbour active for real, and asserts pytest decided the same (see ``compare.py``). Every
project runs real SQL (SQLAlchemy, sqlite3, Django) and event loops while the neighbour is on.
"""

from __future__ import annotations

import sys

import pytest
from compare import add_marker_fallback, compare, files, run
from projects import APP, EXPECT, TESTS

from conftest import DJANGO_SETTINGS, use_django_backend


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    files(pytester, app=APP, test_app=TESTS)
    return pytester


def test_plain_run(project: pytest.Pytester) -> None:
    plugged = compare(project, expect=EXPECT)
    # The project gives the plugin something to report; findings are warnings, nothing else.
    assert {f["rule"] for f in plugged.findings} >= {
        "n-plus-one",
        "unbatched-insert",
        "blocking-call",
    }
    assert plugged.pyskill_warnings


def test_xdist(project: pytest.Pytester) -> None:
    compare(project, "-n", "2", expect=EXPECT)


def test_randomly(project: pytest.Pytester) -> None:
    """pytest-randomly reorders tests and reseeds ``random`` before each one (same seed in both
    runs, so both see the same order)."""
    plugged = compare(project, randomly=True, expect=EXPECT)
    plugged.result.stdout.fnmatch_lines(["Using --randomly-seed=*"])


RERUNS = """
import pytest

import app

ATTEMPTS = {"flaky": 0, "marked": 0}


def test_flaky():
    ATTEMPTS["flaky"] += 1
    assert app.raw_inserts(4) == 4
    assert ATTEMPTS["flaky"] >= 2, "first attempt fails"


@pytest.mark.flaky(reruns=2)
def test_marked_flaky():
    ATTEMPTS["marked"] += 1
    assert app.raw_inserts(4) == 4
    assert ATTEMPTS["marked"] >= 3, "two attempts fail"


def test_always_fails():
    app.raw_inserts(4)
    assert False, "always"


def test_ok():
    assert app.raw_inserts(4) == 4
"""


@pytest.fixture
def reruns_project(pytester: pytest.Pytester) -> pytest.Pytester:
    files(pytester, app=APP, test_reruns=RERUNS)
    return pytester


def test_rerunfailures(reruns_project: pytest.Pytester) -> None:
    plugged = compare(reruns_project, "--reruns", "1", expect={"passed": 3, "failed": 1})
    assert plugged.reports["test_reruns.py::test_marked_flaky"]["call"] == [
        "rerun",
        "rerun",
        "passed",
    ]


def test_rerunfailures_counts_each_test_once(reruns_project: pytest.Pytester) -> None:
    plugged = run(reruns_project, "--reruns", "1", plugin=True)
    assert plugged.pyskill is not None
    assert plugged.pyskill["summary"]["tests"] == 4
    # One unbatched-insert finding per test, however many attempts it took.
    per_test = [f["test"] for f in plugged.findings]
    assert sorted(per_test) == sorted(set(per_test)), per_test


THREAD_CHECK = '''
import threading

import pytest


@pytest.fixture(autouse=True)
def no_new_threads():
    """A hand-written thread-leak check, as many suites have one."""
    before = set(threading.enumerate())
    yield
    leaked = [t.name for t in set(threading.enumerate()) - before]
    assert not leaked, f"threads leaked: {leaked}"
'''


def test_threadleak_and_thread_enumerate(project: pytest.Pytester) -> None:
    project.makeconftest(THREAD_CHECK)
    compare(project, "--threadleak", expect=EXPECT)


FORK_AFTER_LOOP = """
import asyncio
import os
import warnings

import app


def test_a_loop_runs():
    assert app.raw_inserts(3) == 3
    assert asyncio.run(app.blocking_handler()) == "done"


def test_b_later_fork_is_single_threaded():
    # Python 3.12+ warns (DeprecationWarning) when forking a process with other threads.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    assert [str(w.message) for w in caught] == []
"""


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_fork_after_a_test_with_an_event_loop(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_fork=FORK_AFTER_LOOP)
    # Without pytest-rerunfailures' server thread: the process must be single-threaded.
    compare(pytester, "-p", "no:rerunfailures", expect={"passed": 2})


def test_pytest_cov(project: pytest.Pytester) -> None:
    """Coverage traces every line (sys.settrace / sys.monitoring) while the plugin captures;
    the application's coverage must be the same."""
    args = ("--cov=app", "--cov-branch", "--cov-report=term-missing")
    plugged = compare(project, *args, expect=EXPECT)
    bare = run(project, "-p", "no:pyskill", *args, plugin=False)
    line = [x for x in bare.result.outlines if x.startswith("app.py")]
    assert line, bare.result.outlines
    assert [x for x in plugged.result.outlines if x.startswith("app.py")] == line


TIME_TESTS = """
import asyncio
import datetime
import time

import pytest
import time_machine
from freezegun import freeze_time

import app

FROZEN = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def session():
    eng = app.engine()
    with app.Session(eng) as s:
        app.seed(s, 3)
        yield s


@freeze_time("2020-01-01")
def test_freezegun_sql(session):
    assert app.author_names(session) == ["a0", "a1", "a2"]
    assert app.raw_inserts(4) == 4
    assert time.time() == FROZEN.timestamp()
    assert datetime.datetime.now() == datetime.datetime(2020, 1, 1)


def test_freezegun_loop_real_asyncio():
    with freeze_time("2020-01-01", real_asyncio=True):
        assert asyncio.run(app.blocking_handler()) == "done"
        assert time.time() == FROZEN.timestamp()


def test_freezegun_loop_frozen_monotonic():
    with freeze_time("2020-01-01"):
        assert asyncio.run(app.blocking_handler()) == "done"
        assert time.monotonic() == time.monotonic()


def test_freezegun_tick(session):
    with freeze_time("2020-01-01", tick=True):
        app.author_names(session)
        assert time.time() > FROZEN.timestamp()


def test_freezegun_fails_precisely():
    with freeze_time("2020-01-01"):
        app.raw_inserts(3)
        assert datetime.date.today() == datetime.date(2021, 1, 1)


def test_time_machine_sql(time_machine, session):
    time_machine.move_to(FROZEN, tick=False)
    assert app.author_names(session) == ["a0", "a1", "a2"]
    assert time.time() == FROZEN.timestamp()


def test_time_machine_loop():
    with time_machine.travel(FROZEN, tick=False):
        assert asyncio.run(app.blocking_handler()) == "done"
        assert time.time() == FROZEN.timestamp()


@pytest.mark.asyncio
async def test_time_machine_async(session):
    with time_machine.travel(FROZEN):
        await asyncio.sleep(0.001)
        assert await app.blocking_handler() == "done"
        assert app.raw_inserts(3) == 3
"""


def test_freezegun_and_time_machine(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_time=TIME_TESTS)
    compare(pytester, expect={"passed": 7, "failed": 1})


FAKEFS_TESTS = """
import asyncio
import os
import shutil

import app


def test_fake_files(fs):
    fs.create_file("/data/a.txt", contents="hello")
    assert os.listdir("/data") == ["a.txt"]
    assert os.stat("/data/a.txt").st_size == 5
    with open("/data/a.txt") as fh:
        assert fh.read() == "hello"
    os.mkdir("/data/sub")
    shutil.copy("/data/a.txt", "/data/sub/b.txt")
    os.remove("/data/a.txt")
    os.rename("/data/sub/b.txt", "/data/c.txt")
    assert sorted(os.listdir("/data")) == ["c.txt", "sub"]
    assert app.raw_inserts(3) == 3


def test_fake_files_in_a_loop(fs):
    async def main():
        fs.create_file("/x.txt", contents="1")
        with open("/x.txt") as fh:
            return fh.read()

    assert asyncio.run(main()) == "1"


def test_fake_missing_file_fails_precisely(fs):
    app.raw_inserts(3)
    with open("/nowhere.txt") as fh:
        fh.read()


def test_real_files_afterwards(tmp_path):
    path = tmp_path / "real.txt"
    path.write_text("abc")
    assert os.stat(path).st_size == 3
    assert not os.path.exists("/x.txt")
"""


def test_pyfakefs(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_fakefs=FAKEFS_TESTS)
    compare(pytester, expect={"passed": 3, "failed": 1})


MULTIPROCESSING_TESTS = """
import asyncio
import multiprocessing
import os

import app


def test_fork_pool():
    app.raw_inserts(3)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(app.square, range(4)) == [0, 1, 4, 9]
        assert pool.map(app.raw_inserts, [3, 4]) == [3, 4]


def test_spawn_pool(tmp_path):
    asyncio.run(app.blocking_handler())
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.map(app.raw_inserts, [2, 3]) == [2, 3]
        assert pool.map(os.path.getsize, [str(tmp_path)]) == [os.path.getsize(tmp_path)]


def test_fork_process_after_sql_and_loop():
    app.raw_inserts(3)
    assert asyncio.run(app.blocking_handler()) == "done"
    proc = multiprocessing.get_context("fork").Process(target=app.raw_inserts, args=(5,))
    proc.start()
    proc.join(60)
    code = proc.exitcode
    assert code == 0


def test_child_failure_is_seen():
    proc = multiprocessing.get_context("fork").Process(target=os._exit, args=(3,))
    proc.start()
    proc.join(60)
    code = proc.exitcode
    assert code == 0, "the child exited with 3"
"""


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_multiprocessing_fork_and_spawn(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_mp=MULTIPROCESSING_TESTS)
    # pytest-rerunfailures (installed for another case) runs a server thread in every pytest
    # process: on Python 3.12+ each fork would warn that the process is multi-threaded.
    compare(
        pytester,
        "-p",
        "no:faulthandler",
        "-p",
        "no:rerunfailures",
        expect={"passed": 3, "failed": 1},
    )


def test_import_mode_importlib(pytester: pytest.Pytester) -> None:
    """Two test modules with the same basename (no ``__init__.py``) and a conftest fixture."""
    conftest = """
import pytest

import app


@pytest.fixture
def session():
    eng = app.engine()
    with app.Session(eng) as s:
        app.seed(s, 3)
        yield s
"""
    same = """
import asyncio

import app


def test_orm(session):
    assert app.author_names(session) == ["a0", "a1", "a2"]


def test_loop():
    assert asyncio.run(app.blocking_handler()) == "done"


def test_fails(session):
    assert app.author_names(session) == []
"""
    files(pytester, app=APP, **{"tests.conftest": conftest, "tests.a.test_same": same})
    files(pytester, **{"tests.b.test_same": same})
    compare(pytester, "--import-mode=importlib", "tests", expect={"passed": 4, "failed": 2})


DOCTESTS = '''
"""Doctests that touch a database.

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> _ = conn.execute("CREATE TABLE t (a INTEGER)")
>>> for i in range(4):
...     _ = conn.execute("INSERT INTO t (a) VALUES (?)", (i,))
>>> conn.execute("SELECT count(*) FROM t").fetchone()
(4,)
"""


def orm():
    """
    >>> import app
    >>> eng = app.engine()
    >>> with app.Session(eng) as s:
    ...     app.seed(s, 2)
    ...     app.author_names(s)
    ['a0', 'a1']
    """


def core():
    """
    >>> from sqlalchemy import create_engine, text
    >>> eng = create_engine("sqlite://")
    >>> with eng.connect() as c:
    ...     [c.execute(text("SELECT :x"), {"x": i}).scalar() for i in range(3)]
    [0, 1, 2]
    """


def in_a_loop():
    """
    >>> import asyncio, app
    >>> asyncio.run(app.blocking_handler())
    'done'
    """


def wrong():
    """
    >>> import sqlite3
    >>> sqlite3.connect(":memory:").execute("SELECT 1").fetchone()
    (2,)
    """
'''


def test_doctests_with_a_database(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, dbdoc=DOCTESTS, test_app=TESTS)
    compare(
        pytester,
        "--doctest-modules",
        expect={**EXPECT, "passed": EXPECT["passed"] + 4, "failed": EXPECT["failed"] + 1},
    )


UNITTEST_TESTS = """
import asyncio
import sqlite3
import unittest

import app


class SyncTests(unittest.TestCase):
    def setUp(self):
        self.engine = app.engine()
        self.session = app.Session(self.engine)
        app.seed(self.session, 3)

    def tearDown(self):
        self.session.close()
        self.engine.dispose()

    def test_orm(self):
        self.assertEqual(app.author_names(self.session), ["a0", "a1", "a2"])

    def test_subtests(self):
        for n in (1, 2, 3):
            with self.subTest(n=n):
                self.assertEqual(app.raw_inserts(n), 99 if n == 2 else n)

    @unittest.skip("not today")
    def test_skipped(self):
        app.raw_inserts(1)

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.assertEqual(app.raw_inserts(3), 4)

    def test_fails(self):
        self.assertEqual(len(app.author_names(self.session)), 4)


class AsyncTests(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.conn = sqlite3.connect(":memory:")
        self.conn.execute("CREATE TABLE t (a INTEGER)")

    async def asyncTearDown(self):
        self.conn.close()

    async def test_loop(self):
        self.assertEqual(await app.blocking_handler(), "done")

    async def test_sql_in_the_loop(self):
        for i in range(4):
            self.conn.execute("INSERT INTO t (a) VALUES (?)", (i,))
        await asyncio.sleep(0)
        self.assertEqual(self.conn.execute("SELECT count(*) FROM t").fetchone(), (4,))

    async def test_fails(self):
        self.assertEqual(await app.blocking_handler(), "nope")
"""


def test_unittest_testcase_and_isolated_asyncio(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_unit=UNITTEST_TESTS)
    compare(pytester, expect={"failed": 3, "skipped": 1, "xfailed": 1})


DJANGO_MODELS = """
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
"""

DJANGO_URLS = """
from django.http import JsonResponse
from django.urls import path

from shop.models import Book


def titles(request):
    return JsonResponse({"titles": [(b.title, b.author.name) for b in Book.objects.order_by("id")]})


urlpatterns = [path("titles/", titles)]
"""

DJANGO_TESTS = """
import json
import urllib.request

import pytest
from django.test import LiveServerTestCase, TestCase, TransactionTestCase

from shop.models import Author, Book


def seed(n):
    for i in range(n):
        Book.objects.create(title=f"t{i}", author=Author.objects.create(name=f"a{i}"))


def pairs():
    return [(b.title, b.author.name) for b in Book.objects.order_by("id")]


class ShopTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed(2)

    def test_pairs(self):
        self.assertEqual(pairs(), [("t0", "a0"), ("t1", "a1")])

    def test_create(self):
        Author.objects.create(name="x")
        self.assertEqual(Author.objects.count(), 3)

    def test_fails(self):
        self.assertEqual(Book.objects.count(), 5)


class ShopTransactionTestCase(TransactionTestCase):
    def test_seed_and_read(self):
        seed(3)
        self.assertEqual(len(pairs()), 3)

    def test_empty_again(self):
        self.assertEqual(Book.objects.count(), 0)


class ShopLiveServer(LiveServerTestCase):
    def test_view(self):
        seed(2)
        with urllib.request.urlopen(f"{self.live_server_url}/titles/") as response:
            body = json.loads(response.read())
        self.assertEqual(body["titles"], [["t0", "a0"], ["t1", "a1"]])


@pytest.mark.django_db
def test_function(django_assert_num_queries):
    seed(1)
    with django_assert_num_queries(1):
        Book.objects.count()


@pytest.mark.django_db
async def test_async_orm():
    assert await Book.objects.acount() == 0
"""


@pytest.fixture
def django_project(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    use_django_backend(request, monkeypatch, "sqlite")
    settings = (
        DJANGO_SETTINGS
        + 'ROOT_URLCONF = "shop.urls"\nALLOWED_HOSTS = ["*"]\nSTATIC_URL = "/static/"\n'
    )
    files(
        pytester,
        settings=settings,
        **{"shop.__init__": "", "shop.models": DJANGO_MODELS, "shop.urls": DJANGO_URLS},
    )
    return pytester


def test_django_test_cases(django_project: pytest.Pytester) -> None:
    files(django_project, test_shop=DJANGO_TESTS)
    django_project.makeini("[pytest]\nasyncio_mode = auto\n")
    compare(django_project, "--ds=settings", expect={"passed": 7, "failed": 1})


DJANGO_BUDGETS = """
import pytest
from django.test import TestCase, TransactionTestCase

from shop.models import Author


class BudgetTestCase(TestCase):
    @pytest.mark.max_queries(1)
    def test_one_create(self):
        Author.objects.create(name="x")


class BudgetTransactionTestCase(TransactionTestCase):
    @pytest.mark.max_queries(1)
    def test_one_create(self):
        Author.objects.create(name="x")


@pytest.mark.django_db
@pytest.mark.max_queries(1)
def test_one_create_function():
    Author.objects.create(name="x")
"""


def test_django_budgets_count_the_test_only(django_project: pytest.Pytester) -> None:
    add_marker_fallback(django_project)
    files(django_project, test_budget=DJANGO_BUDGETS)
    compare(django_project, "--ds=settings", "--strict-markers", expect={"passed": 3})
