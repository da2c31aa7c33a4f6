from __future__ import annotations

import pytest
from feeds import report

ITEMS = ["asyncio 3.13 released", "uvloop 0.21 released", "asyncio streams explained"] * 20
FEEDS = {f"feed{i}": ITEMS for i in range(10)}


async def test_summary_bad():
    assert (await report.summarise_bad(ITEMS))[0] == ("asyncio", 40)


async def test_summary_fixed():
    assert (await report.summarise_fixed(ITEMS))[0] == ("asyncio", 40)


# 10 feeds x 40 ms: no single stall reaches the 100 ms slow-callback threshold, yet together they
# hold the loop for about 400 ms. The budget catches that (and fails the test in warn mode too).
@pytest.mark.max_loop_block(150)
async def test_digest_bad():
    assert len(await report.build_digest_bad(FEEDS)) == 10


@pytest.mark.max_loop_block(150)
async def test_digest_fixed():
    assert len(await report.build_digest_fixed(FEEDS)) == 10
