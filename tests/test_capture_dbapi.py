"""Raw sqlite3 capture: connections opened by user code are traced, libraries' are not."""

from __future__ import annotations

import pytest

APP = """
import sqlite3

def work(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (a int)")
    cur = conn.cursor()
    cur.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    cur.execute("SELECT a FROM t WHERE a = ?", (1,))
    conn.commit()
    conn.executescript("DELETE FROM t;")
    return conn
"""

TESTS = """
import sqlite3
import app

def test_cursor_and_shortcuts_are_traced(tmp_path, pyskill):
    conn = app.work(str(tmp_path / "x.db"))
    assert type(conn) is sqlite3.Connection
    # The driver's own BEGIN and conn.commit()'s COMMIT are not the user's statements.
    qs = pyskill.queries
    assert [(q.shape.kind, q.executemany) for q in qs] == [
        ("ddl", False), ("insert", True), ("select", False), ("delete", False)]
    assert [q.sql for q in qs][1:3] == [
        "INSERT INTO t VALUES (?)", "SELECT a FROM t WHERE a = ?"]
    assert all(q.source == "dbapi" and q.vendor == "sqlite" for q in qs)
    assert qs[0].database.endswith("x.db")
    assert [q.callsite.primary.line for q in qs] == [5, 7, 8, 10]
    # Python's sqlite3 opens a transaction implicitly before the INSERT.
    assert qs[2].in_transaction is True

def test_explicit_transaction_control_is_a_statement(pyskill):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE t (a)")
    conn.execute("COMMIT")
    with conn:
        conn.execute("INSERT INTO t VALUES (1)")
    assert [q.sql for q in pyskill.queries] == [
        "BEGIN", "CREATE TABLE t (a)", "COMMIT", "INSERT INTO t VALUES (?)"]
    assert [q.in_transaction for q in pyskill.queries][1:] == [True, True, False]

def test_custom_factory_is_left_alone(pyskill):
    class Mine(sqlite3.Connection):
        pass
    conn = sqlite3.connect(":memory:", factory=Mine)
    assert type(conn) is Mine
    conn.execute("SELECT 1")
    assert pyskill.queries == []
"""


def test_dbapi_capture(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(app=APP, test_it=TESTS)
    run("-v").assert_outcomes(passed=3)


def test_sqlite3_connect_is_restored_after_the_run(pytester: pytest.Pytester, run) -> None:
    # The original is captured before pytest (and so the plugin) starts; inside the run the
    # wrapper is in place, after the run (pytest.main returned) it must be gone again.
    pytester.makepyfile(
        driver="""
        import sqlite3, sys
        import pytest
        original = sqlite3.connect
        seen = {}

        class Spy:
            def pytest_runtest_call(self):
                seen["inside"] = sqlite3.connect is not original

        pytest.main(["-q", "-p", "no:cacheprovider", "test_x.py"], plugins=[Spy()])
        after = (sqlite3.connect is original, sqlite3.dbapi2.connect is original)
        print(f"INSIDE={seen['inside']} AFTER={after}")
        """,
        test_x="def test_x():\n    pass\n",
    )
    result = pytester.runpython(pytester.path / "driver.py")
    result.stdout.fnmatch_lines(["INSIDE=True AFTER=(True, True)"])
