"""Sync database drivers on the loop's thread (blocking), async drivers (not blocking)."""

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from loopapp.db import count_async, count_raw, count_raw_fixed, count_sync

pytestmark = pytest.mark.asyncio

URL = os.environ.get("PYSKILL_TEST_URL", "sqlite://")
ASYNC_URL = os.environ.get("PYSKILL_TEST_ASYNC_URL", "sqlite+aiosqlite://")


async def test_pos_sync_engine_in_coroutine():
    engine = sa.create_engine(URL)
    try:
        assert await count_sync(engine) == 1
    finally:
        engine.dispose()


async def test_neg_async_engine():
    engine = create_async_engine(ASYNC_URL)
    try:
        assert await count_async(engine) == 1
    finally:
        await engine.dispose()


async def test_pos_raw_sqlite3_in_coroutine(tmp_path):
    assert await count_raw(str(tmp_path / "raw.db")) == 1


async def test_neg_raw_sqlite3_in_a_thread(tmp_path):
    assert await count_raw_fixed(str(tmp_path / "raw.db")) == 1
