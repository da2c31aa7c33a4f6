"""Delivery: decide which of a test's findings fail it, issue the others as ``PyskillWarning``s
through the ``warnings`` machinery (the test's own filters decide, as for any warning), and
attach everything to the call report.

Two steps, because the two happen in different places:

- :func:`issue` runs at the end of the call phase, inside pytest's warning capture of the item,
  where the test's filters (ini, ``-W``, ``filterwarnings`` marks) are the active ones. A
  finding a filter turns into an error is caught here, never raised into user code.
- :func:`deliver` runs when the call report is made: it attaches the findings and fails the
  report where a finding must fail the test.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace

import pytest

from . import PyskillWarning
from .failures import longrepr
from .junit import junit_properties
from .model import Finding
from .session import ALLOWED, FAILING, FINDINGS, STATEMENTS, PyskillSession


def issue(session: PyskillSession, item: pytest.Item, findings: list[Finding]) -> None:
    """Sort the test's findings into failing ones (kept for the report) and warnings (issued
    now, under the test's warning filters)."""
    if session.baseline is not None:
        findings = [replace(f, baseline=session.baseline.status(f)) for f in findings]
    item.stash[FINDINGS] = findings
    failing: list[Finding] = []
    strict = session.settings.strict
    for finding in findings:
        if finding.baseline == "known":
            continue  # accepted: in the reports, neither a warning nor a failure
        fails = finding.severity != "info" and (finding.always_fails or strict)
        # Not failing by itself: a warning, which the test's filters may turn into an error
        # (info findings never fail a test, whatever the filters say).
        if fails or _warn(session, item, finding, may_fail=finding.severity != "info"):
            failing.append(finding)
    item.stash[FAILING] = failing


def deliver(session: PyskillSession, item: pytest.Item, report: pytest.TestReport) -> None:
    """Attach the test's findings to its call report (the same path serial and xdist) and fail
    it where a finding must fail it."""
    findings = item.stash.get(FINDINGS, [])
    failing = item.stash.get(FAILING, [])
    report.pyskill_statements = item.stash.get(STATEMENTS, 0)  # type: ignore[attr-defined]
    report.pyskill_findings = [f.to_dict() for f in findings]  # type: ignore[attr-defined]
    report.pyskill_allowed = dict(item.stash.get(ALLOWED, {}))  # type: ignore[attr-defined]
    report.pyskill_failing = sorted({f.rule for f in failing})  # type: ignore[attr-defined]
    recorder = session.recorder
    report.pyskill_errors = recorder.errors[session.reported_errors :]  # type: ignore[attr-defined]
    session.reported_errors = len(recorder.errors)
    dropped = recorder.errors_dropped - session.reported_dropped
    report.pyskill_errors_dropped = dropped  # type: ignore[attr-defined]
    session.reported_dropped = recorder.errors_dropped
    junit_properties(item, findings)
    if not failing:
        return
    verbose = item.config.get_verbosity() > 0
    text = "\n\n".join(f.render(verbose=verbose) for f in failing)
    if report.passed and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = longrepr(session, item, failing[0], text)
    else:
        report.sections.append(("pyskill findings", text))


def _warn(session: PyskillSession, item: pytest.Item, finding: Finding, may_fail: bool) -> bool:
    """Issue the finding as a ``PyskillWarning``; True when a filter naming PyskillWarning
    turned it into an error (the test then fails from its report). ``may_fail`` False (info
    findings): an error filter shows it as a warning.

    A blanket ``error`` filter (``-W error``, ``filterwarnings = error``, ``error::Warning``)
    shows the finding as a warning instead: warn mode must not change a suite's outcomes, so
    only a filter that asks for PyskillWarning by name makes findings fail."""
    loc = finding.location
    filename = str(session.config.rootpath / loc.path) if loc else str(item.path)
    lineno = loc.line if loc else 0
    module = _module_name(loc.path if loc else item.nodeid.split("::")[0])
    text = finding.render(details=False).replace("\n", "\n  ")
    try:
        warnings.warn_explicit(PyskillWarning(text), PyskillWarning, filename, lineno, module)
    except PyskillWarning:
        deciding = _deciding_category(text, module, lineno)
        if may_fail and isinstance(deciding, type) and issubclass(deciding, PyskillWarning):
            return True
        with warnings.catch_warnings():
            warnings.simplefilter("always", PyskillWarning)
            warnings.warn_explicit(PyskillWarning(text), PyskillWarning, filename, lineno, module)
    return False


def _module_name(path: str) -> str:
    """``shop/services.py`` -> ``shop.services``: what a ``-W action::category:module`` filter
    matches."""
    return re.sub(r"\.py$", "", path).replace("/", ".").replace("\\", ".")


def _deciding_category(text: str, module: str, lineno: int) -> object:
    """The category of the filter that decided a ``PyskillWarning`` with this text (Python's
    own matching rule: the first filter that matches wins)."""
    for _action, message, category, mod, line in warnings.filters:
        if (
            (message is None or message.match(text))
            and issubclass(PyskillWarning, category)
            and (mod is None or mod.match(module))
            and (line == 0 or line == lineno)
        ):
            return category
    return None
