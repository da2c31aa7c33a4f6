"""A finding that fails a test, as the report's failure representation."""

from __future__ import annotations

from typing import Any

import pytest

from .model import Finding
from .session import PyskillSession


def longrepr(session: PyskillSession, item: pytest.Item, first: Finding, text: str) -> Any:
    """The failure as pytest's own failure objects: the short summary shows its first line on
    pytest 8 and 9 alike, and xdist carries it to the controller intact."""
    try:
        from _pytest._code.code import (
            ReprEntryNative,
            ReprExceptionInfo,
            ReprFileLocation,
            ReprTraceback,
        )

        loc = first.location
        path = str(session.config.rootpath / loc.path) if loc else str(item.path)
        lines = [line + "\n" for line in text.splitlines()]
        return ReprExceptionInfo(
            reprtraceback=ReprTraceback([ReprEntryNative(lines)], None, "native"),
            reprcrash=ReprFileLocation(path, loc.line if loc else 0, text.splitlines()[0]),
        )
    except Exception:  # a pytest without these classes: plain text still fails the test
        return text
