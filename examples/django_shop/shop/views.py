"""JSON views, serialised by hand the way a DRF serializer would: a list of dicts.

``book_list_*`` are sync views (the n-plus-one and max-queries pair); ``notice_*`` are async
views (the blocking-call pair).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from .models import Book


def serialize_book(book: Book) -> dict[str, Any]:
    return {
        "id": book.pk,
        "title": book.title,
        "author": book.author.name,  # a query per book unless the view used select_related
        "tags": sorted(tag.name for tag in book.tags.all()),  # likewise for prefetch_related
        "price_cents": book.price_cents,
    }


def book_list_bad(request: HttpRequest) -> JsonResponse:
    books = Book.objects.order_by("id")  # 1 + 2 queries per book
    return JsonResponse({"results": [serialize_book(book) for book in books]})


def book_list_fixed(request: HttpRequest) -> JsonResponse:
    books = Book.objects.select_related("author").prefetch_related("tags").order_by("id")
    return JsonResponse({"results": [serialize_book(book) for book in books]})  # 2 queries


async def notice_bad(request: HttpRequest) -> JsonResponse:
    # A plain open() inside an async view: every other request on this loop waits for the disk.
    # ruff flags it as well (ASYNC230); it stays, as it is what this view demonstrates.
    with open(settings.SHOP_NOTICE_FILE, encoding="utf-8") as f:  # noqa: ASYNC230
        notice = f.read().strip()
    titles = [book.title async for book in Book.objects.order_by("id")]
    return JsonResponse({"notice": notice, "books": await Book.objects.acount(), "titles": titles})


async def notice_fixed(request: HttpRequest) -> JsonResponse:
    # File I/O on a worker thread; the async ORM (acount(), async for) does the same for SQL.
    text = await asyncio.to_thread(Path(settings.SHOP_NOTICE_FILE).read_text, encoding="utf-8")
    titles = [book.title async for book in Book.objects.order_by("id")]
    return JsonResponse(
        {"notice": text.strip(), "books": await Book.objects.acount(), "titles": titles}
    )
