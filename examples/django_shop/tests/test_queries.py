"""n-plus-one: each bad service loads a relation row by row, its fixed twin in one or two queries.

The loops live in ``shop/services.py``, so that is where the findings point.
"""

from __future__ import annotations

from shop import services

BOOK_LINES = [f"Book {i} by Author {i // 2}" for i in range(8)]
TAGS = {
    "Book 0": ["fiction", "history"],
    "Book 1": ["history", "science"],
    "Book 2": ["fiction", "science"],
}
COUNTS = {f"Author {i}": 2 for i in range(4)}
BIOS = {f"Author {i}": f"Bio of Author {i}" for i in range(4)}


def test_book_lines_bad(catalogue):
    assert services.book_lines_bad() == BOOK_LINES


def test_book_lines_fixed(catalogue):
    assert services.book_lines_fixed() == BOOK_LINES


def test_book_tags_bad(catalogue):
    assert TAGS.items() <= services.book_tags_bad().items()


def test_book_tags_fixed(catalogue):
    assert TAGS.items() <= services.book_tags_fixed().items()


def test_author_book_counts_bad(catalogue):
    assert services.author_book_counts_bad() == COUNTS


def test_author_book_counts_fixed(catalogue):
    assert services.author_book_counts_fixed() == COUNTS


def test_author_bios_bad(catalogue):
    assert services.author_bios_bad() == BIOS


def test_author_bios_fixed(catalogue):
    assert services.author_bios_fixed() == BIOS


def test_comment_feed_bad(catalogue):
    feed = services.comment_feed_bad()
    assert len(feed) == 20
    assert feed[0] == "Book 0: Great read"
    assert feed[-1] == "Author 3: Lovely author"


def test_comment_feed_fixed(catalogue):
    feed = services.comment_feed_fixed()
    assert len(feed) == 20
    assert feed[0] == "Book 0: Great read"
    assert feed[-1] == "Author 3: Lovely author"


def test_book_comments_bad(catalogue):
    comments = services.book_comments_bad()
    assert comments["Book 0"] == ["Great read", "spam, cheap pills"]
    assert comments["Book 7"] == ["Great read", "Would buy again"]


def test_book_comments_fixed(catalogue):
    comments = services.book_comments_fixed()
    assert comments["Book 0"] == ["Great read", "spam, cheap pills"]
    assert comments["Book 7"] == ["Great read", "Would buy again"]


def test_prices_bad(catalogue):
    ids = [book.pk for book in catalogue["books"]]
    assert services.prices_bad(ids) == {pk: 1000 + 100 * i for i, pk in enumerate(ids)}


def test_prices_fixed(catalogue):
    ids = [book.pk for book in catalogue["books"]]
    assert services.prices_fixed(ids) == {pk: 1000 + 100 * i for i, pk in enumerate(ids)}
