"""CPU-heavy reporting over fetched items."""

from __future__ import annotations

import asyncio
import time
from collections import Counter


def top_words(items: list[str], seconds: float) -> list[tuple[str, int]]:
    """Word frequencies over ``items``: pure-Python CPU work. The scoring pass is repeated until
    ``seconds`` have passed, standing in for real work (parsing, ranking, de-duplication) that
    takes the same wall time on any machine."""
    counts: Counter[str] = Counter()
    rounds = 0
    deadline = time.perf_counter() + seconds
    while not rounds or time.perf_counter() < deadline:
        for item in items:
            for word in item.lower().split():
                counts[word] += 1
        rounds += 1
    return [(word, n // rounds) for word, n in counts.most_common(3)]


# -- one long computation: slow-callback ----------------------------------------------------
async def summarise_bad(items: list[str]) -> list[tuple[str, int]]:
    return top_words(items, 0.25)  # 250 ms in which no other task, timer or I/O runs


async def summarise_fixed(items: list[str]) -> list[tuple[str, int]]:
    return await asyncio.to_thread(top_words, items, 0.25)


# -- many short computations: each under the slow-callback threshold, together too long -----
async def build_digest_bad(feeds: dict[str, list[str]]) -> list[str]:
    digest = []
    for name in sorted(feeds):
        digest.append(f"{name}: {top_words(feeds[name], 0.04)}")  # 40 ms on the loop
        await asyncio.sleep(0)  # lets the loop run between feeds, but it is busy most of the time
    return digest


async def build_digest_fixed(feeds: dict[str, list[str]]) -> list[str]:
    digest = []
    for name in sorted(feeds):
        digest.append(f"{name}: {await asyncio.to_thread(top_words, feeds[name], 0.04)}")
    return digest
