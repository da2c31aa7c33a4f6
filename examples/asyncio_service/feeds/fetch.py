"""Fetching items from sources: each blocking mistake next to its fixed twin."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import subprocess
import time
import urllib.request
from urllib.parse import urlsplit

from . import compat
from .sources import LegacyClient, Source, SourceError, vendor_handshake


# -- back-off between retries --------------------------------------------------------------
async def fetch_with_retry_bad(
    source: Source, attempts: int = 3, backoff: float = 0.02
) -> list[str]:
    for attempt in range(attempts):
        try:
            return await source.fetch()
        except SourceError:
            if attempt == attempts - 1:
                raise
            time.sleep(backoff * 2**attempt)  # noqa: ASYNC251 - the whole loop sleeps
    raise AssertionError("unreachable")


async def fetch_with_retry_fixed(
    source: Source, attempts: int = 3, backoff: float = 0.02
) -> list[str]:
    for attempt in range(attempts):
        try:
            return await source.fetch()
        except SourceError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(backoff * 2**attempt)  # only this task waits
    raise AssertionError("unreachable")


# -- HTTP ----------------------------------------------------------------------------------
async def fetch_url_bad(url: str) -> list[str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: ASYNC210 - sync sockets
        return json.loads(response.read())


async def fetch_url_fixed(url: str) -> list[str]:
    # asyncio streams keep the loop running while the bytes travel. A real service would use an
    # async HTTP client (httpx.AsyncClient, aiohttp); this keeps the example dependency-free.
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        request = f"GET {parts.path or '/'} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        raw = await reader.read()  # HTTP/1.0: the server closes the connection when done
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise SourceError(f"{url}: HTTP {status.decode()}")
    return json.loads(body)


# -- a command-line source (a release list printed by a tool) ------------------------------
async def fetch_command_bad(argv: list[str]) -> list[str]:
    done = subprocess.run(argv, capture_output=True, check=True, text=True)  # noqa: ASYNC221
    return done.stdout.splitlines()


async def fetch_command_fixed(argv: list[str]) -> list[str]:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode:
        raise SourceError(f"{argv[0]} exited with {proc.returncode}")
    return out.decode().splitlines()


# -- a thread-pool SDK that returns concurrent.futures.Future -------------------------------
async def fetch_legacy_bad(client: LegacyClient, source: Source) -> list[str]:
    future: concurrent.futures.Future[list[str]] = client.submit(source)
    return future.result(timeout=5)  # the loop's thread waits for the SDK's thread


async def fetch_legacy_fixed(client: LegacyClient, source: Source) -> list[str]:
    return await asyncio.wrap_future(client.submit(source))


# -- many sources --------------------------------------------------------------------------
# Not a rule finding (nothing blocks the loop here), a matter of style: the bad version waits for
# one source after another and has no deadline, so one slow upstream holds up the whole run.
async def fetch_all_bad(sources: list[Source]) -> dict[str, list[str]]:
    return {source.name: await source.fetch() for source in sources}


async def fetch_all_fixed(sources: list[Source], timeout: float = 1.0) -> dict[str, list[str]]:
    """Every source at once (a TaskGroup), each with a deadline; late sources are left out."""

    async def one(source: Source) -> tuple[str, list[str] | None]:
        try:
            return source.name, await compat.within(timeout, source.fetch())
        except asyncio.TimeoutError:  # the builtin TimeoutError on 3.11+
            return source.name, None

    results = await compat.gather_all(one(source) for source in sources)
    return {name: items for name, items in results if items is not None}


# -- an accepted blocking call -------------------------------------------------------------
async def connect_vendor() -> str:
    return vendor_handshake()  # 5 ms of time.sleep, once: allowed, with a reason, by the test
