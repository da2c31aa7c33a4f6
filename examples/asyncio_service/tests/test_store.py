from __future__ import annotations

from feeds import store

ITEMS = ["asyncio 3.13 released", "advisory: update your TLS settings"]


async def test_cache_bad(tmp_path):
    path = tmp_path / "cache.json"
    await store.save_cache_bad(path, ITEMS)
    assert await store.load_cache_bad(path) == ITEMS


async def test_cache_fixed(tmp_path):
    path = tmp_path / "cache.json"
    await store.save_cache_fixed(path, ITEMS)
    assert await store.load_cache_fixed(path) == ITEMS
