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

def test_pos_write_only_relationship(session):
    services.write_only_titles(session)

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
