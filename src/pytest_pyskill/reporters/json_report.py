"""The JSON report (``--pyskill-json``). Schema version 2; see the README."""

from __future__ import annotations

import json
from typing import Any

from .files import atomic_write
from .session import SessionFindings

SCHEMA_VERSION = 2


def document(data: SessionFindings, tool_version: str) -> dict[str, Any]:
    findings = sorted(
        data.findings,
        key=lambda f: (
            f.test,
            f.rule,
            f.location.path if f.location else "",
            f.location.line if f.location else 0,
            f.message,
        ),
    )
    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": "pytest-pyskill", "version": tool_version},
        "summary": {
            "tests": data.tests,
            "statements": data.statements,
            "findings": len(findings),
            "by_rule": data.by_rule(),
            "internal_errors": list(data.errors),
            "internal_errors_not_listed": data.errors_dropped,
            "baseline": data.baseline_summary(),
        },
        "findings": [f.to_dict() for f in findings],
    }


def write(path: str, data: SessionFindings, tool_version: str, mode: int = 0o644) -> None:
    """Write atomically: a reader never sees half a report."""
    atomic_write(path, json.dumps(document(data, tool_version), indent=2) + "\n", mode)
