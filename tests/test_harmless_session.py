"""Never harmful, the session's side: third-party rule data, warning filters, severities,
reruns and subtests, report files, internal-error accounting.

Each test runs a tiny project in a subprocess, as a user would.
"""

from __future__ import annotations

import json

import pytest

APP = """
import sqlite3

def lookup_twice():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a int)")
    for i in range(2):
        conn.execute("SELECT a FROM t WHERE a = ?", (i,))
"""

RULE = """
from pytest_pyskill import Finding, Location

class RepeatedSelect:
    id = "repeated-select"
    summary = "the same SELECT twice from one line"
    severity = "warning"

    def check(self, run):
        for g in run.groups:
            if g.shape.kind == "select" and g.count >= 2 and g.callsite.primary:
                yield Finding(
                    rule=self.id, severity=self.severity,
                    message=f"{g.count} x the same SELECT", count=g.count,
                    location=Location.of(g.callsite.primary), label="t",
                )
"""

TESTS = """
import app

def test_finding():
    app.lookup_twice()

def test_clean():
    pass
"""

BAD_RULES = (
    RULE
    + """
class NotAFinding:
    id = "not-a-finding"
    summary = "yields a string"
    severity = "warning"

    def check(self, run):
        if run.total:
            yield "oops"

class BadExtra:
    id = "bad-extra"
    summary = "an extra value JSON cannot hold"
    severity = "warning"

    def check(self, run):
        if run.total:
            yield Finding(rule=self.id, severity="warning", message="m", extra=(("when", object()),))

def pytest_pyskill_rules(config):
    return [RepeatedSelect(), NotAFinding(), BadExtra()]
"""
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(
        RULE + "\ndef pytest_pyskill_rules(config):\n    return [RepeatedSelect()]\n"
    )
    pytester.makepyfile(app=APP, test_it=TESTS)
    return pytester


# -- item 5: third-party data is checked where it enters --------------------------------------


@pytest.mark.parametrize("mode", [(), ("--pyskill-strict",)], ids=["warn", "strict"])
@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_bad_findings_from_a_rule_are_dropped_and_reported_once(
    project: pytest.Pytester, run, mode: tuple[str, ...], workers: tuple[str, ...]
) -> None:
    project.makeconftest(BAD_RULES)
    project.makepyfile(test_more="import app\n\ndef test_again():\n    app.lookup_twice()\n")
    result = run("--pyskill-json=report.json", *mode, *workers)
    # Only the good rule's findings count: warnings in warn mode, failures in strict mode.
    if mode:
        result.assert_outcomes(passed=1, failed=2)
    else:
        result.assert_outcomes(passed=3, warnings=2)
    report = json.loads((project.path / "report.json").read_text())
    assert [f["rule"] for f in report["findings"]] == ["repeated-select", "repeated-select"]
    assert report["summary"]["internal_errors"] == [
        "rule bad-extra yielded a Finding whose extra 'when' is not JSON-serialisable (object); dropped it",
        "rule not-a-finding yielded a str, not a Finding; dropped it",
    ] or sorted(report["summary"]["internal_errors"]) == sorted(
        [
            "rule bad-extra yielded a Finding whose extra 'when' is not JSON-serialisable (object); dropped it",
            "rule not-a-finding yielded a str, not a Finding; dropped it",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        ["pyskill internal error (reported, not raised): rule not-a-finding yielded a str*"]
    )
    assert result.stdout.str().count("rule not-a-finding yielded") == 1


def test_a_bad_replacement_from_the_finding_hook_keeps_the_finding(
    project: pytest.Pytester, run
) -> None:
    project.makeconftest(
        RULE
        + """
import dataclasses

def pytest_pyskill_rules(config):
    return [RepeatedSelect()]

def pytest_pyskill_finding(finding, item):
    return dataclasses.replace(finding, extra=(("obj", {1, 2}),))
"""
    )
    result = run("--pyskill-json=report.json", "-n", "2")
    result.assert_outcomes(passed=2, warnings=1)
    report = json.loads((project.path / "report.json").read_text())
    assert len(report["findings"]) == 1
    assert "obj" not in report["findings"][0]
    assert report["summary"]["internal_errors"] == [
        "pytest_pyskill_finding hook returned a Finding whose extra 'obj' is not "
        "JSON-serialisable (set) for a repeated-select finding; kept the finding unchanged"
    ]


# -- item 12: warning filters decide, exactly as for any other warning -------------------------

W = "pytest_pyskill.PyskillWarning"


@pytest.mark.parametrize(
    ("args", "ini", "outcomes"),
    [
        (("-W", f"ignore::{W}"), "", {"passed": 2, "warnings": 0}),
        (("-W", f"error::{W}", "-W", f"ignore::{W}"), "", {"passed": 2, "warnings": 0}),
        (("-W", f"ignore::{W}", "-W", f"error::{W}"), "", {"passed": 1, "failed": 1}),
        ((), f"error::{W}", {"passed": 1, "failed": 1}),
        ((), f"error:repeated-select:{W}", {"passed": 1, "failed": 1}),
        ((), f"error:n-plus-one:{W}", {"passed": 2, "warnings": 1}),
        ((), "error", {"passed": 2, "warnings": 1}),
    ],
    ids=[
        "ignore",
        "error-then-ignore",
        "ignore-then-error",
        "ini-error",
        "regex-matches",
        "regex-does-not-match",
        "blanket-error",
    ],
)
def test_warning_filters_decide(
    project: pytest.Pytester, run, args: tuple[str, ...], ini: str, outcomes: dict[str, int]
) -> None:
    if ini:
        project.makeini(f"[pytest]\nfilterwarnings =\n    {ini}\n")
    result = run("--pyskill-json=report.json", *args)
    result.assert_outcomes(**outcomes)
    # A filter decides what the warning does; the reports keep every finding.
    report = json.loads((project.path / "report.json").read_text())
    assert report["summary"]["findings"] == 1
    result.stdout.fnmatch_lines(["*statements in 2 tests; 1 finding (repeated-select: 1)"])


def test_a_test_can_opt_out_of_an_ini_error_filter(project: pytest.Pytester, run) -> None:
    project.makeini(f"[pytest]\nfilterwarnings =\n    error::{W}\n")
    project.makepyfile(
        test_it=f"""
import pytest
import app

@pytest.mark.filterwarnings("ignore::{W}")
def test_opted_out():
    app.lookup_twice()

def test_not_opted_out():
    app.lookup_twice()
"""
    )
    result = run("-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_it.py::test_not_opted_out - repeated-select*"])


def test_an_error_filter_fails_the_test_through_its_report(project: pytest.Pytester, run) -> None:
    """The finding becomes a failure of the test, not an exception in user code: a test that
    catches everything still fails, and teardown still runs."""
    project.makepyfile(
        test_it="""
import pytest
import app

@pytest.fixture
def resource():
    yield
    print("TEARDOWN-RAN")

def test_swallows(resource):
    try:
        app.lookup_twice()
    except BaseException:
        print("SWALLOWED")
"""
    )
    result = run("-W", f"error::{W}", "-s")
    result.assert_outcomes(failed=1)
    assert "SWALLOWED" not in result.stdout.str()
    assert "TEARDOWN-RAN" in result.stdout.str()


# -- item 13: severity info never fails, budgets included -------------------------------------


def test_info_severity_makes_a_budget_report_without_failing(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(
        app=APP,
        test_budget="""
import pytest
import app

@pytest.mark.max_queries(1)
def test_over_budget():
    app.lookup_twice()
""",
    )
    run().assert_outcomes(failed=1)
    result = run("--pyskill-severity=max-queries=info", "--pyskill-json=report.json")
    result.assert_outcomes(passed=1, warnings=1)
    report = json.loads((pytester.path / "report.json").read_text())
    assert [(f["rule"], f["severity"]) for f in report["findings"]] == [("max-queries", "info")]
    # Strict mode and an error filter do not change that either.
    run("--pyskill-severity=max-queries=info", "--pyskill-strict").assert_outcomes(
        passed=1, warnings=1
    )
    run("--pyskill-severity=max-queries=info", "-W", f"error::{W}").assert_outcomes(
        passed=1, warnings=1
    )


# -- item 11: reruns and subtests do not multiply counts --------------------------------------


def test_reruns_count_each_test_once(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
import app

attempts = []

def test_flaky():
    attempts.append(1)
    app.lookup_twice()
    assert len(attempts) == 3
"""
    )
    result = run("-p", "rerunfailures", "--reruns", "2", "--pyskill-json=report.json",
                 "--junitxml=junit.xml")  # fmt: skip
    outcomes = result.parseoutcomes()
    assert (outcomes["passed"], outcomes["rerun"]) == (1, 2)
    result.stdout.fnmatch_lines(["*statements in 1 tests; 1 finding (repeated-select: 1)"])
    report = json.loads((project.path / "report.json").read_text())
    assert report["summary"]["tests"] == 1
    assert report["summary"]["findings"] == 1
    assert report["summary"]["statements"] == 3
    junit = (project.path / "junit.xml").read_text()
    # junitxml writes a <testcase> per attempt; each carries its own attempt's properties once
    # (they were appended per attempt: 1, 2, then 3 sets).
    attempts = junit.count("<testcase ")
    assert junit.count('name="pyskill_findings"') == attempts
    assert junit.count('name="pyskill:repeated-select"') == attempts


@pytest.mark.skipif(
    not hasattr(pytest, "Subtests"), reason="pytest's own subtests fixture (pytest 9+)"
)
def test_subtests_are_not_tests(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
import unittest
import app

def test_with_subtests(subtests):
    for i in range(3):
        with subtests.test(i=i):
            app.lookup_twice()

class TestCase(unittest.TestCase):
    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                app.lookup_twice()
"""
    )
    result = run("--pyskill-json=report.json", "--pyskill-strict")
    report = json.loads((project.path / "report.json").read_text())
    assert report["summary"]["tests"] == 2
    assert report["summary"]["findings"] == 2
    assert report["summary"]["statements"] == 2 * 3 * 3
    result.stdout.fnmatch_lines(["*statements in 2 tests; 2 findings (repeated-select: 2)"])
    # The findings fail the two tests, not their subtests.
    result.stdout.fnmatch_lines(["*2 failed*"])
    assert "SUBFAILED" not in result.stdout.str()
