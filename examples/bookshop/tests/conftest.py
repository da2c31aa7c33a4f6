from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bookshop.models import Author, Base, Book


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
