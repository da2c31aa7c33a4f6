"""Django capture on real databases: SQLite, PostgreSQL (psycopg 3) and MariaDB (PyMySQL).

The inner project is a small Django app run by pytest-django; inner tests assert on
``pyskill.queries``; the outer test asserts every inner test passed.
"""

from __future__ import annotations

import pytest

from conftest import DJANGO_SETTINGS

MODELS = """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Book(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
"""

SERVICES = """
from django.db import transaction
from shop.models import Author, Book

def seed(n):
    for i in range(n):
        Book.objects.create(title=f"t{i}", author=Author.objects.create(name=f"a{i}"))

def list_pairs():
    return [(b.title, b.author.name) for b in Book.objects.order_by("id")]

def rename_each(names):
    for book, name in zip(Book.objects.order_by("id"), names):
        book.title = name
        book.save()

async def first_titles(ids):
    return [(await Book.objects.aget(pk=i)).title for i in ids]

@transaction.atomic
def rename_atomic(names):
    for book, name in zip(Book.objects.order_by("id"), names):
        book.title = name
        book.save()
"""

TESTS = """
import atexit
import threading
import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from shop import services

@pytest.fixture
def books(db):
    services.seed(3)

def test_statements_are_attributed(books, pyskill):
    pairs = services.list_pairs()
    assert len(pairs) == 3
    data = [q for q in pyskill.queries if q.shape.is_data]
    assert [q.shape.kind for q in data] == ["select"] * 4
    assert all(q.source == "django" and q.database == "default" for q in data)
    assert {q.vendor for q in data} == {connection.vendor}
    assert data[0].shape.tables == ("shop_book",)
    assert {q.shape.tables for q in data[1:]} == {("shop_author",)}
    assert len({q.shape.fingerprint for q in data[1:]}) == 1
    site = data[1].callsite
    assert (site.primary.path, site.primary.line, site.primary.function) == ("shop/services.py", 9, "list_pairs")
    assert site.frames[-1].function == "test_statements_are_attributed"
    assert all(not q.in_event_loop and q.thread == threading.get_ident() for q in data)

def test_testcase_atomic_is_seen_through(books, pyskill):
    services.rename_each(["x", "y"])
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert len(writes) == 2 and [q.in_transaction for q in writes] == [False, False]

def test_user_atomic_is_a_transaction(books, pyskill):
    services.rename_atomic(["x", "y"])
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert len(writes) == 2 and [q.in_transaction for q in writes] == [True, True]
    # Savepoints / BEGIN are transaction control: not data statements.
    assert pyskill.count() == len([q for q in pyskill.queries if q.shape.kind != "tcl"])

@pytest.mark.django_db(transaction=True)
def test_transactional_db_same_verdicts(pyskill):
    services.seed(2)
    services.rename_each(["x", "y"])
    services.rename_atomic(["p", "q"])
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert [q.in_transaction for q in writes] == [False, False, True, True]

@pytest.mark.django_db(transaction=True)
def test_connections_opened_on_other_threads(pyskill):
    services.seed(2)
    seen = []
    def work():
        seen.append(len(services.list_pairs()))
        connections.close_all()
    t = threading.Thread(target=work)
    t.start(); t.join()
    assert seen == [2]
    other = [q for q in pyskill.queries if q.thread != threading.get_ident() and q.shape.is_data]
    assert len(other) == 3
    assert other[0].callsite.primary.function == "list_pairs"

@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_sync_to_async_runs_off_the_loop(pyskill):
    await sync_to_async(services.seed)(2)
    pairs = await sync_to_async(services.list_pairs)()
    assert len(pairs) == 2
    # (Django 6 on MariaDB adds a set-up SELECT on the worker's new connection: count ours.)
    data = [q for q in pyskill.queries if q.shape.kind == "select" and "shop_" in q.sql]
    assert len(data) == 3
    assert all(not q.in_event_loop for q in data)
    assert all(q.thread != threading.get_ident() for q in data)

@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_async_orm_is_attributed_to_the_awaiting_line(pyskill):
    await sync_to_async(services.seed)(2)
    ids = [b.pk async for b in services.Book.objects.order_by("id")]
    await services.first_titles(ids)
    gets = [q for q in pyskill.queries if q.shape.kind == "select"][-2:]
    assert [q.callsite.primary.function for q in gets] == ["first_titles", "first_titles"]
    assert all(q.thread != threading.get_ident() for q in gets)  # still on asgiref's thread

@pytest.mark.max_queries(2)
def test_budget(books):
    services.list_pairs()

@atexit.register
def _check_clean():
    from django.db.backends.signals import connection_created
    left = [w for c in connections.all() for w in c.execute_wrappers]
    receivers = [r for r in connection_created.receivers if "pytest_pyskill" in repr(r)]
    print(f"\\nAFTER-RUN wrappers={len(left)} receivers={len(receivers)}")
"""


def test_django_capture(pytester: pytest.Pytester, run, django_env: str) -> None:
    pytester.makepyfile(settings=DJANGO_SETTINGS, test_it=TESTS)
    pytester.mkpydir("shop")
    pytester.makepyfile(**{"shop/models": MODELS, "shop/services": SERVICES})
    result = run("-v", "-s", "--ds=settings")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        [
            "pyskill: mode=warn, capture=*django*",
            "max-queries: 4 statements, budget is 2 (max_queries marker)",
            "  3 x SELECT * FROM *shop_author* WHERE *shop_author*.*id* = ? LIMIT ?  ?shop/services.py:9 in list_pairs?",
        ]
    )
    result.stdout.fnmatch_lines(["AFTER-RUN wrappers=0 receivers=0"])
