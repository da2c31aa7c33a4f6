"""Seed data. Statements sent by fixtures are not counted (nor checked) by default."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from shop.models import Author, Book, Comment, Profile, Tag


@pytest.fixture
def catalogue(db: None) -> dict[str, Any]:
    """4 authors with profiles, 8 books with 2 tags each, 20 comments (4 of them spam)."""
    tags = Tag.objects.bulk_create([Tag(name=n) for n in ("fiction", "history", "science")])
    authors = Author.objects.bulk_create([Author(name=f"Author {i}") for i in range(4)])
    Profile.objects.bulk_create([Profile(author=a, bio=f"Bio of {a.name}") for a in authors])
    books = Book.objects.bulk_create(
        Book(title=f"Book {i}", author=authors[i // 2], stock=i, price_cents=1000 + 100 * i)
        for i in range(8)
    )
    Through = Book.tags.through
    Through.objects.bulk_create(
        Through(book=book, tag=tags[(i + k) % 3]) for i, book in enumerate(books) for k in (0, 1)
    )
    book_type = ContentType.objects.get_for_model(Book)
    author_type = ContentType.objects.get_for_model(Author)
    comments = [Comment(text="Great read", content_type=book_type, object_id=b.pk) for b in books]
    comments += [
        Comment(
            text="spam, cheap pills" if i < 4 else "Would buy again",
            content_type=book_type,
            object_id=b.pk,
        )
        for i, b in enumerate(books)
    ]
    comments += [
        Comment(text="Lovely author", content_type=author_type, object_id=a.pk) for a in authors
    ]
    Comment.objects.bulk_create(comments)
    return {"authors": authors, "books": books, "tags": tags}
