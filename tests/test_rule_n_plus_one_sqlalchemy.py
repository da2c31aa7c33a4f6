"""Rule n-plus-one on SQLAlchemy, end to end, on SQLite and PostgreSQL (sync and asyncio).

Inner tests named ``test_pos_*`` must be flagged and ``test_neg_*`` must not: the run is in
strict mode, so the outer test checks that exactly the positives failed, each with its finding.
"""

from __future__ import annotations

import re

import pytest

MODELS = """
import os
from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, deferred

URL = os.environ["PYSKILL_TEST_URL"]

class Base(AsyncAttrs, DeclarativeBase):
    pass

book_tag = Table(
    "book_tag", Base.metadata,
    Column("book_id", ForeignKey("book.id"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)

class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    bio: Mapped[str] = mapped_column(Text, deferred=True, default="")
    books: Mapped[list["Book"]] = relationship(back_populates="author")
    books_eager: Mapped[list["Book"]] = relationship(lazy="selectin", viewonly=True)
    books_dynamic = relationship("Book", lazy="dynamic", viewonly=True)

class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))

class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    pages: Mapped[int] = mapped_column(default=0)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship(back_populates="books")
    tags: Mapped[list[Tag]] = relationship(secondary=book_tag)
"""

SERVICES = """
from sqlalchemy import select, text
from sqlalchemy.orm import joinedload, selectinload, subqueryload, undefer
from models import Author, Book, Tag

def seed(session, n=4):
    tags = [Tag(name=f"t{i}") for i in range(2)]
    for i in range(n):
        a = Author(name=f"a{i}", bio="long text")
        session.add(a)
        session.add(Book(title=f"b{i}", author=a, tags=tags))
    session.commit()

def books(session, *options):
    return session.scalars(select(Book).options(*options).order_by(Book.id)).all()

def authors(session, *options):
    return session.scalars(select(Author).options(*options).order_by(Author.id)).all()

def author_names(session):
    return [b.author.name for b in books(session)]

def book_counts(session):
    return [len(a.books) for a in authors(session)]

def tag_names(session):
    return [[t.name for t in b.tags] for b in books(session)]

def bios(session):
    return [a.bio for a in authors(session)]

def dynamic_counts(session):
    return [a.books_dynamic.count() for a in authors(session)]

def titles_by_get(session, ids):
    return [session.get(Book, i).title for i in ids]

def core_lookups(session, ids):
    return [session.execute(text("SELECT title FROM book WHERE id = :id"), {"id": i}).scalar()
            for i in ids]

def bump_each_committing(session):
    total = 0
    for b in books(session):
        b.pages += 1
        session.commit()
    for b in books(session):
        total += b.pages
    return total

def author_names_selectin(session):
    return [b.author.name for b in books(session, selectinload(Book.author))]

def author_names_joined(session):
    return [b.author.name for b in books(session, joinedload(Book.author))]

def book_counts_subquery(session):
    return [len(a.books) for a in authors(session, subqueryload(Author.books))]

def book_counts_lazy_selectin(session):
    return [len(a.books_eager) for a in authors(session)]

def bios_undeferred(session):
    return [a.bio for a in authors(session, undefer(Author.bio))]

def one_title(session, book_id):
    return session.get(Book, book_id).author.name

def show(book):
    return book.author.name

def get_title(session, book_id):
    return session.get(Book, book_id).title
"""

