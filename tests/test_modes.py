"""Warn and strict modes, suppression, extension hooks, reports and never-harmful behaviour.

A conftest rule (``repeated-select``: the same SELECT shape twice from one call site) stands in
for the built-in rules here, which also shows the extension hook end to end.
"""

from __future__ import annotations

import json
import os

import pytest

CONFTEST_RULE = """
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
                    location=Location.of(g.callsite.primary), label=g.shape.tables[0] if g.shape.tables else None,
                    fingerprint=g.shape.fingerprint, fix="fetch once",
                )

def pytest_pyskill_rules(config):
    return [RepeatedSelect()]
"""

APP = """
import sqlite3

def lookup_twice():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a int)")
    for i in range(2):
        conn.execute("SELECT a FROM t WHERE a = ?", (i,))

def lookup_once():
    conn = sqlite3.connect(":memory:")
    conn.execute("SELECT 1")
"""

TESTS = """
import app

def test_finding():
    app.lookup_twice()

def test_clean():
    app.lookup_once()
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST_RULE)
    pytester.makepyfile(app=APP, test_it=TESTS)
    return pytester


def test_warn_mode_reports_without_changing_outcomes(project: pytest.Pytester, run) -> None:
    result = run()
    result.assert_outcomes(passed=2, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "pyskill: mode=warn, capture=*dbapi*",
            "*app.py:7: PyskillWarning: repeated-select: 2 x the same SELECT",
            "*= pyskill =*",
            "*statements in 2 tests; 1 finding (repeated-select: 1)",
            "repeated-select: 1 in 1 place",
            "  app.py:7 in lookup_twice  (1x)",
            "    SELECT a FROM t WHERE a = ?",
            "    fix: fetch once",
            "    in test_it.py::test_finding",
        ]
    )


def test_blanket_error_filter_does_not_turn_findings_into_failures(
    project: pytest.Pytester, run
) -> None:
    project.makeini("[pytest]\nfilterwarnings = error\n")
    run().assert_outcomes(passed=2, warnings=1)
    run("-W", "error").assert_outcomes(passed=2, warnings=1)


def test_asking_by_name_makes_findings_errors(project: pytest.Pytester, run) -> None:
    result = run("-W", "error::pytest_pyskill.PyskillWarning")
    result.assert_outcomes(passed=1, failed=1)
    project.makeini("[pytest]\nfilterwarnings =\n    error::pytest_pyskill.PyskillWarning\n")
    run().assert_outcomes(passed=1, failed=1)


def test_strict_mode_fails_the_test_that_caused_the_finding(project: pytest.Pytester, run) -> None:
    result = run("--pyskill-strict")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "pyskill: mode=strict*",
            "*_ test_finding _*",
            "repeated-select: 2 x the same SELECT",
            "  at app.py:7 in lookup_twice",
            "  SELECT a FROM t WHERE a = ?",
            "  fix: fetch once",
            "FAILED test_it.py::test_finding - repeated-select: 2 x the same SELECT",
        ]
    )
    project.makeini("[pytest]\npyskill_strict = true\n")
    run().assert_outcomes(passed=1, failed=1)


def test_strict_keeps_a_tests_own_failure_first(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import app

        def test_fails_itself():
            app.lookup_twice()
            assert 1 == 2, "own failure"
        """
    )
    result = run("--pyskill-strict")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert out.index("own failure") < out.index("repeated-select: 2 x the same SELECT")
    result.stdout.fnmatch_lines(["*- pyskill findings -*"])


