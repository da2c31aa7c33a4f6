"""Statement shapes: kind, tables and value-free fingerprints."""

from __future__ import annotations

import pytest

from pytest_pyskill.sql import fingerprint, shape_of, statement_kind, tables_of


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "select"),
        ("  select * from t", "select"),
        ("(SELECT a FROM t) UNION (SELECT a FROM u)", "select"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "select"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "insert"),
        ("INSERT INTO t VALUES (1)", "insert"),
        ("UPDATE t SET a = 1", "update"),
        ("DELETE FROM t", "delete"),
        ("BEGIN", "tcl"),
        ("SAVEPOINT sa_savepoint_1", "tcl"),
        ('RELEASE SAVEPOINT "s1_x1"', "tcl"),
        ("ROLLBACK TO SAVEPOINT s", "tcl"),
        ("COMMIT", "tcl"),
        ("CREATE TABLE t (a int)", "ddl"),
        ("PRAGMA foreign_keys", "other"),
        ("", "other"),
    ],
)
def test_statement_kind(sql: str, kind: str) -> None:
    assert statement_kind(sql) == kind


def test_values_literals_and_placeholders_are_normalised() -> None:
    a, _ = fingerprint("SELECT * FROM book WHERE id = 42 AND title = 'x''y'")
    b, _ = fingerprint("SELECT * FROM book WHERE id = %s AND title = %(t)s")
    c, _ = fingerprint("SELECT * FROM book WHERE id = $1 AND title = :title")
    d, _ = fingerprint("SELECT  *\n FROM book WHERE id = ? AND title = ?  -- comment")
    e, _ = fingerprint("SELECT * FROM book WHERE id = %(id_1)s::INTEGER AND title = %(t)s::VARCHAR")
    assert a == b == c == d == e == "SELECT * FROM book WHERE id = ? AND title = ?"


def test_in_lists_collapse_and_multirow_values_keep_their_row_count() -> None:
    one, _ = fingerprint("SELECT a FROM t WHERE id IN (?, ?, ?)")
    two, _ = fingerprint("SELECT a FROM t WHERE id IN (1,2)")
    assert one == two == "SELECT a FROM t WHERE id IN (...)"
    text, rows = fingerprint("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)")
    assert (text, rows) == ("INSERT INTO t (a, b) VALUES (...)", 3)
    text1, rows1 = fingerprint("INSERT INTO t (a, b) VALUES (%s, lower(%s))")
    assert (text1, rows1) == ("INSERT INTO t (a, b) VALUES (...)", 1)


def test_identifiers_with_digits_are_not_values() -> None:
    text, _ = fingerprint('SELECT t1.a2 FROM "table3" t1 WHERE t1.x = 5')
    assert text == 'SELECT t1.a2 FROM "table3" t1 WHERE t1.x = ?'


def test_tables() -> None:
    assert tables_of('SELECT * FROM "Book" JOIN author ON x WHERE y') == ("book", "author")
    assert tables_of("INSERT INTO `shop`.`order` (a) VALUES (1)") == ("shop.order",)
    assert tables_of("UPDATE book SET a = 1") == ("book",)
    assert tables_of("SELECT 1") == ()


def test_shape_is_cached_and_flags() -> None:
    s = shape_of("UPDATE book SET a = ? WHERE id = ?")
    assert s is shape_of("UPDATE book SET a = ? WHERE id = ?")
    assert s.is_write and s.is_data
    assert not shape_of("RELEASE SAVEPOINT x").is_data
    assert shape_of("SELECT 1").is_data and not shape_of("SELECT 1").is_write
