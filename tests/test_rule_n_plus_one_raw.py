"""Rule n-plus-one's backstop on raw sqlite3: repeats from one line within one operation."""

from __future__ import annotations

import re

import pytest

APP = """
import sqlite3

def connect():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO item (name) VALUES (?)", [("a",), ("b",), ("c",), ("d",)])
    return conn

def names(conn, ids):
    return [conn.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone() for i in ids]

def name(conn, i):
    return conn.execute("SELECT name FROM item WHERE id = ?", (i,)).fetchone()

def two_lines(conn):
    a = conn.execute("SELECT name FROM item WHERE id = ?", (1,)).fetchone()
    b = conn.execute("SELECT name FROM item WHERE id = ?", (2,)).fetchone()
    c = conn.execute("SELECT name FROM item WHERE id = ?", (3,)).fetchone()
    return a, b, c

def all_at_once(conn, ids):
    marks = ",".join("?" * len(ids))
    return conn.execute(f"SELECT name FROM item WHERE id IN ({marks})", ids).fetchall()
"""

TESTS = """
import app

def test_pos_lookup_per_row():
    app.names(app.connect(), [1, 2, 3, 4])

def test_neg_two_repeats_are_below_the_backstop_threshold():
    app.names(app.connect(), [1, 2])

def test_neg_three_different_lines():
    app.two_lines(app.connect())

def test_neg_in_list():
    app.all_at_once(app.connect(), [1, 2, 3, 4])

def test_neg_test_loop_of_separate_operations():
    conn = app.connect()
    for i in [1, 2, 3, 4]:
        app.name(conn, i)
"""


def test_raw_sqlite3_backstop(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(app=APP, test_it=TESTS)
    result = run("--pyskill-strict")
    failed = dict(re.findall(r"FAILED test_it\.py::(\w+) - n-plus-one: (.*)", result.stdout.str()))
    assert failed == {
        "test_pos_lookup_per_row": "the same SELECT on item sent 4 times from one line"
    }, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "  at app.py:10 in names",
            "  SELECT name FROM item WHERE id = ?",
            "  fix: fetch the rows in one query before the loop (WHERE ... IN (...)) or join them in",
        ]
    )
