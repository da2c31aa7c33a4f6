"""SQLAlchemy capture on real databases: SQLite, PostgreSQL (psycopg 3, asyncpg), MariaDB.

Each inner test asserts on ``pyskill.queries``, the events the capture produced; the outer test
asserts that every inner test passed (so every inner assertion ran and held).
"""

from __future__ import annotations

import pytest

MODELS = """
import os
from sqlalchemy import ForeignKey, String, create_engine, insert, select, text
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

URL = os.environ["PYSKILL_TEST_URL"]

class Base(AsyncAttrs, DeclarativeBase):
    pass

class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))

class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()
"""

SERVICES_ASYNC = """
from sqlalchemy import select
from models import Book

async def list_pairs_async(session):
    books = (await session.scalars(select(Book).order_by(Book.id))).all()
    out = []
    for b in books:
        author = await b.awaitable_attrs.author
        out.append((b.title, author.name))
    return out

async def rename_all(session):
    async with session.begin():
        for b in (await session.scalars(select(Book))).all():
            b.title = "z"
            await session.flush()
"""

SERVICES = """
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session
from models import Author, Book

def seed(session, n):
    authors = [Author(name=f"a{i}") for i in range(n)]
    session.add_all(authors)
    session.flush()
    session.add_all([Book(title=f"t{i}", author_id=a.id) for i, a in enumerate(authors)])
    session.commit()

def list_pairs(session):
    books = session.scalars(select(Book).order_by(Book.id)).all()
    return [(b.title, b.author.name) for b in books]

def rename_each_committing(session, names):
    for book, name in zip(session.scalars(select(Book).order_by(Book.id)).all(), names):
        book.title = name
        session.commit()

def rename_in_transaction(session, names):
    with session.begin():
        for book, name in zip(session.scalars(select(Book).order_by(Book.id)).all(), names):
            book.title = name
            session.flush()

def core_insert_many(conn, rows):
    conn.execute(insert(Author), rows)

def core_engine_begin(engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE author SET name = 'x' WHERE id = 1"))

def core_autocommit(engine):
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("UPDATE author SET name = 'y' WHERE id = 1"))
"""

