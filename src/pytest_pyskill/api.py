"""The object behind the ``pyskill`` fixture: the test's own view of what it sent."""

from __future__ import annotations

from collections import Counter

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

    def max_queries(self, n: int, *, using: str | None = None) -> BlockBudget:
        """Fail (``AssertionError``) if the block sends more than ``n`` data statements."""
        try:
            _max_queries(n, using=using)
        except MarkerError as exc:
            raise ValueError(f"pyskill.max_queries: {exc}") from None
        return BlockBudget(self._recorder, n, using)


class BlockBudget:
    """``with pyskill.max_queries(n) as block:`` -- ``block.count`` is what the block sent."""

    def __init__(self, recorder: Recorder, n: int, using: str | None) -> None:
        self._recorder = recorder
        self.limit = n
        self.using = using
        self._block = Block(using)

    @property
    def count(self) -> int:
        return self._block.count

    @property
    def events(self) -> list[StatementEvent]:
        return list(self._block.events)

    def __enter__(self) -> BlockBudget:
        window = self._recorder.window
        if window is None:
            raise RuntimeError(
                "pyskill.max_queries() counts inside the test body; for fixture set-up, run "
                "with --pyskill-capture-fixtures"
            )
        window.blocks.append(self._block)
        self._window = window
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        __tracebackhide__ = True
        if self._block in self._window.blocks:
            self._window.blocks.remove(self._block)
        if exc_type is None and self._block.count > self.limit:
            on = f" on {self.using!r}" if self.using else ""
            shapes = Counter((e.shape.fingerprint, str(e.callsite)) for e in self._block.events)
            listing = "\n".join(
                f"  {count} x {fp}  [{site}]" for (fp, site), count in shapes.most_common()
            )
            raise QueryBudgetExceeded(
                f"pyskill.max_queries({self.limit}): the block sent {self._block.count} "
                f"statements{on}\n{listing}"
            )