TESTS = """
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
import services
from models import URL, Base, Book

@pytest.fixture
def session():
    engine = create_engine(URL)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        services.seed(s)
    with Session(engine) as s:
        yield s
    Base.metadata.drop_all(engine)
    engine.dispose()

def test_pos_many_to_one(session):
    services.author_names(session)

def test_pos_one_to_many(session):
    services.book_counts(session)

def test_pos_many_to_many(session):
    services.tag_names(session)

def test_pos_deferred_column(session):
    services.bios(session)

def test_pos_dynamic_relationship(session):
    services.dynamic_counts(session)

def test_pos_get_in_a_loop(session):
    services.titles_by_get(session, [1, 2, 3, 4])

def test_pos_core_text_per_row(session):
    services.core_lookups(session, [1, 2, 3, 4])

def test_pos_expired_after_commit_in_a_loop(session):
    services.bump_each_committing(session)

def test_pos_loop_in_test_code(session):
    for book in services.books(session):
        book.author.name

@pytest.mark.pyskill_threshold(n_plus_one=5)
def test_neg_below_marker_threshold(session):
    services.author_names(session)

def test_neg_selectinload(session):
    services.author_names_selectin(session)

def test_neg_joinedload(session):
    services.author_names_joined(session)

def test_neg_subqueryload(session):
    services.book_counts_subquery(session)

def test_neg_lazy_selectin_relationship(session):
    services.book_counts_lazy_selectin(session)

def test_neg_undefer(session):
    services.bios_undeferred(session)

def test_neg_one_object_touched_once(session):
    services.one_title(session, 1)

def test_neg_same_helper_from_two_lines(session):
    a = session.get(Book, 1)
    b = session.get(Book, 2)
    services.show(a)
    services.show(b)

def test_neg_identity_map_hits(session):
    books = services.books(session)
    first = books[0].author
    for b in books:
        b.author_id = first.id
    session.flush()
    session.expire_all()
    assert len({b.author.name for b in services.books(session)}) == 1

def test_neg_empty_result(session):
    from sqlalchemy import text
    session.execute(text("DELETE FROM book_tag"))
    session.query(Book).delete()
    assert services.author_names(session) == []

def test_neg_test_loop_of_separate_operations(session):
    for i in [1, 2, 3, 4]:
        services.get_title(session, i)

def test_neg_objects_created_in_the_test_are_rows_too_but_cached(session):
    book = Book(title="new", author=services.authors(session)[0])
    session.add(book)
    session.flush()
    assert book.author.name == "a0"
"""

POSITIVES = {
    "test_pos_many_to_one": "Book.author lazy-loaded for 4 Book objects",
    "test_pos_one_to_many": "Author.books lazy-loaded for 4 Author objects",
    "test_pos_many_to_many": "Book.tags lazy-loaded for 4 Book objects",
    "test_pos_deferred_column": "deferred column Author.bio loaded for 4 Author objects",
    "test_pos_dynamic_relationship": "the same SELECT on book sent 4 times from one line",
    "test_pos_get_in_a_loop": "the same SELECT on book sent 4 times from one line",
    "test_pos_core_text_per_row": "the same SELECT on book sent 4 times from one line",
    # The first book is read before any commit; the next three were expired by one.
    "test_pos_expired_after_commit_in_a_loop": "3 expired Book objects refreshed one by one",
    "test_pos_loop_in_test_code": "Book.author lazy-loaded for 4 Book objects",
}


