"""The on-disk cache of fetched items."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path


async def save_cache_bad(path: Path, items: list[str]) -> None:
    path.write_text(json.dumps(items))  # noqa: ASYNC240 - the loop waits for the disk


async def load_cache_bad(path: Path) -> list[str]:
    return json.loads(path.read_text())  # noqa: ASYNC240


async def save_cache_fixed(path: Path, items: list[str]) -> None:
    await asyncio.to_thread(path.write_text, json.dumps(items))


async def load_cache_fixed(path: Path) -> list[str]:
    return json.loads(await asyncio.to_thread(path.read_text))
