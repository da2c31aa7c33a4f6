"""Run by the anyio pytest plugin on the asyncio backend."""

import pytest

from loopapp import blocking

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def test_pos_nap():
    await blocking.nap()


async def test_pos_read_config(data_dir):
    await blocking.read_config(data_dir / "f")


async def test_pos_crunch():
    await blocking.crunch()


async def test_neg_nap_fixed():
    await blocking.nap_fixed()


async def test_neg_crunch_fixed():
    await blocking.crunch_fixed()
