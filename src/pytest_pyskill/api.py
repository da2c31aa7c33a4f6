"""The object behind the ``pyskill`` fixture: the test's own view of what it sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from .markers import MarkerError, _max_queries
from .model import StatementEvent
from .recorder import Block, Recorder


class QueryBudgetExceeded(AssertionError):
    """Raised by ``with pyskill.max_queries(n):`` when the block sent more than ``n``."""


class Pyskill:
    """``pyskill.queries``: the statements this test sent so far; ``pyskill.max_queries(n)``: a
    budget for a block of code."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    @property
    def queries(self) -> list[StatementEvent]:
        """Every statement captured so far in this test (the first ``pyskill_max_events``)."""
        window = self._recorder.window
        return list(window.events) if window is not None else []

    def count(self, using: str | None = None) -> int:
        """Data statements so far (transaction control not counted), optionally on one alias."""
        window = self._recorder.window
        return window.data_count(using) if window is not None else 0

    @contextmanager
    def max_queries(self, n: int, *, using: str | None = None) -> Iterator[Block]:
        """Fail (``AssertionError``) if the block sends more than ``n`` data statements."""
        __tracebackhide__ = True
        try:
            _max_queries(n, using=using)
        except MarkerError as exc:
            raise ValueError(f"pyskill.max_queries: {exc}") from None
        window = self._recorder.window
        if window is None:
            raise RuntimeError(
                "pyskill.max_queries() counts inside the test body; for fixture set-up, run "
                "with --pyskill-capture-fixtures"
            )
        block = Block(using)
        window.blocks.append(block)
        try:
            yield block
        finally:
            window.blocks.remove(block)
        if block.count > n:
            on = f" on {using!r}" if using else ""
            shapes = Counter((e.shape.fingerprint, str(e.callsite)) for e in block.events)
            listing = "\n".join(
                f"  {count} x {fp}  [{site}]" for (fp, site), count in shapes.most_common()
            )
            raise QueryBudgetExceeded(
                f"pyskill.max_queries({n}): the block sent {block.count} statements{on}\n{listing}"
            )
