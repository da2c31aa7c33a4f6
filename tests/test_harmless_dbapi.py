"""Never harmful, raw sqlite3: user code sees ``sqlite3`` exactly as without the plugin.

Each user project runs twice, with the plugin and with ``-p no:pyskill``; every inner test must
pass both times (per-test outcomes identical). Capture-side guarantees (executemany is one
batched statement, no value in any report) are checked with the plugin on.
"""

from __future__ import annotations

import json
import re

import pytest

USER = """
import inspect, pickle, sqlite3, sys
import _sqlite3
import pytest

class MyConn(sqlite3.Connection):
    pass

def test_factory_by_position():
    conn = sqlite3.connect(":memory:", 5.0, 0, "DEFERRED", True, MyConn)
    assert type(conn) is MyConn
    assert conn.isolation_level == "DEFERRED"

def test_factory_by_keyword():
    conn = sqlite3.connect(":memory:", factory=MyConn)
    assert type(conn) is MyConn
    conn.execute("SELECT 1")

def test_factory_of_plain_connection_by_position():
    conn = sqlite3.connect(":memory:", 5.0, 0, "", True, sqlite3.Connection, 64, False)
    assert type(conn) is sqlite3.Connection

def test_factory_whose_init_sets_its_own_trace_callback():
    seen = []
    class Logging(sqlite3.Connection):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.set_trace_callback(seen.append)
    conn = sqlite3.connect(":memory:", factory=Logging)
    conn.execute("SELECT 1")
    assert seen == ["SELECT 1"]

def test_exact_types():
    conn = sqlite3.connect(":memory:")
    assert type(conn) is sqlite3.Connection
    assert type(conn.cursor()) is sqlite3.Cursor
    assert type(conn.execute("SELECT 1")) is sqlite3.Cursor
    assert type(sqlite3.dbapi2.connect(":memory:")) is sqlite3.Connection
    assert repr(conn).startswith("<sqlite3.Connection object at ")

def test_connect_as_a_class_attribute_does_not_bind():
    class Store:
        connect = sqlite3.connect
    assert type(Store().connect(":memory:")) is sqlite3.Connection

def test_connect_pickles_by_reference():
    again = pickle.loads(pickle.dumps(sqlite3.connect))
    assert again is sqlite3.connect  # a round trip gives back what the name holds
    again(":memory:").execute("SELECT 1")

def test_connect_names_doc_and_signature():
    assert sqlite3.connect.__name__ == _sqlite3.connect.__name__
    assert sqlite3.connect.__qualname__ == _sqlite3.connect.__qualname__
    assert sqlite3.connect.__module__ == _sqlite3.connect.__module__
    assert sqlite3.connect.__doc__ == _sqlite3.connect.__doc__
    def signature(f):
        try:
            return str(inspect.signature(f))
        except (TypeError, ValueError) as exc:
            return type(exc).__name__
    assert signature(sqlite3.connect) == signature(_sqlite3.connect)

def test_users_trace_callback_sees_what_it_would(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "t.db"))
    seen = []
    conn.set_trace_callback(seen.append)
    conn.execute("CREATE TABLE t (a)")
    conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    conn.commit()
    conn.set_trace_callback(None)
    conn.execute("SELECT a FROM t")
    assert seen == [
        "CREATE TABLE t (a)", "BEGIN ", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)",
        "COMMIT",
    ]

def test_transactions_row_and_text_factories_and_context_manager():
    conn = sqlite3.connect(":memory:")
    assert conn.isolation_level == ""
    conn.execute("CREATE TABLE t (a, b)")
    with conn:
        conn.execute("INSERT INTO t VALUES (?, ?)", (1, "x"))
        assert conn.in_transaction
    assert not conn.in_transaction
    with pytest.raises(ZeroDivisionError), conn:
        conn.execute("INSERT INTO t VALUES (2, 'y')")
        1 / 0
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT a, b FROM t").fetchone()
    assert (row["a"], row["b"]) == (1, "x")
    conn.text_factory = bytes
    assert conn.execute("SELECT b FROM t").fetchone()[0] == b"x"
    conn.isolation_level = None
    conn.execute("INSERT INTO t VALUES (3, 'z')")
    assert not conn.in_transaction

@pytest.mark.skipif(sys.version_info < (3, 12), reason="autocommit is 3.12+")
def test_autocommit_attribute():
    conn = sqlite3.connect(":memory:", autocommit=False)
    assert conn.autocommit is False and conn.in_transaction
    conn.execute("CREATE TABLE t (a)")
    conn.commit()
    assert conn.in_transaction

def test_backup_iterdump_and_close(tmp_path):
    src = sqlite3.connect(str(tmp_path / "a.db"))
    src.execute("CREATE TABLE t (a)")
    src.execute("INSERT INTO t VALUES ('v')")
    src.commit()
    dst = sqlite3.connect(":memory:")
    src.backup(dst)
    assert dst.execute("SELECT a FROM t").fetchall() == [("v",)]
    assert "INSERT INTO \\"t\\" VALUES('v');" in list(src.iterdump())
    src.close()
    with pytest.raises(sqlite3.ProgrammingError):
        src.execute("SELECT 1")

def test_connection_is_not_kept_alive():
    import gc, weakref
    conn = sqlite3.connect(":memory:")
    conn.execute("SELECT 1")
    holder = type("Holder", (), {})()
    ref = weakref.ref(holder)
    conn.create_function("keep", 0, lambda holder=holder: 1)
    del holder, conn
    gc.collect()
    assert ref() is None  # nothing keeps the connection (and what it holds) alive
"""