SYNC_TESTS = """
import threading
import pytest
from sqlalchemy import create_engine, delete, update
from sqlalchemy.orm import Session
import services
from models import URL, Base, Book

@pytest.fixture
def engine():
    engine = create_engine(URL)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        services.seed(s, 3)
    yield engine
    Base.metadata.drop_all(engine)
    engine.dispose()

def test_statements_and_lazy_loads_are_attributed(engine, pyskill):
    with Session(engine) as s:
        pairs = services.list_pairs(s)
    assert len(pairs) == 3
    data = [q for q in pyskill.queries if q.shape.is_data]
    assert [q.shape.kind for q in data] == ["select"] * 4
    assert all(q.source == "sqlalchemy" for q in data)
    assert {q.vendor for q in data} == {engine.dialect.name}
    assert data[0].shape.tables == ("book",)
    assert data[0].orm is None
    lazy = data[1:]
    assert [q.orm.lazy_load for q in lazy] == ["Book.author"] * 3
    assert len({q.orm.parent for q in lazy}) == 3
    assert {q.shape.tables for q in lazy} == {("author",)}
    site = lazy[0].callsite
    assert (site.primary.path, site.primary.function, site.primary.line) == ("services.py", "list_pairs", 14)
    assert site.frames[-1].kind == "test"
    assert site.frames[-1].function == "test_statements_and_lazy_loads_are_attributed"
    assert all(q.thread == threading.get_ident() and not q.in_event_loop for q in data)
    assert all(q.params is None for q in data)
    assert all(q.duration >= 0 for q in data)

def test_fixture_setup_is_outside_the_window(engine, pyskill):
    assert pyskill.queries == []

def test_separate_commits_are_not_a_transaction_the_code_opened(engine, pyskill):
    with Session(engine) as s:
        services.rename_each_committing(s, ["x", "y"])
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert len(writes) == 2
    assert [q.in_transaction for q in writes] == [False, False]

def test_session_begin_is_a_transaction_the_code_opened(engine, pyskill):
    with Session(engine) as s:
        services.rename_in_transaction(s, ["x", "y"])
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert [q.in_transaction for q in writes] == [True, True]

def test_engine_begin_and_autocommit(engine, pyskill):
    services.core_engine_begin(engine)
    services.core_autocommit(engine)
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert [q.in_transaction for q in writes] == [True, False]

def test_executemany_is_marked_batched(engine, pyskill):
    with engine.begin() as conn:
        services.core_insert_many(conn, [{"name": f"n{i}"} for i in range(5)])
    inserts = [q for q in pyskill.queries if q.shape.kind == "insert"]
    assert inserts and all(q.executemany for q in inserts)

def test_orm_add_all_batches_are_marked_batched(engine, pyskill):
    with Session(engine) as s:
        services.seed(s, 4)
    inserts = [q for q in pyskill.queries if q.shape.kind == "insert"]
    assert inserts
    assert all(q.executemany for q in inserts), [(q.sql, q.executemany) for q in inserts]

@pytest.fixture
def harness(engine):
    # The common "transaction per test" fixture: outer transaction owned by the test harness.
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    yield session
    session.close()
    outer.rollback()
    conn.close()

def test_harness_transaction_is_seen_through(harness, pyskill):
    services.rename_each_committing(harness, ["p", "q"])
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert len(writes) == 2
    assert [q.in_transaction for q in writes] == [False, False]

def test_user_transaction_inside_harness(harness, pyskill):
    services.rename_in_transaction(harness, ["p", "q"])
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert [q.in_transaction for q in writes] == [True, True]

def test_statements_from_other_threads_belong_to_the_test(engine, pyskill):
    def work():
        with Session(engine) as s:
            services.list_pairs(s)
    t = threading.Thread(target=work)
    t.start(); t.join()
    data = [q for q in pyskill.queries if q.shape.is_data]
    assert len(data) == 4
    assert all(q.thread != threading.get_ident() for q in data)
    assert data[0].callsite.primary.function == "list_pairs"

def test_orm_bulk_update_and_delete_statements(engine, pyskill):
    with Session(engine) as s:
        s.execute(update(Book).where(Book.id > 0).values(title="u"))
        s.execute(delete(Book).where(Book.id > 100))
        s.commit()
    assert [q.shape.kind for q in pyskill.queries if q.shape.is_data] == ["update", "delete"]
    assert all(q.orm is None for q in pyskill.queries)

@pytest.mark.max_queries(1)
def test_budget_on_sqlalchemy(engine):
    with Session(engine) as s:
        services.list_pairs(s)
"""


def _project(pytester: pytest.Pytester, tests: str) -> None:
    pytester.makepyfile(
        models=MODELS, services=SERVICES, services_async=SERVICES_ASYNC, test_it=tests
    )


def test_sync_capture(pytester: pytest.Pytester, run, sa_url: str, monkeypatch) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", sa_url)
    _project(pytester, SYNC_TESTS)
    result = run("-v")
    result.assert_outcomes(passed=11, failed=1)
    assert "internal error" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "max-queries: 4 statements, budget is 1 (max_queries marker)",
            "  3 x SELECT author.id*, author.name* FROM author WHERE author.id = ?  ?services.py:14 in list_pairs?",
        ]
    )


