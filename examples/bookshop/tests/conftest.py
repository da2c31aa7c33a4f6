from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from bookshop.models import Author, Base, Book, Stock


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as seed:
        authors = [Author(name=f"Author {i}") for i in range(10)]
        seed.add_all(authors)
        seed.add_all([Book(title=f"Book {i}", author=a) for i, a in enumerate(authors)])
        seed.commit()
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def sales_db() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE sale (book_id INTEGER, copies INTEGER)")
    yield conn
    conn.close()


@pytest_asyncio.fixture
async def async_session(tmp_path) -> AsyncIterator[AsyncSession]:
    """An AsyncSession on aiosqlite (a file), or on the URL in BOOKSHOP_ASYNC_URL
    (PostgreSQL with asyncpg: ``postgresql+asyncpg://...``)."""
    url = os.environ.get("BOOKSHOP_ASYNC_URL") or f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine, expire_on_commit=False) as seed:
        authors = [Author(name=f"Author {i}") for i in range(5)]
        books = [Book(title=f"Book {i}", author=a) for i, a in enumerate(authors)]
        seed.add_all(authors + books)
        await seed.flush()
        seed.add_all([Stock(book_id=b.id, copies=1) for b in books])
        await seed.commit()
    async with AsyncSession(engine) as session:
        yield session
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await engine.dispose()


@pytest.fixture
def reporting_engine(tmp_path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'reports.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE review (id INTEGER PRIMARY KEY, stars INTEGER)"))
    yield engine
    engine.dispose()
