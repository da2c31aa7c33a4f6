"""Source of the small user projects the harmlessness suite runs (shared by its test files)."""

from __future__ import annotations

# An ordinary application: SQLAlchemy ORM with an N+1, raw sqlite3 with an unbatched insert
# loop, and a coroutine that blocks its event loop. Every line of it is something the plugin
# captures and reports.
APP = """
import asyncio
import sqlite3
import time

from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()


def engine():
    eng = create_engine("sqlite://")
    Base.metadata.create_all(eng)
    return eng


def seed(session, n):
    for i in range(n):
        session.add(Book(title=f"t{i}", author=Author(name=f"a{i}")))
    session.commit()


def author_names(session):
    return [book.author.name for book in session.scalars(select(Book).order_by(Book.id))]


def raw_inserts(n):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER)")
    for i in range(n):
        conn.execute("INSERT INTO t (a) VALUES (?)", (i,))
    conn.commit()
    count = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    conn.close()
    return count


async def blocking_handler():
    time.sleep(0.001)
    await asyncio.sleep(0)
    return "done"


def square(x):
    return x * x
"""

# Tests with every outcome pytest knows: passed, failed (a precise assertion), xfailed, skipped,
# an error in set-up; sync, asyncio.run and pytest-asyncio tests; all of them run real SQL.
TESTS = """
import asyncio

import pytest

import app


@pytest.fixture
def session():
    eng = app.engine()
    with app.Session(eng) as s:
        app.seed(s, 3)
        yield s
    eng.dispose()


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


def test_orm(session):
    assert app.author_names(session) == ["a0", "a1", "a2"]


def test_raw():
    assert app.raw_inserts(5) == 5


def test_asyncio_run():
    assert asyncio.run(app.blocking_handler()) == "done"


@pytest.mark.asyncio
async def test_pytest_asyncio(session):
    assert await app.blocking_handler() == "done"
    assert len(app.author_names(session)) == 3


def test_fails_precisely(session):
    assert len(app.author_names(session)) == 4, "three books, not four"


@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfail():
    assert app.raw_inserts(3) == 4


def test_error_in_setup(broken):
    pass


def test_skip():
    app.raw_inserts(1)
    pytest.skip("not here")
"""

# assert_outcomes counts of TESTS run without the plugin.
EXPECT = {"passed": 4, "failed": 1, "xfailed": 1, "errors": 1, "skipped": 1}
