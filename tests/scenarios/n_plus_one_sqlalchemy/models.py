import os
from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, WriteOnlyMapped, mapped_column, relationship, deferred

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
    books_write_only: WriteOnlyMapped["Book"] = relationship(viewonly=True)

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
