"""JUnit XML: short ``<property>`` values per test."""

from __future__ import annotations

import pytest

from .model import Finding
from .session import STATEMENTS


def junit_properties(item: pytest.Item, findings: list[Finding]) -> None:
    """Short ``<property>`` values for JUnit XML (appended before teardown: pytest writes the
    teardown report's ``user_properties``); the details stay in the JSON report."""
    if not getattr(item.config.option, "xmlpath", None):
        return
    props = item.user_properties
    # Once per test: a rerun attempt replaces the earlier attempt's properties.
    props[:] = [p for p in props if not str(p[0]).startswith("pyskill")]
    props.append(("pyskill_statements", str(item.stash.get(STATEMENTS, 0))))
    props.append(("pyskill_findings", str(len(findings))))
    for finding in findings:
        loc = finding.location
        where = f"{loc.path}:{loc.line}" if loc else finding.test
        known = " (baseline)" if finding.baseline == "known" else ""
        props.append((f"pyskill:{finding.rule}", f"{where} {finding.label or ''}{known}".strip()))
