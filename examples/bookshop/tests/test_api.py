from __future__ import annotations

import pytest

from bookshop import api

pytestmark = pytest.mark.asyncio


async def test_list_books_bad(async_session):
    assert len(await api.list_books_bad(async_session)) == 5


async def test_list_books_fixed(async_session):
    assert len(await api.list_books_fixed(async_session)) == 5


async def test_add_reviews_bad(async_session):
    await api.add_reviews_bad(async_session, 1, [5, 4, 3, 5])


async def test_add_reviews_fixed(async_session):
    await api.add_reviews_fixed(async_session, 1, [5, 4, 3, 5])


async def test_restock_bad(async_session):
    await api.restock_bad(async_session, 1, 3)


async def test_restock_fixed(async_session):
    await api.restock_fixed(async_session, 1, 3)


async def test_review_count_bad(reporting_engine):
    assert await api.review_count_bad(reporting_engine) == 0


async def test_review_count_fixed(async_session):
    assert await api.review_count_fixed(async_session) == 0
