"""The sync service: each bad function has a fixed twin."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .models import Book


def catalogue_bad(session: Session) -> list[str]:
    # One SELECT for the books, then one per book for its author (lazy loading).
    books = session.scalars(select(Book).order_by(Book.id)).all()
    return [f"{book.title} by {book.author.name}" for book in books]


def catalogue_fixed(session: Session) -> list[str]:
    books = session.scalars(select(Book).options(selectinload(Book.author)).order_by(Book.id)).all()
    return [f"{book.title} by {book.author.name}" for book in books]


def record_sales_bad(conn: sqlite3.Connection, sales: list[tuple[int, int]]) -> None:
    for book_id, copies in sales:
        conn.execute("INSERT INTO sale (book_id, copies) VALUES (?, ?)", (book_id, copies))
    conn.commit()


def record_sales_fixed(conn: sqlite3.Connection, sales: list[tuple[int, int]]) -> None:
    conn.executemany("INSERT INTO sale (book_id, copies) VALUES (?, ?)", sales)
    conn.commit()
