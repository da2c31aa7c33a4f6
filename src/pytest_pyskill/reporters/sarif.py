"""SARIF 2.1.0 (``--pyskill-sarif``), as GitHub code scanning reads it.

One result per (rule, place, label): the same finding from several tests is one alert that
lists them. ``partialFingerprints`` hash (rule, label, file, function), not the line, so an
alert survives unrelated edits above it. Paths are relative to ``%SRCROOT%`` (the rootdir).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..baseline import key_of
from ..model import Finding
from .files import atomic_write
from .session import SessionFindings

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}

# Longer help for the built-in rules (third-party rules get their summary).
HELP: dict[str, str] = {
    "max-queries": "The test set a query budget (max_queries marker or pyskill_max_queries) and "
    "sent more data statements. Batch or eager-load the repeated statements, or raise the budget.",
    "n-plus-one": "One query per row where one or two would do. Eager-load the relation "
    "(SQLAlchemy selectinload/joinedload, Django select_related/prefetch_related), undefer the "
    "column, or fetch the objects in one query (in_bulk, IN (...)).",
    "unbatched-insert": "The same single-row INSERT sent again and again from one line. Use "
    "bulk_create, session.add_all + one flush, or executemany.",
    "unbatched-update": "The same single-row UPDATE sent again and again from one line. Use "
    "queryset.update() with F() expressions, bulk_update, or one UPDATE ... WHERE id IN (...).",
    "unbatched-delete": "The same single-row DELETE sent again and again from one line. Use "
    "queryset.delete() or one DELETE ... WHERE id IN (...).",
    "missing-transaction": "One operation's writes are committed separately: a failure half way "
    "leaves half the change. Wrap the operation in transaction.atomic() / session.begin().",
    "blocking-call": "A blocking call ran on the thread of a running event loop, so nothing else "
    "ran meanwhile. Use the async API (asyncio.sleep, async drivers and clients) or "
    "await asyncio.to_thread(...).",
    "slow-callback": "The event loop did not get control back for longer than the threshold "
    "(CPU-bound work, a C-level wait). Move the work off the loop with asyncio.to_thread or a "
    "process pool, or yield inside long loops.",
    "max-loop-block": "The event loop was blocked for longer in total than the test's budget.",
}


def fingerprint(finding: Finding) -> str:
    return hashlib.sha256("|".join(key_of(finding)).encode()).hexdigest()[:32]


def _place(finding: Finding) -> tuple[str, int]:
    if finding.location is not None:
        return finding.location.path, max(1, finding.location.line)
    return finding.test.split("::")[0], 1


def document(
    data: SessionFindings,
    rules: Mapping[str, Any],
    tool_version: str,
    rootdir: str,
) -> dict[str, Any]:
    grouped: dict[tuple[str, str, int, str], list[Finding]] = {}
    for finding in data.findings:
        path, line = _place(finding)
        grouped.setdefault((finding.rule, path, line, finding.label or ""), []).append(finding)
    rule_ids = sorted(set(rules) | {f.rule for f in data.findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = [
        _result(key, items, index, data.baseline_path is not None)
        for key, items in sorted(grouped.items())
    ]
    root_uri = Path(rootdir).resolve().as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pytest-pyskill",
                        "version": tool_version,
                        "informationUri": "https://pypi.org/project/pytest-pyskill/",
                        "rules": [_rule(rule_id, rules.get(rule_id)) for rule_id in rule_ids],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
                "results": results,
            }
        ],
    }


def _rule(rule_id: str, rule: Any) -> dict[str, Any]:
    summary = str(getattr(rule, "summary", "") or rule_id)
    severity = str(getattr(rule, "severity", "warning"))
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": summary},
        "fullDescription": {"text": HELP.get(rule_id, summary)},
        "help": {"text": HELP.get(rule_id, summary)},
        "defaultConfiguration": {"level": LEVELS.get(severity, "warning")},
    }


def _result(
    key: tuple[str, str, int, str],
    items: list[Finding],
    index: Mapping[str, int],
    with_baseline: bool,
) -> dict[str, Any]:
    rule, path, line, _label = key
    first = items[0]
    tests = sorted({f.test for f in items})
    text = first.message
    if first.fix:
        text += f". Fix: {first.fix}"
    text += f" (in {len(tests)} test{'s' if len(tests) != 1 else ''}: {', '.join(tests[:3])}"
    text += f" and {len(tests) - 3} more)" if len(tests) > 3 else ")"
    location: dict[str, Any] = {"uri": path}
    if not Path(path).is_absolute():
        location["uriBaseId"] = "%SRCROOT%"
    result: dict[str, Any] = {
        "ruleId": rule,
        "ruleIndex": index[rule],
        "level": LEVELS.get(first.severity, "warning"),
        "message": {"text": text},
        "locations": [
            {"physicalLocation": {"artifactLocation": location, "region": {"startLine": line}}}
        ],
        "partialFingerprints": {"pyskill/v1": fingerprint(first)},
    }
    if with_baseline:
        known = all(f.baseline == "known" for f in items)
        result["baselineState"] = "unchanged" if known else "new"
    return result


def write(
    path: str,
    data: SessionFindings,
    rules: Mapping[str, Any],
    tool_version: str,
    rootdir: str,
    mode: int = 0o644,
) -> None:
    text = json.dumps(document(data, rules, tool_version, rootdir), indent=2) + "\n"
    atomic_write(path, text, mode)
