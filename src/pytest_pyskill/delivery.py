"""Delivery: attach a test's findings to its call report, fail it where a finding must fail it,
and deliver the rest as ``PyskillWarning``s."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import pytest

from . import PyskillWarning
from .failures import longrepr as _longrepr
from .junit import junit_properties as _junit_properties
from .model import Finding
from .session import ALLOWED, FINDINGS, STATEMENTS, PyskillSession
from .startup import _names_pyskill_error


def _item_wants_errors(item: pytest.Item) -> bool:
    return any(
        _names_pyskill_error(str(arg))
        for mark in item.iter_markers("filterwarnings")
        for arg in mark.args
    )


def deliver(session: PyskillSession, item: pytest.Item, report: pytest.TestReport) -> None:
    """Attach the test's findings to its call report; fail it where a finding must fail it;
    deliver the rest as ``PyskillWarning``s after the phase (never raised in user code)."""
    findings = item.stash.get(FINDINGS, [])
    if session.baseline is not None:
        findings = [replace(f, baseline=session.baseline.status(f)) for f in findings]
    _junit_properties(item, findings)
    report.pyskill_statements = item.stash.get(STATEMENTS, 0)  # type: ignore[attr-defined]
    report.pyskill_findings = [f.to_dict() for f in findings]  # type: ignore[attr-defined]
    report.pyskill_allowed = dict(item.stash.get(ALLOWED, {}))  # type: ignore[attr-defined]
    errors = session.recorder.errors
    report.pyskill_errors = errors[session.reported_errors :]  # type: ignore[attr-defined]
    session.reported_errors = len(errors)
    if not findings:
        return
    strict = session.settings.strict or session.warn_as_error or _item_wants_errors(item)
    failing = [
        f
        for f in findings
        if f.always_fails or (strict and f.severity != "info" and f.baseline != "known")
    ]
    warn = [f for f in findings if f not in failing and f.baseline != "known"]
    if failing:
        verbose = item.config.get_verbosity() > 0
        text = "\n\n".join(f.render(verbose=verbose) for f in failing)
        if report.passed and not hasattr(report, "wasxfail"):
            report.outcome = "failed"
            report.longrepr = _longrepr(session, item, failing[0], text)
        else:
            report.sections.append(("pyskill findings", text))
    for finding in warn:
        _warn(session, item, finding)


def _warn(session: PyskillSession, item: pytest.Item, finding: Finding) -> None:
    loc = finding.location
    filename = str(session.config.rootpath / loc.path) if loc else str(item.path)
    lineno = loc.line if loc else 0
    text = finding.render(details=False).replace("\n", "\n  ")
    message: Any = warnings.WarningMessage(PyskillWarning(text), PyskillWarning, filename, lineno)
    item.ihook.pytest_warning_recorded.call_historic(
        kwargs={
            "warning_message": message,
            "when": "runtest",
            "nodeid": item.nodeid,
            "location": None,
        }
    )
