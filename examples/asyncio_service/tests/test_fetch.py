from __future__ import annotations

import asyncio
import sys
import time

import pytest
from feeds import fetch
from feeds.sources import Source

COMMAND = [sys.executable, "-c", "print('feeds 1.0'); print('feeds 1.1')"]


async def test_backoff_bad():
    source = Source("status", ["all good"], failures=2)
    assert await fetch.fetch_with_retry_bad(source) == ["all good"]


async def test_backoff_fixed():
    source = Source("status", ["all good"], failures=2)
    assert await fetch.fetch_with_retry_fixed(source) == ["all good"]


async def test_http_bad(feed_server):
    items = await fetch.fetch_url_bad(f"{feed_server}/feeds/releases")
    assert items == ["asyncio 3.13 released", "uvloop 0.21 released"]


async def test_http_fixed(feed_server):
    items = await fetch.fetch_url_fixed(f"{feed_server}/feeds/releases")
    assert items == ["asyncio 3.13 released", "uvloop 0.21 released"]


async def test_command_bad():
    assert await fetch.fetch_command_bad(COMMAND) == ["feeds 1.0", "feeds 1.1"]


async def test_command_fixed():
    assert await fetch.fetch_command_fixed(COMMAND) == ["feeds 1.0", "feeds 1.1"]


async def test_legacy_client_bad(legacy_client):
    source = Source("archive", ["2019 digest"])
    assert await fetch.fetch_legacy_bad(legacy_client, source) == ["2019 digest"]


async def test_legacy_client_fixed(legacy_client):
    source = Source("archive", ["2019 digest"])
    assert await fetch.fetch_legacy_fixed(legacy_client, source) == ["2019 digest"]


def _sources() -> list[Source]:
    return [Source(f"feed{i}", [f"item {i}"], latency=0.1) for i in range(5)]


async def test_fetch_all_bad():
    started = time.perf_counter()
    assert len(await fetch.fetch_all_bad(_sources())) == 5
    assert time.perf_counter() - started >= 0.45  # 5 x 0.1 s, one after another
    # A hung upstream hangs the whole run: only a deadline added by the caller gets it back.
    hung = Source("hung", latency=3600)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(fetch.fetch_all_bad([*_sources(), hung]), 0.7)


async def test_fetch_all_fixed():
    # All at once, each with a deadline: the hung upstream is left out after 0.2 s.
    started = time.perf_counter()
    result = await fetch.fetch_all_fixed([*_sources(), Source("hung", latency=3600)], timeout=0.2)
    assert sorted(result) == [f"feed{i}" for i in range(5)]
    assert time.perf_counter() - started < 0.45  # one after another would take 0.5 s


# The SDK's 5 ms start-up pause is accepted: allowed in this test, with the reason on record.
# For one block instead: `with pytest_pyskill.allow_blocking("time.sleep", reason=...):`.
@pytest.mark.pyskill_allow("time.sleep", reason="the vendor SDK's 5 ms start-up pause")
async def test_handshake_allowed():
    assert await fetch.connect_vendor() == "ok"
