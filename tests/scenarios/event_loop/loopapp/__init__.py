"""A small asyncio service with the blocking mistakes pytest-pyskill should catch, each next to
its fixed twin."""
