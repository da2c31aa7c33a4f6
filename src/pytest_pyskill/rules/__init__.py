"""Built-in rules. The plugin registers them through ``pytest_pyskill_rules``, the same hook a
third-party rule uses."""

from __future__ import annotations

from .base import Budget, Rule, TestRun
from .event_loop import BlockingCall, MaxLoopBlock, SlowCallback
from .max_queries import MaxQueries
from .missing_transaction import MissingTransaction
from .n_plus_one import NPlusOne
from .unbatched import UnbatchedDelete, UnbatchedInsert, UnbatchedUpdate

__all__ = ["Budget", "Rule", "TestRun", "builtin_rules"]


def builtin_rules() -> list[Rule]:
    return [
        MaxQueries(),
        NPlusOne(),
        UnbatchedInsert(),
        UnbatchedUpdate(),
        UnbatchedDelete(),
        MissingTransaction(),
        BlockingCall(),
        SlowCallback(),
        MaxLoopBlock(),
    ]
