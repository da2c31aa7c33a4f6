"""Imported by the conftest, before the plugin starts watching: ``sleep`` is bound early."""

from time import sleep


async def early_bound_sleep():
    sleep(0.02)
