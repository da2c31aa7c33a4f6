"""unbatched-insert/-update/-delete and missing-transaction: per-row writes and their batches."""

from __future__ import annotations

from shop import services
from shop.models import Author, Book, Comment, Profile, Tag

NEW_TAGS = ["poetry", "travel", "cooking", "crime", "art"]


def test_add_tags_bad(db):
    assert services.add_tags_bad(NEW_TAGS) == 5
    assert Tag.objects.count() == 5


def test_add_tags_fixed(db):
    assert services.add_tags_fixed(NEW_TAGS) == 5
    assert Tag.objects.count() == 5


def test_restock_bad(catalogue):
    ids = [book.pk for book in catalogue["books"]]
    assert services.restock_bad(ids, 10) == 8
    assert sorted(Book.objects.values_list("stock", flat=True)) == list(range(10, 18))


def test_restock_fixed(catalogue):
    ids = [book.pk for book in catalogue["books"]]
    assert services.restock_fixed(ids, 10) == 8
    assert sorted(Book.objects.values_list("stock", flat=True)) == list(range(10, 18))


def test_purge_comments_bad(catalogue):
    assert services.purge_comments_bad("spam") == 4
    assert Comment.objects.count() == 16


def test_purge_comments_fixed(catalogue):
    assert services.purge_comments_fixed("spam") == 4
    assert Comment.objects.count() == 16


def test_register_author_bad(db):
    author = services.register_author_bad("Ada", "Writes about engines")
    assert Profile.objects.get(author=author).bio == "Writes about engines"


def test_register_author_fixed(db):
    author = services.register_author_fixed("Ada", "Writes about engines")
    assert Profile.objects.get(author=author).bio == "Writes about engines"
    assert Author.objects.count() == 1
