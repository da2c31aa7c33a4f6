"""Rule evaluation: run every active rule over one test's window, apply ignores, severity
overrides and the ``pytest_pyskill_finding`` hook."""

from __future__ import annotations

import linecache
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from . import markers
from .model import Finding, Location, LoopEvent, finding_problem
from .recorder import Window
from .rules.base import Budget, TestRun
from .session import MARKS, PyskillSession

_LINE_IGNORE = re.compile(r"#\s*pyskill:\s*ignore(?:\[([^\]]*)\])?")


def _budget(session: PyskillSession, marks: markers.TestMarks) -> Budget | None:
    if marks.max_queries is not None:
        limit, using = marks.max_queries
        return Budget(limit, using, "marker")
    if session.settings.max_queries is not None:
        return Budget(session.settings.max_queries, None, "ini")
    return None


def _line_ignores(finding: Finding, rootpath: Path) -> bool:
    loc = finding.location
    if loc is None:
        return False
    line = linecache.getline(str(rootpath / loc.path), loc.line)
    match = _LINE_IGNORE.search(line)
    if not match:
        return False
    named = match.group(1)
    return named is None or finding.rule in {r.strip() for r in named.split(",")}


def evaluate(
    session: PyskillSession,
    item: pytest.Item,
    window: Window,
    loop_events: list[LoopEvent] | None = None,
) -> list[Finding]:
    """Run every active rule over the window; filter by ignores and the finding hook."""
    marks = item.stash.get(MARKS, None) or markers.TestMarks()
    path, lineno, _domain = item.location
    data_count: dict[str | None, int] = {None: window.data_total}
    data_count.update(window.data_by_target)
    run = TestRun(
        nodeid=item.nodeid,
        events=tuple(window.events),
        groups=tuple(window.groups.values()),
        total=window.total,
        data_count=data_count,
        dropped=window.dropped,
        budget=_budget(session, marks),
        test_location=Location(path, (lineno or 0) + 1, item.name),
        options={
            "n_plus_one_threshold": session.settings.n_plus_one_threshold,
            "unbatched_threshold": session.settings.unbatched_threshold,
            "check_test_code": session.settings.check_test_code,
            "slow_callback_ms": session.settings.slow_callback_ms,
            "loop_tick": session.loop.tick if session.loop is not None else 0.01,
            "max_loop_block_ms": marks.max_loop_block
            if marks.max_loop_block is not None
            else session.settings.max_loop_block_ms,
            "max_loop_block_origin": "max_loop_block marker"
            if marks.max_loop_block is not None
            else "pyskill_max_loop_block_ms",
            **{f"{name}_threshold": value for name, value in marks.thresholds},
        },
        loop_events=tuple(loop_events or ()),
    )
    ignored = session.settings.ignore | marks.ignore
    severities: dict[str, Any] = dict(session.settings.severity)
    found: list[Finding] = []
    for rule in session.rules.values():
        if marks.ignore_all or rule.id in ignored:
            continue
        try:
            results = list(rule.check(run))
        except Exception as exc:
            session.recorder.internal_error(f"rule {rule.id} on {item.nodeid}", exc)
            continue
        severity = severities.get(rule.id)
        for result in results:
            problem = finding_problem(result)
            if problem is not None:
                session.recorder.problem(f"rule {rule.id} yielded {problem}; dropped it")
                continue
            assert isinstance(result, Finding)
            finding = replace(result, test=item.nodeid)
            if severity is not None:
                finding = replace(finding, severity=severity)
            if _line_ignores(finding, session.config.rootpath):
                continue
            kept = _finding_hook(session, item, finding)
            if kept is not None:
                found.append(kept)
    return found


def _finding_hook(session: PyskillSession, item: pytest.Item, finding: Finding) -> Finding | None:
    """The finding after ``pytest_pyskill_finding`` (None: dropped by the hook). A hook that
    raises or returns something unusable is an internal error; the finding stays as it was."""
    try:
        changed = item.config.hook.pytest_pyskill_finding(finding=finding, item=item)
    except Exception as exc:
        session.recorder.internal_error("pytest_pyskill_finding hook", exc)
        return finding
    if changed is None or changed is True:
        return finding
    if changed is False:
        return None
    problem = finding_problem(changed)
    if problem is not None:
        what = problem if isinstance(changed, Finding) else f"{problem}, False or None"
        session.recorder.problem(
            f"pytest_pyskill_finding hook returned {what} for a {finding.rule} finding; "
            "kept the finding unchanged"
        )
        return finding
    assert isinstance(changed, Finding)
    return changed
