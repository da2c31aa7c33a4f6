"""feeds: a small feed aggregator on plain asyncio.

Each event-loop mistake is a ``*_bad`` function next to its ``*_fixed`` twin.
"""
