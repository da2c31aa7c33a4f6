"""Sync tests: no loop (never flagged) and a loop started with asyncio.run (watched)."""

import asyncio

from loopapp import blocking


def test_neg_sync_test_no_loop(data_dir):
    blocking.cpu(0.15)
    asyncio.run(blocking.nap_fixed())
    with open(data_dir / "f") as f:
        f.read()


def test_pos_asyncio_run_in_sync_test():
    asyncio.run(blocking.nap())
