"""Where items come from: in-memory sources (with latency and failures) and a legacy SDK."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass, field


class SourceError(Exception):
    """A source could not deliver its items."""


@dataclass
class Source:
    """An upstream feed that answers after ``latency`` seconds and fails its first
    ``failures`` fetches (a flaky upstream)."""

    name: str
    items: list[str] = field(default_factory=list)
    latency: float = 0.01
    failures: int = 0

    async def fetch(self) -> list[str]:
        await asyncio.sleep(self.latency)
        if self.failures:
            self.failures -= 1
            raise SourceError(f"{self.name}: temporarily unavailable")
        return list(self.items)


class LegacyClient:
    """A vendor SDK built on a thread pool: it hands back ``concurrent.futures.Future``s."""

    def __init__(self, pool: concurrent.futures.ThreadPoolExecutor, latency: float = 0.03):
        self._pool = pool
        self._latency = latency

    def submit(self, source: Source) -> concurrent.futures.Future[list[str]]:
        return self._pool.submit(self._fetch, source)

    def _fetch(self, source: Source) -> list[str]:
        time.sleep(self._latency)  # the SDK's network wait, on one of its own threads: fine
        return list(source.items)


def vendor_handshake() -> str:
    """The vendor SDK's start-up call. It pauses 5 ms, once per process: blocking, but short and
    bounded, so the service accepts it (see ``test_handshake_allowed``)."""
    time.sleep(0.005)
    return "ok"
