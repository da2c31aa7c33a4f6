"""The JSON report (``--pyskill-json``). Schema version 1; see the README."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from .session import SessionFindings

SCHEMA_VERSION = 1


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
        },
        "findings": [f.to_dict() for f in findings],
    }


def write(path: str, data: SessionFindings, tool_version: str) -> None:
    """Write atomically: a reader never sees half a report."""
    text = json.dumps(document(data, tool_version), indent=2, sort_keys=False) + "\n"
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pyskill-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