def test_xfail_is_left_alone_in_strict_mode(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import pytest, app

        @pytest.mark.xfail(reason="known")
        def test_x():
            app.lookup_twice()
            assert False
        """
    )
    run("--pyskill-strict").assert_outcomes(xfailed=1)


@pytest.mark.parametrize(
    "how",
    [
        ("--pyskill-ignore=repeated-select",),
        ("-o", "pyskill_ignore=repeated-select,max-queries"),
    ],
)
def test_ignore_rule_globally(project: pytest.Pytester, run, how: tuple[str, ...]) -> None:
    result = run("--pyskill-strict", *how)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*0 findings*"])


def test_ignore_per_test_and_per_line(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        app=APP.replace(
            'conn.execute("SELECT a FROM t WHERE a = ?", (i,))',
            'conn.execute("SELECT a FROM t WHERE a = ?", (i,))  # pyskill: ignore[repeated-select]',
        ),
        test_it="""
        import pytest, app, sqlite3

        def test_line_comment():
            app.lookup_twice()

        @pytest.mark.pyskill_ignore("repeated-select", reason="legacy")
        def test_marker():
            conn = sqlite3.connect(":memory:")
            for i in range(3):
                conn.execute("SELECT ?", (i,))

        @pytest.mark.pyskill_ignore
        def test_marker_all():
            conn = sqlite3.connect(":memory:")
            for i in range(3):
                conn.execute("SELECT ?", (i,))

        def test_not_ignored():
            conn = sqlite3.connect(":memory:")
            for i in range(3):
                conn.execute("SELECT ?", (i,))
        """,
    )
    # Only the conftest rule is under test here: the built-in n-plus-one backstop would also
    # (rightly) flag the three identical SELECTs.
    result = run("--pyskill-strict", "--pyskill-ignore=n-plus-one")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_it.py::test_not_ignored*"])


def test_unknown_rule_names_are_usage_errors(project: pytest.Pytester, run) -> None:
    result = run("--pyskill-ignore=n-plus-won")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*pyskill: unknown rule 'n-plus-won' in --pyskill-ignore / pyskill_ignore; "
            "valid rules: blocking-call, max-loop-block, max-queries, missing-transaction, "
            "n-plus-one, repeated-select, slow-callback, unbatched-delete, unbatched-insert, "
            "unbatched-update"
        ]
    )
    assert "Traceback" not in result.stderr.str()
    project.makepyfile(
        test_marker="""
        import pytest

        @pytest.mark.pyskill_ignore("nope")
        def test_it():
            pass
        """
    )
    result = run("test_marker.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.pyskill_ignore: unknown rule 'nope'; valid rules: *"]
    )


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        (
            "pyskill_strict = maybe",
            "pyskill: pyskill_strict = 'maybe' is not a boolean; use true or false",
        ),
        (
            "pyskill_max_queries = lots",
            "pyskill: pyskill_max_queries = 'lots' is not a whole number (>= 0)",
        ),
        ("pyskill_max_queries = -3", "pyskill: pyskill_max_queries = -3 must be >= 0"),
        ("pyskill_max_events = 0", "pyskill: pyskill_max_events = 0 must be >= 1"),
    ],
)
def test_broken_ini_values_are_one_line_usage_errors(
    project: pytest.Pytester, run, ini: str, message: str
) -> None:
    project.makeini(f"[pytest]\n{ini}\n")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])
    assert "Traceback" not in result.stderr.str()


def test_finding_hook_can_drop_and_change(project: pytest.Pytester, run) -> None:
    project.makeconftest(
        CONFTEST_RULE
        + """
import dataclasses

def pytest_pyskill_finding(finding, item):
    if item.name == "test_dropped":
        return False
    return dataclasses.replace(finding, message="changed: " + finding.message)
"""
    )
    project.makepyfile(
        test_it="""
        import app

        def test_dropped():
            app.lookup_twice()

        def test_changed():
            app.lookup_twice()
        """
    )
    result = run("--pyskill-strict")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["FAILED test_it.py::test_changed - repeated-select: changed: 2 x*"]
    )


def test_session_findings_hook_receives_everything_once(project: pytest.Pytester, run) -> None:
    project.makeconftest(
        CONFTEST_RULE
        + """
def pytest_pyskill_session_findings(findings, config):
    print("SESSION-FINDINGS", len(findings), [f.test for f in findings])
"""
    )
    result = run("-s")
    result.stdout.fnmatch_lines(["*SESSION-FINDINGS 1 ?'test_it.py::test_finding'?"])


def test_a_broken_rule_is_reported_not_raised(project: pytest.Pytester, run) -> None:
    project.makeconftest(
        """
class Broken:
    id = "broken"
    summary = "always crashes"
    severity = "warning"

    def check(self, run):
        raise RuntimeError("boom")

def pytest_pyskill_rules(config):
    return [Broken()]
"""
    )
    result = run("--pyskill-strict")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "pyskill internal error (reported, not raised): rule broken on test_it.py::test_finding: RuntimeError: boom*"
        ]
    )


def test_a_non_rule_from_the_hook_is_a_usage_error(project: pytest.Pytester, run) -> None:
    project.makeconftest("def pytest_pyskill_rules(config):\n    return [object()]\n")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*from pytest_pyskill_rules is not a rule*"])


def test_json_report(project: pytest.Pytester, run) -> None:
    result = run("--pyskill-json=out/report.json")
    result.assert_outcomes(passed=2, warnings=1)
    report = project.path / "out" / "report.json"
    umask = os.umask(0)
    os.umask(umask)
    assert report.stat().st_mode & 0o777 == 0o666 & ~umask
    doc = json.loads(report.read_text())
    assert doc["version"] == 2
    assert doc["tool"]["name"] == "pytest-pyskill"
    assert doc["summary"]["tests"] == 2
    assert doc["summary"]["statements"] == 4  # CREATE + 2 SELECTs, then 1 SELECT
    assert doc["summary"]["by_rule"] == {"repeated-select": 1}
    (finding,) = doc["findings"]
    assert finding["rule"] == "repeated-select"
    assert finding["severity"] == "warning"
    assert finding["test"] == "test_it.py::test_finding"
    assert finding["count"] == 2
    assert finding["location"] == {"path": "app.py", "line": 7, "function": "lookup_twice"}
    assert finding["fingerprint"] == "SELECT a FROM t WHERE a = ?"
    assert finding["label"] == "t"
    # The ini twin works too, and relative paths are relative to the rootdir.
    project.makeini("[pytest]\npyskill_json = r2.json\n")
    run()
    assert json.loads((project.path / "r2.json").read_text())["summary"]["tests"] == 2


def test_plugin_can_be_switched_off(project: pytest.Pytester, run) -> None:
    (project.path / "conftest.py").unlink()  # its pyskill hooks need the plugin (see README)
    project.makepyfile(
        test_off="""
        import sqlite3, pytest

        @pytest.mark.max_queries(0)
        def test_it():
            conn = sqlite3.connect(":memory:")
            assert type(conn) is sqlite3.Connection
            conn.execute("SELECT 1")
        """
    )
    result = run("-p", "no:pyskill", "-W", "ignore::pytest.PytestUnknownMarkWarning", "test_off.py")
    result.assert_outcomes(passed=1)
    assert "pyskill" not in result.stdout.str()


def test_xdist_gives_the_same_summary(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_more="""
        import app

        def test_a():
            app.lookup_twice()

        def test_b():
            app.lookup_twice()

        def test_c():
            app.lookup_once()
        """
    )
    serial = run("--pyskill-json=serial.json")
    parallel = run("-n", "2", "--pyskill-json=parallel.json")
    serial.assert_outcomes(passed=5, warnings=3)
    parallel.assert_outcomes(passed=5, warnings=3)

    def section(result: pytest.RunResult) -> list[str]:
        lines = result.stdout.lines
        start = next(i for i, line in enumerate(lines) if "= pyskill =" in line)
        return [line for line in lines[start + 1 :] if not line.startswith("=")]

    assert section(serial) == section(parallel)
    s = json.loads((project.path / "serial.json").read_text())
    p = json.loads((project.path / "parallel.json").read_text())
    assert s == p
    assert s["summary"]["tests"] == 5 and len(s["findings"]) == 3


def test_another_plugin_defining_max_queries_is_named_once(project: pytest.Pytester, run) -> None:
    project.makeconftest(
        CONFTEST_RULE
        + """
def pytest_configure(config):
    config.addinivalue_line("markers", "max_queries(limit): from another plugin")
"""
    )
    result = run()
    result.stdout.fnmatch_lines(
        [
            "pyskill: another plugin also defines the max_queries marker (max_queries(limit)); "
            "both will enforce it"
        ]
    )
    assert result.stdout.str().count("another plugin also defines") == 1
    (project.path / "conftest.py").write_text(CONFTEST_RULE)
    assert "another plugin" not in run().stdout.str()


def test_severity_overrides(project: pytest.Pytester, run) -> None:
    # info: reported, never failing, even in strict mode.
    result = run("--pyskill-strict", "--pyskill-severity=repeated-select=info", "--pyskill-json=r.json")
    result.assert_outcomes(passed=2, warnings=1)
    (finding,) = json.loads((project.path / "r.json").read_text())["findings"]
    assert finding["severity"] == "info"
    # error (or warning): fails in strict mode as before; the ini twin works too.
    project.makeini("[pytest]\npyskill_severity = repeated-select=error\n")
    run("--pyskill-strict", "--pyskill-json=r.json").assert_outcomes(passed=1, failed=1)
    assert json.loads((project.path / "r.json").read_text())["findings"][0]["severity"] == "error"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("repeated-select=loud", "pyskill: --pyskill-severity entry 'repeated-select=loud' is not RULE=LEVEL with LEVEL one of error, warning, info"),
        ("repeated-select", "pyskill: --pyskill-severity entry 'repeated-select' is not RULE=LEVEL*"),
        ("nope=info", "pyskill: unknown rule 'nope' in --pyskill-severity / pyskill_severity; valid rules: *"),
    ],
)
def test_bad_severity_values(project: pytest.Pytester, run, value: str, message: str) -> None:
    result = run(f"--pyskill-severity={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])
    assert "Traceback" not in result.stderr.str()
