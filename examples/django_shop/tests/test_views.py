"""Views through pytest-django's test clients: a sync listing with a query budget, and async
views that must not block the event loop."""

from __future__ import annotations

import pytest

# The fixed listing sends 2 statements (books JOIN authors, then all their tags); the bad one
# sends 1 + 2 per book, over the budget: a budget fails its test even in warn mode.


@pytest.mark.max_queries(2)
def test_book_list_bad(client, catalogue):
    response = client.get("/api/books/bad/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 8
    assert results[0]["author"] == "Author 0"
    assert results[0]["tags"] == ["fiction", "history"]


@pytest.mark.max_queries(2)
def test_book_list_fixed(client, catalogue):
    response = client.get("/api/books/fixed/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 8
    assert results[0]["author"] == "Author 0"
    assert results[0]["tags"] == ["fiction", "history"]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_notice_bad(async_client, catalogue):
    response = await async_client.get("/api/notice/bad/")
    assert response.status_code == 200
    assert response.json()["notice"].startswith("Spring sale")
    assert response.json()["books"] == 8


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_notice_fixed(async_client, catalogue):
    response = await async_client.get("/api/notice/fixed/")
    assert response.status_code == 200
    assert response.json()["notice"].startswith("Spring sale")
    assert response.json()["books"] == 8
