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

def write_only_titles(session):
    return [session.scalars(a.books_write_only.select()).all() for a in authors(session)]

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
