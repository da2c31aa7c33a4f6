"""The shop's service layer: each ``*_bad`` function has a ``*_fixed`` twin returning the same.

The rule each pair shows is named above it. pytest-pyskill reports a finding at the line in
this file where the repeated statements come from, not at the test that called it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, F, Prefetch

from .models import Author, Book, Comment, Profile, Tag

# --- n-plus-one: a forward foreign key read in a loop ----------------------------------------


def book_lines_bad() -> list[str]:
    # One SELECT for the books, then one per book for its author.
    return [f"{book.title} by {book.author.name}" for book in Book.objects.order_by("id")]


def book_lines_fixed() -> list[str]:
    books = Book.objects.select_related("author").order_by("id")  # one JOINed SELECT
    return [f"{book.title} by {book.author.name}" for book in books]


# --- n-plus-one: a many-to-many relation read in a loop --------------------------------------


def book_tags_bad() -> dict[str, list[str]]:
    # One SELECT for the books, then one per book for its tags.
    return {
        book.title: sorted(tag.name for tag in book.tags.all())
        for book in Book.objects.order_by("id")
    }


def book_tags_fixed() -> dict[str, list[str]]:
    books = Book.objects.prefetch_related("tags").order_by("id")  # two SELECTs in all
    return {book.title: sorted(tag.name for tag in book.tags.all()) for book in books}


# --- n-plus-one: counting a reverse foreign key per object -----------------------------------


def author_book_counts_bad() -> dict[str, int]:
    # One SELECT COUNT(*) per author.
    return {author.name: author.books.count() for author in Author.objects.order_by("id")}


def author_book_counts_fixed() -> dict[str, int]:
    authors = Author.objects.annotate(book_count=Count("books")).order_by("id")  # one SELECT
    return {author.name: author.book_count for author in authors}


# --- n-plus-one: a one-to-one relation read in a loop ----------------------------------------


def author_bios_bad() -> dict[str, str]:
    # One SELECT per author for its profile (the reverse side of Profile.author).
    return {author.name: author.profile.bio for author in Author.objects.order_by("id")}


def author_bios_fixed() -> dict[str, str]:
    authors = Author.objects.select_related("profile").order_by("id")
    return {author.name: author.profile.bio for author in authors}


# --- n-plus-one: a GenericForeignKey read in a loop ------------------------------------------


def comment_feed_bad() -> list[str]:
    # One SELECT per comment for the object it is about.
    return [
        f"{comment.content_object}: {comment.text}" for comment in Comment.objects.order_by("id")
    ]


def comment_feed_fixed() -> list[str]:
    # prefetch_related on a GenericForeignKey: one SELECT per content type, not per comment.
    comments = Comment.objects.prefetch_related("content_object").order_by("id")
    return [f"{comment.content_object}: {comment.text}" for comment in comments]


# --- n-plus-one: a GenericRelation read in a loop --------------------------------------------


def book_comments_bad() -> dict[str, list[str]]:
    # One SELECT per book for its comments.
    return {
        book.title: [comment.text for comment in book.comments.order_by("id")]
        for book in Book.objects.order_by("id")
    }


def book_comments_fixed() -> dict[str, list[str]]:
    # prefetch_related on a GenericRelation: two SELECTs in all, ordered by the Prefetch.
    in_order = Prefetch("comments", queryset=Comment.objects.order_by("id"))
    books = Book.objects.prefetch_related(in_order).order_by("id")
    return {book.title: [comment.text for comment in book.comments.all()] for book in books}


# --- n-plus-one: Model.objects.get() in a loop -----------------------------------------------


def prices_bad(book_ids: Iterable[int]) -> dict[int, int]:
    # One SELECT per id.
    return {book_id: Book.objects.get(pk=book_id).price_cents for book_id in book_ids}


def prices_fixed(book_ids: Iterable[int]) -> dict[int, int]:
    books = Book.objects.in_bulk(list(book_ids))  # one SELECT ... WHERE id IN (...)
    return {book_id: book.price_cents for book_id, book in books.items()}


# --- unbatched-insert: create() per row ------------------------------------------------------
# The bad write loops run inside transaction.atomic so that each shows only its own rule:
# without it, every row would also be its own commit (missing-transaction, shown further down).


def add_tags_bad(names: Iterable[str]) -> int:
    with transaction.atomic():
        created = 0
        for name in names:
            Tag.objects.create(name=name)  # one INSERT per tag
            created += 1
        return created


def add_tags_fixed(names: Iterable[str]) -> int:
    return len(Tag.objects.bulk_create([Tag(name=name) for name in names]))  # one INSERT


# --- unbatched-update: save() per row --------------------------------------------------------


def restock_bad(book_ids: Iterable[int], copies: int) -> int:
    with transaction.atomic():
        updated = 0
        for book in Book.objects.filter(pk__in=list(book_ids)):
            book.stock += copies
            book.save(update_fields=["stock"])  # one UPDATE per book
            updated += 1
        return updated


def restock_fixed(book_ids: Iterable[int], copies: int) -> int:
    # One UPDATE, computed by the database (no read, no lost update either).
    return Book.objects.filter(pk__in=list(book_ids)).update(stock=F("stock") + copies)


# --- unbatched-delete: delete() per row ------------------------------------------------------


def purge_comments_bad(word: str) -> int:
    with transaction.atomic():
        deleted = 0
        for comment in Comment.objects.filter(text__icontains=word):
            comment.delete()  # one DELETE per comment
            deleted += 1
        return deleted


def purge_comments_fixed(word: str) -> int:
    deleted, _ = Comment.objects.filter(text__icontains=word).delete()  # one DELETE
    return deleted


# --- missing-transaction: two related writes, each committed on its own ----------------------


def register_author_bad(name: str, bio: str) -> Author:
    author = Author.objects.create(name=name)  # committed at once...
    Profile.objects.create(author=author, bio=bio)  # ...so a failure here leaves half an author
    return author


@transaction.atomic
def register_author_fixed(name: str, bio: str) -> Author:
    author = Author.objects.create(name=name)
    Profile.objects.create(author=author, bio=bio)  # both rows commit together, or neither
    return author