ASYNC_TESTS = """
import asyncio
import threading
import pytest
import pytest_asyncio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from models import URL, Base, Book
from services_async import list_pairs_async, rename_all

@pytest_asyncio.fixture
async def engine():
    engine = create_async_engine(URL)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as s:
        await s.run_sync(lambda sync: __import__("services").seed(sync, 3))
    yield engine
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await engine.dispose()

@pytest.mark.asyncio
async def test_async_lazy_loads_are_attributed_to_the_user_line(engine, pyskill):
    async with AsyncSession(engine) as s:
        pairs = await list_pairs_async(s)
    assert len(pairs) == 3
    data = [q for q in pyskill.queries if q.shape.is_data]
    assert [q.shape.kind for q in data] == ["select"] * 4
    lazy = data[1:]
    assert [q.orm.lazy_load for q in lazy] == ["Book.author"] * 3
    for q in lazy:
        assert q.callsite.primary.function == "list_pairs_async", q.callsite
        assert q.callsite.primary.path == "services_async.py"
        assert q.callsite.frames[-1].function == "test_async_lazy_loads_are_attributed_to_the_user_line"
        assert q.callsite.primary.line == 8, q.callsite
        assert q.in_event_loop
        assert q.thread == threading.get_ident()
    assert data[0].callsite.primary.line == 5

@pytest.mark.asyncio
async def test_async_transaction_the_code_opened(engine, pyskill):
    async with AsyncSession(engine) as s:
        await rename_all(s)
    writes = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert len(writes) == 3 and all(q.in_transaction for q in writes)

def test_loop_started_inside_a_sync_test(pyskill):
    async def main():
        engine = create_async_engine(URL)
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
        await engine.dispose()
    asyncio.run(main())
    (q,) = [q for q in pyskill.queries if q.shape.is_data]
    assert q.in_event_loop and q.callsite.primary.function == "main"
"""


def test_async_capture(pytester: pytest.Pytester, run, sa_async_url: str, monkeypatch) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", sa_async_url)
    _project(pytester, ASYNC_TESTS)
    result = run("-v")
    result.assert_outcomes(passed=3)
    assert "internal error" not in result.stdout.str()


MARIADB_TESTS = """
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
import services
from models import URL, Base

def test_mariadb_capture(pyskill):
    engine = create_engine(URL)
    with pyskill.max_queries(100):
        Base.metadata.create_all(engine)
        with Session(engine) as s:
            services.seed(s, 3)
        with Session(engine) as s:
            services.rename_in_transaction(s, ["a", "b"])
    inserts = [q for q in pyskill.queries if q.shape.kind == "insert"]
    # MariaDB 10.5+ has INSERT ... RETURNING, so SQLAlchemy 2 batches add_all() there too:
    # one multi-row INSERT per table, fingerprinted with its row count and marked batched.
    assert [(q.shape.tables, q.shape.rows, q.executemany) for q in inserts] == [
        (("author",), 3, True), (("book",), 3, True)]
    assert inserts[0].shape.fingerprint.startswith("INSERT INTO author (name) VALUES (...)")
    assert {q.vendor for q in inserts} == {"mysql"}
    updates = [q for q in pyskill.queries if q.shape.kind == "update"]
    assert len(updates) == 2 and all(q.in_transaction for q in updates)
    assert updates[0].callsite.primary.function == "rename_in_transaction"
    Base.metadata.drop_all(engine)
    engine.dispose()
"""


def test_mariadb_capture(pytester: pytest.Pytester, run, mariadb_db: str, monkeypatch) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", f"mysql+pymysql://root@127.0.0.1:3306/{mariadb_db}")
    _project(pytester, MARIADB_TESTS)
    run("-v").assert_outcomes(passed=1)


def test_listeners_are_removed_after_the_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: after pytest finishes, every listener the capture registered is gone and
    ``Connection.begin``/``begin_nested`` are what they were before the run.

    The capture's ``event`` module is replaced by a spy that records each registration, so
    the check covers whatever the code registers (not a list kept here)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Connection

    from pytest_pyskill.capture import sqlalchemy as capture

    registered: list[tuple[object, str, object]] = []

    class Spy:
        contains = staticmethod(event.contains)
        remove = staticmethod(event.remove)

        @staticmethod
        def listen(target: object, name: str, fn: object, *args: object, **kw: object) -> None:
            event.listen(target, name, fn, *args, **kw)
            registered.append((target, name, fn))

    monkeypatch.setattr(capture, "event", Spy)
    begins = {name: Connection.__dict__[name] for name in ("begin", "begin_nested")}
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function"
    ).assert_outcomes(passed=1)
    names = {name for _, name, _ in registered}
    assert {"do_execute", "do_executemany", "do_execute_no_params", "after_begin"} <= names
    left = [(target, name) for target, name, fn in registered if event.contains(target, name, fn)]
    assert left == []
    assert {name: Connection.__dict__[name] for name in begins} == begins
