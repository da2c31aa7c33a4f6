"""Query budgets: the max_queries marker, the ini default and the pyskill fixture."""

from __future__ import annotations

import pytest

APP = """
import sqlite3

def connect():
    return sqlite3.connect(":memory:")

def run(conn, n):
    for i in range(n):
        conn.execute("SELECT ?", (i,))
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    return pytester


def test_budget_exceeded_fails_even_in_warn_mode(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import pytest, app

        @pytest.mark.max_queries(2)
        def test_over():
            conn = app.connect()
            app.run(conn, 3)
            conn.execute("SELECT 'other'")

        @pytest.mark.max_queries(3)
        def test_at_limit():
            app.run(app.connect(), 3)
        """
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*max-queries: 4 statements, budget is 2 (max_queries marker)*",
            "*3 x SELECT ?  ?app.py:8 in run?",
            "*1 x SELECT ?  ?test_it.py:7 in test_over?",
            "FAILED test_it.py::test_over - max-queries: 4 statements, budget is 2*",
        ]
    )
    # Without -v the failure groups statements; it does not list each one.
    assert "1. SELECT ?" not in result.stdout.str()


def test_verbose_lists_each_statement(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import pytest, app

        @pytest.mark.max_queries(1)
        def test_over():
            app.run(app.connect(), 2)
        """
    )
    result = run("-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*1. SELECT ?  ?app.py:8 in run?", "*2. SELECT ?  ?app.py:8 in run?"]
    )


def test_transaction_control_is_not_counted(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import pytest, app

        @pytest.mark.max_queries(1)
        def test_one_data_statement(pyskill):
            conn = app.connect()
            conn.isolation_level = None
            conn.execute("BEGIN")
            conn.execute("SAVEPOINT a")
            conn.execute("SELECT 1")
            conn.execute("RELEASE SAVEPOINT a")
            conn.execute("COMMIT")
            assert len(pyskill.queries) == 5
            assert pyskill.count() == 1
        """
    )
    run().assert_outcomes(passed=1)


def test_using_counts_one_database(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import pytest, sqlite3, app

        @pytest.mark.max_queries(1, using="sqlite:other.db")
        def test_other_db_within_budget(tmp_path, monkeypatch):
            monkeypatch.chdir(tmp_path)
            app.run(app.connect(), 5)
            sqlite3.connect("other.db").execute("SELECT 1")

        @pytest.mark.max_queries(0, using="sqlite:other.db")
        def test_other_db_over(tmp_path, monkeypatch):
            monkeypatch.chdir(tmp_path)
            sqlite3.connect("other.db").execute("SELECT 1")
        """
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*1 statements on 'sqlite:other.db', budget is 0*"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('max_queries("3")', "@pytest.mark.max_queries: n must be a whole number, got '3'"),
        ("max_queries(-1)", "@pytest.mark.max_queries: n must be >= 0, got -1"),
        ("max_queries()", "@pytest.mark.max_queries: max_queries() missing 1 required*"),
        ("max_queries(1, usin='x')", "*max_queries() got an unexpected keyword argument 'usin'*"),
        ("max_queries(True)", "*n must be a whole number, got True"),
    ],
)
def test_bad_marker_arguments_fail_with_one_line(
    project: pytest.Pytester, run, marker: str, message: str
) -> None:
    project.makepyfile(
        test_it=f"""
        import pytest

        @pytest.mark.{marker}
        def test_bad():
            pass

        def test_unaffected():
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*test_it.py::test_bad: {message}"])
    assert "Traceback" not in result.stdout.str()


def test_ini_default_budget_and_marker_override(project: pytest.Pytester, run) -> None:
    project.makeini("[pytest]\npyskill_max_queries = 2\n")
    project.makepyfile(
        test_it="""
        import pytest, app

        def test_within():
            app.run(app.connect(), 2)

        def test_over():
            app.run(app.connect(), 3)

        @pytest.mark.max_queries(10)
        def test_marker_wins():
            app.run(app.connect(), 5)

        @pytest.mark.pyskill_ignore("max-queries", reason="bulk import test")
        def test_ignored():
            app.run(app.connect(), 5)
        """
    )
    result = run()
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*3 statements, budget is 2 (pyskill_max_queries)",
            "*test_over - max-queries: 3 statements, budget is 2*",
        ]
    )


def test_cli_budget_overrides_ini(project: pytest.Pytester, run) -> None:
    project.makeini("[pytest]\npyskill_max_queries = 0\n")
    project.makepyfile(test_it="import app\ndef test_two():\n    app.run(app.connect(), 2)\n")
    run("--pyskill-max-queries=2").assert_outcomes(passed=1)
    run().assert_outcomes(failed=1)


def test_fixture_block_budget_and_queries(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import pytest, app

        def test_block_within(pyskill):
            conn = app.connect()
            with pyskill.max_queries(2) as block:
                app.run(conn, 2)
            assert block.count == 2
            app.run(conn, 5)  # outside the block: not counted by it
            assert [q.shape.kind for q in pyskill.queries] == ["select"] * 7
            assert pyskill.queries[0].sql == "SELECT ?"
            assert pyskill.queries[0].params is None  # values are private by default

        def test_block_over(pyskill):
            conn = app.connect()
            with pyskill.max_queries(1):
                app.run(conn, 3)

        def test_block_bad_argument(pyskill):
            with pytest.raises(ValueError, match="n must be >= 0"):
                with pyskill.max_queries(-2):
                    pass
        """
    )
    result = run()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*QueryBudgetExceeded: pyskill.max_queries(1): the block sent 3 statements*",
            "*3 x SELECT ?  ?app.py:8 in run?",
        ]
    )


def test_show_params_keeps_values_only_when_asked(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import app

        def test_params(pyskill):
            app.run(app.connect(), 1)
            assert pyskill.queries[0].params == "(0,)"
        """
    )
    run("--pyskill-show-params").assert_outcomes(passed=1)
    run().assert_outcomes(failed=1)


def test_fixture_setup_is_not_counted_unless_configured(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import pytest, app

        @pytest.fixture
        def data():
            conn = app.connect()
            app.run(conn, 5)
            return conn

        @pytest.mark.max_queries(1)
        def test_it(data):
            app.run(data, 1)
        """
    )
    run().assert_outcomes(passed=1)
    result = run("--pyskill-capture-fixtures")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*6 statements, budget is 1*"])


def test_memory_is_bounded(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_it="""
        import pytest, app

        def test_many(pyskill):
            app.run(app.connect(), 5000)
            assert len(pyskill.queries) == 100
            assert pyskill.count() == 5000
        """
    )
    run("--pyskill-max-events=100").assert_outcomes(passed=1)
