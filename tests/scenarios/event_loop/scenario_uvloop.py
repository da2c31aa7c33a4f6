"""The same mistakes on uvloop (its loop never calls asyncio.Handle._run)."""

import uvloop

from loopapp import blocking


def test_pos_nap():
    uvloop.run(blocking.nap())


def test_pos_read_config(data_dir):
    uvloop.run(blocking.read_config(data_dir / "f"))


def test_pos_crunch():
    uvloop.run(blocking.crunch())


def test_neg_nap_fixed():
    uvloop.run(blocking.nap_fixed())


def test_neg_crunch_fixed():
    uvloop.run(blocking.crunch_fixed())
