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
