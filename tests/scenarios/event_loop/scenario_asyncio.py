"""Run by pytest-asyncio (strict mode, and auto mode by the outer test)."""

import asyncio

import pytest

from loopapp import blocking, early

pytestmark = pytest.mark.asyncio


async def test_pos_nap():
    await blocking.nap()


async def test_pos_early_bound_sleep():
    await early.early_bound_sleep()


async def test_pos_read_config(data_dir):
    await blocking.read_config(data_dir / "f")


async def test_pos_read_with_pathlib(data_dir):
    await blocking.read_with_pathlib(data_dir / "f")


async def test_pos_list_dir(data_dir):
    await blocking.list_dir(data_dir)


async def test_pos_walk_tree(data_dir):
    await blocking.walk_tree(data_dir)


async def test_pos_file_exists(data_dir):
    await blocking.file_exists(data_dir / "f")


async def test_pos_fetch_tcp(tcp_port):
    await blocking.fetch_tcp(tcp_port)


async def test_pos_resolve():
    await blocking.resolve()


async def test_pos_http_get(http_url):
    await blocking.http_get(http_url)


async def test_pos_run_command():
    await blocking.run_command()


async def test_pos_shell():
    await blocking.shell()


async def test_pos_wait_event():
    await blocking.wait_event()


async def test_pos_wait_future():
    await blocking.wait_future()


async def test_pos_queue_get():
    await blocking.queue_get()


async def test_pos_join_thread():
    await blocking.join_thread()


async def test_pos_ask_user():
    await blocking.ask_user()


async def test_pos_nap_in_async_fixture(napping_fixture):
    pass


async def test_pos_crunch():
    await blocking.crunch()


async def test_pos_c_level_wait():
    await blocking.c_level_wait()


async def test_pos_nap_long():
    await blocking.nap_long()


async def test_neg_nap_fixed():
    await blocking.nap_fixed()


async def test_neg_read_config_fixed(data_dir):
    await blocking.read_config_fixed(data_dir / "f")


async def test_neg_fetch_tcp_fixed(tcp_port):
    await blocking.fetch_tcp_fixed(tcp_port)


async def test_neg_resolve_fixed():
    await blocking.resolve_fixed()


async def test_neg_run_command_fixed():
    await blocking.run_command_fixed()


async def test_neg_wait_future_fixed():
    await blocking.wait_future_fixed()


async def test_neg_uncontended():
    await blocking.uncontended()


async def test_neg_in_memory_and_stdout():
    await blocking.in_memory_and_stdout()


async def test_neg_in_worker_threads(data_dir):
    await blocking.in_worker_threads(data_dir)


async def test_neg_first_import():
    await blocking.first_import()


async def test_neg_crunch_fixed():
    await blocking.crunch_fixed()


async def test_neg_many_small_stalls():
    await blocking.many_small_stalls()


async def test_neg_sleep_in_test_code():
    import time

    time.sleep(0.02)  # the test's own code: reported only with --pyskill-check-test-code
