"""Database access from coroutines: sync drivers on the loop's thread, and the fixes."""

import asyncio
import sqlite3

import sqlalchemy as sa


async def count_sync(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT 1")).scalar()


async def count_async(engine):
    async with engine.connect() as conn:
        return (await conn.execute(sa.text("SELECT 1"))).scalar()


async def count_raw(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT 1").fetchone()[0]
    finally:
        conn.close()


def _count_raw_sync(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT 1").fetchone()[0]
    finally:
        conn.close()


async def count_raw_fixed(path):
    return await asyncio.to_thread(_count_raw_sync, path)