_OUTCOME = re.compile(r"^(test_\w+\.py::\S+) (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)", re.M)


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    return dict(_OUTCOME.findall(result.stdout.str()))


def test_user_sqlite3_behaves_the_same_with_and_without_the_plugin(
    pytester: pytest.Pytester, run
) -> None:
    pytester.makepyfile(test_user=USER)
    with_plugin = run("-v")
    without = run("-v", "-p", "no:pyskill")
    assert "pyskill: mode=warn" in with_plugin.stdout.str()
    assert _outcomes(with_plugin) == _outcomes(without), with_plugin.stdout.str()
    assert "FAILED" not in set(_outcomes(without).values()), without.stdout.str()
    assert with_plugin.ret == without.ret == 0, with_plugin.stdout.str()


CAPTURE = """
import sqlite3
import pytest

def conn():
    c = sqlite3.connect(":memory:")
    c.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
    return c

def per_row(c, names):
    for n in names:
        c.execute("SELECT id FROM item WHERE name = ?", (n,))

def many(c, names):
    c.executemany("INSERT INTO item (name) VALUES (?)", [(n,) for n in names])

def many_from_a_generator(c, names):
    c.executemany(
        "INSERT INTO item (name) VALUES (:name)",
        ({"name": n} for n in names),
    )

def test_executemany_is_one_batched_statement(pyskill):
    c = conn()
    many(c, ["a", "b", "c", "d"])
    many_from_a_generator(c, ["e", "f", "g", "h"])
    inserts = [q for q in pyskill.queries if q.shape.kind == "insert"]
    assert [(q.sql, q.executemany) for q in inserts] == [
        ("INSERT INTO item (name) VALUES (?)", True),
        ("INSERT INTO item (name) VALUES (?)", True),
    ]
    assert [q.callsite.primary.line for q in inserts] == [14, 17]

def test_a_trigger_does_not_multiply_a_statement(pyskill):
    c = conn()
    c.execute("CREATE TABLE log (x)")
    c.execute(
        "CREATE TRIGGER t AFTER INSERT ON item BEGIN "
        "INSERT INTO log VALUES (new.name); INSERT INTO log VALUES (new.id); END"
    )
    c.execute("INSERT INTO item (name) VALUES (?)", ("x",))
    c.execute("INSERT INTO item (name) VALUES (?)", ("y",))
    assert [q.sql for q in pyskill.queries if q.shape.kind == "insert"] == [
        "INSERT INTO item (name) VALUES (?)"] * 2

def test_executescript_statements_each_count(pyskill):
    conn().executescript(
        "INSERT INTO item (name) VALUES ('a'); INSERT INTO item (name) VALUES ('b');"
    )
    inserts = [q.sql.strip() for q in pyskill.queries if q.shape.kind == "insert"]
    assert inserts == ["INSERT INTO item (name) VALUES (?);"] * 2

def test_values_in_a_lookup_loop():
    per_row(conn(), ["secret-alpha", "secret-beta", "secret-gamma", "secret-delta"])

def test_user_factory_is_not_traced(pyskill):
    class Mine(sqlite3.Connection):
        pass
    c = sqlite3.connect(":memory:", 5.0, 0, "", True, Mine)
    c.execute("SELECT 1")
    assert pyskill.queries == []

def test_user_trace_callback_replaces_ours(pyskill):
    c = sqlite3.connect(":memory:")
    c.execute("SELECT 1")
    seen = []
    c.set_trace_callback(seen.append)
    c.execute("SELECT 2")
    assert [q.sql for q in pyskill.queries] == ["SELECT ?"]
    assert seen == ["SELECT 2"]
"""


def test_capture_batches_executemany_and_keeps_no_values(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_capture=CAPTURE)
    result = run("-v", "--pyskill-strict", "--pyskill-json", "report.json")
    out = result.stdout.str()
    outcomes = _outcomes(result)
    assert outcomes.pop("test_capture.py::test_values_in_a_lookup_loop") == "FAILED", out
    assert set(outcomes.values()) == {"PASSED"}, out
    assert "unbatched" not in out
    assert "n-plus-one: the same SELECT on item sent 4 times from one line" in out
    report = (pytester.path / "report.json").read_text()
    assert "SELECT id FROM item WHERE name = ?" in report
    assert "secret-" not in report and "secret-" not in out
    assert json.loads(report)["findings"], report
