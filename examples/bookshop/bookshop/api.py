"""A FastAPI-style async API over SQLAlchemy 2's AsyncSession: each handler takes its session
the way a ``Depends(get_session)`` would hand it over. Each bad handler has a fixed twin."""

from __future__ import annotations

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .models import Book, Review, Stock


async def list_books_bad(session: AsyncSession) -> list[dict[str, str]]:
    books = (await session.scalars(select(Book).order_by(Book.id))).all()
    # One SELECT per book for its author.
    return [{"title": b.title, "author": (await b.awaitable_attrs.author).name} for b in books]


async def list_books_fixed(session: AsyncSession) -> list[dict[str, str]]:
    query = select(Book).options(selectinload(Book.author)).order_by(Book.id)
    books = (await session.scalars(query)).all()
    return [{"title": b.title, "author": b.author.name} for b in books]


async def add_reviews_bad(session: AsyncSession, book_id: int, stars: list[int]) -> None:
    for n in stars:
        session.add(Review(book_id=book_id, stars=n))
        await session.flush()  # one INSERT per review
    await session.commit()


async def add_reviews_fixed(session: AsyncSession, book_id: int, stars: list[int]) -> None:
    session.add_all([Review(book_id=book_id, stars=n) for n in stars])
    await session.commit()  # one flush: one batched INSERT


async def restock_bad(session: AsyncSession, book_id: int, copies: int) -> None:
    # Two commits: a crash in between leaves the stock raised with no audit review of it.
    await session.execute(
        update(Stock).where(Stock.book_id == book_id).values(copies=Stock.copies + copies)
    )
    await session.commit()
    session.add(Review(book_id=book_id, stars=0))
    await session.commit()


async def restock_fixed(session: AsyncSession, book_id: int, copies: int) -> None:
    async with session.begin():  # one transaction for both writes
        await session.execute(
            update(Stock).where(Stock.book_id == book_id).values(copies=Stock.copies + copies)
        )
        session.add(Review(book_id=book_id, stars=0))


async def review_count_bad(reporting: Engine) -> int:
    # A sync engine inside an async handler: the event loop waits for the database.
    with reporting.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM review")).scalar_one())


async def review_count_fixed(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Review))).scalar_one())