def _failed(result: pytest.RunResult) -> dict[str, str]:
    found = {}
    for line in result.stdout.lines:
        m = re.match(r"FAILED test_it\.py::(\w+) - n-plus-one: (.*)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def _check(result: pytest.RunResult) -> None:
    out = result.stdout.str()
    assert "internal error" not in out, out
    failed = _failed(result)
    assert set(failed) == set(POSITIVES), out
    for name, message in POSITIVES.items():
        assert failed[name].startswith(message[:40]), (name, failed[name])


def test_n_plus_one_sync(pytester: pytest.Pytester, run, sa_url: str, monkeypatch) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", sa_url)
    pytester.makepyfile(models=MODELS, services=SERVICES, test_it=TESTS)
    result = run("--pyskill-strict", "-rf", "-o", "console_output_style=classic")
    _check(result)
    out = result.stdout.str()
    # The finding says where the loop touched it, where the rows came from, and the fix.
    assert re.search(
        r"n-plus-one: Book.author lazy-loaded for 4 Book objects\n"
        r"  at services.py:\d+ in author_names   \(rows fetched at services.py:\d+ in books\)\n"
        r"  SELECT author.id.*FROM author WHERE author.id = \?\S*\n"
        r"  fix: select\(Book\).options\(joinedload\(Book.author\)\) \(or selectinload\)",
        out,
    ), out
    assert "fix: select(Author).options(selectinload(Author.books))" in out
    assert "fix: select(Author).options(undefer(Author.bio))" in out
    assert "the loop is in test code" in out


def test_threshold_from_ini(pytester: pytest.Pytester, run, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    pytester.makepyfile(models=MODELS, services=SERVICES, test_it=TESTS)
    result = run("--pyskill-strict", "-o", "pyskill_n_plus_one_threshold=5", "-k", "many_to_one")
    result.assert_outcomes(passed=1)
    result = run("--pyskill-strict", "--pyskill-n-plus-one-threshold=4", "-k", "many_to_one")
    result.assert_outcomes(failed=1)


def test_bad_threshold_marker(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_it="""
        import pytest

        @pytest.mark.pyskill_threshold(n_plus_one=1)
        def test_low():
            pass

        @pytest.mark.pyskill_threshold(n_plus_two=3)
        def test_unknown():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*test_low: @pytest.mark.pyskill_threshold: n_plus_one must be a whole number >= 2, got 1",
            "*test_unknown: @pytest.mark.pyskill_threshold: unknown threshold 'n_plus_two'; valid thresholds: n_plus_one",
        ]
    )


ASYNC_SERVICES = """
from sqlalchemy import select
from models import Author, Book

async def author_names(session):
    books = (await session.scalars(select(Book).order_by(Book.id))).all()
    return [(await b.awaitable_attrs.author).name for b in books]

async def titles_by_get(session, ids):
    return [(await session.get(Book, i)).title for i in ids]

async def author_names_selectin(session):
    from sqlalchemy.orm import selectinload
    stmt = select(Book).options(selectinload(Book.author)).order_by(Book.id)
    return [b.author.name for b in (await session.scalars(stmt)).all()]
"""

ASYNC_TESTS = """
import pytest, pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
import services, services_async
from models import URL, Base

@pytest_asyncio.fixture
async def session():
    engine = create_async_engine(URL)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as s:
        await s.run_sync(services.seed)
    async with AsyncSession(engine) as s:
        yield s
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await engine.dispose()

@pytest.mark.asyncio
async def test_pos_awaitable_attrs_loop(session):
    await services_async.author_names(session)

@pytest.mark.asyncio
async def test_pos_async_get_in_a_loop(session):
    await services_async.titles_by_get(session, [1, 2, 3, 4])

@pytest.mark.asyncio
async def test_neg_async_selectinload(session):
    await services_async.author_names_selectin(session)
"""


@pytest.mark.parametrize("driver", ["aiosqlite", "asyncpg"])
def test_n_plus_one_async(pytester: pytest.Pytester, run, monkeypatch, driver, request) -> None:
    if driver == "aiosqlite":
        url = f"sqlite+aiosqlite:///{request.getfixturevalue('tmp_path') / 'db.sqlite3'}"
    else:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{request.getfixturevalue('pg_db')}"
    monkeypatch.setenv("PYSKILL_TEST_URL", url)
    pytester.makepyfile(
        models=MODELS, services=SERVICES, services_async=ASYNC_SERVICES, test_it=ASYNC_TESTS
    )
    result = run("--pyskill-strict")
    out = result.stdout.str()
    assert "internal error" not in out, out
    assert _failed(result) == {
        "test_pos_awaitable_attrs_loop": "Book.author lazy-loaded for 4 Book objects",
        "test_pos_async_get_in_a_loop": "the same SELECT on book sent 4 times from one line",
    }, out
    assert re.search(
        r"  at services_async.py:6 in author_names   \(rows fetched at services_async.py:5 in author_names\)",
        out,
    ), out
