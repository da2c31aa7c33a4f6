"""Structured concurrency and deadlines on Python 3.10 too.

On 3.11+ these are ``asyncio.TaskGroup`` and ``asyncio.timeout``; 3.10 gets the closest
equivalent from ``asyncio.gather`` and ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

if sys.version_info >= (3, 11):

    async def gather_all(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
        """Run the coroutines concurrently; if one fails, the others are cancelled."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coro) for coro in coros]
        return [task.result() for task in tasks]

    async def within(seconds: float, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro``, raising ``TimeoutError`` after ``seconds``."""
        async with asyncio.timeout(seconds):
            return await coro

else:

    async def gather_all(coros: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
        """Run the coroutines concurrently; if one fails, the others are cancelled."""
        tasks = [asyncio.ensure_future(coro) for coro in coros]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def within(seconds: float, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro``, raising ``asyncio.TimeoutError`` after ``seconds``."""
        return await asyncio.wait_for(coro, seconds)
