"""Never harmful, SQLAlchemy side: a user's own SQLAlchemy code behaves exactly as without the
plugin, and per-test state of the capture never leaks into a later test.

Each inner project runs twice, with the plugin and with ``-p no:pyskill``; the inner tests write
what they observed (listener calls, results, exceptions) to a file and the outer test compares
the two runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DJANGO_SETTINGS, use_django_backend

# -- user do_execute listeners (issue 11, item 1) ---------------------------------------------

LISTENER_CONFTEST = """
import json
import os
import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

LOG = []  # (who, statement) of the listeners below, per test
OBSERVED = {}


# Class-level, registered while conftest.py is imported: before the plugin's own listener.
@event.listens_for(Engine, "do_execute")
def class_early(cursor, statement, parameters, context):
    if "marker" in statement:
        LOG.append("class-early")


# A class-level custom executor registered before the plugin: it handles its statements.
@event.listens_for(Engine, "do_execute")
def class_early_executor(cursor, statement, parameters, context):
    if "marker_early" in statement:
        LOG.append("class-early-executor")
        context.dialect.do_execute(cursor, statement.replace("5", "6"), parameters, context)
        return True
    return False


@pytest.fixture
def engine():
    engine = create_engine(os.environ["PYSKILL_TEST_URL"])
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20))")
    yield engine
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE t")
    engine.dispose()


@pytest.fixture(autouse=True)
def observe(request):
    LOG.clear()
    yield LOG
    OBSERVED[request.node.name] = list(LOG)


@pytest.fixture
def recorded(request):
    # With the plugin: the SQL it recorded in this test (the statements must still be counted).
    if request.config.pluginmanager.hasplugin("pyskill"):
        pyskill = request.getfixturevalue("pyskill")
        return lambda: [q.sql for q in pyskill.queries]
    return None


def pytest_sessionfinish(session):
    with open(os.environ["PYSKILL_OBSERVED"], "w") as fh:
        json.dump(OBSERVED, fh, indent=1, sort_keys=True)
"""

LISTENER_TESTS = """
import pytest
from sqlalchemy import event, exc, insert, text, Table, Column, Integer, String, MetaData
from sqlalchemy.engine import Engine
from conftest import LOG

T = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(20)))


# Class-level, registered when this module is collected: after the plugin's own listener.
@event.listens_for(Engine, "do_execute")
def class_late(cursor, statement, parameters, context):
    if "marker" in statement:
        LOG.append("class-late")


def test_counting_listener_sees_every_statement(engine, recorded):
    def counter(name):
        def count(cursor, statement, *rest):
            LOG.append(f"{name}: {' '.join(statement.split()[:3])}")
        return count

    for name in ("do_execute", "do_executemany", "do_execute_no_params"):
        event.listen(engine, name, counter(name))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t (id, name) VALUES (:i, :n)"), {"i": 1, "n": "a"})
        conn.execute(insert(T), [{"id": 2, "name": "b"}, {"id": 3, "name": "c"}])
        conn.execute(text("INSERT INTO t (id, name) VALUES (:i, :n)"),
                     [{"i": 4, "n": "d"}, {"i": 5, "n": "e"}])
        rows = conn.execute(text("SELECT name FROM t ORDER BY id")).scalars().all()
        conn.exec_driver_sql("SELECT 1", execution_options={"no_parameters": True})
    assert rows == ["a", "b", "c", "d", "e"]
    assert len([e for e in LOG if "INSERT" in e]) >= 3, LOG
    assert any("SELECT name FROM" in e for e in LOG), LOG
    if recorded:
        assert any(s.startswith("SELECT name FROM t") for s in recorded())


def test_custom_executor_handles_the_statement(engine, recorded):
    @event.listens_for(engine, "do_execute")
    def executor(cursor, statement, parameters, context):
        if "marker_x" in statement:
            LOG.append("executor")
            context.dialect.do_execute(cursor, statement.replace("41", "42"), parameters, context)
            return True
        return False

    with engine.connect() as conn:
        value = conn.execute(text("SELECT 41 AS marker_x")).scalar()
    LOG.append(f"result {value}")
    assert value == 42
    if recorded:
        assert [s for s in recorded() if "marker_x" in s] == ["SELECT 41 AS marker_x"]


def test_listener_order_is_kept(engine, recorded):
    event.listen(engine, "do_execute", lambda *a: LOG.append("engine-1") if "marker" in a[1] else None)
    event.listen(engine, "do_execute", lambda *a: LOG.append("engine-2") if "marker" in a[1] else None)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 7 AS marker_y")).scalar() == 7
    assert LOG == ["class-early", "class-late", "engine-1", "engine-2"]
    if recorded:
        assert [s for s in recorded() if "marker_y" in s] == ["SELECT 7 AS marker_y"]


def test_class_level_executor_registered_before_the_plugin(engine):
    # It handles the statement before the plugin's listener is reached (SQLAlchemy ignores
    # insert=True for dialect events), so the plugin does not see it: a documented limit.
    with engine.connect() as conn:
        value = conn.execute(text("SELECT 5 AS marker_early")).scalar()
    LOG.append(f"result {value}")
    assert value == 6


def test_a_listener_that_raises(engine):
    class Boom(Exception):
        pass

    @event.listens_for(engine, "do_execute")
    def boom(cursor, statement, parameters, context):
        if "marker_boom" in statement:
            raise Boom("no")

    with engine.connect() as conn, pytest.raises(Boom) as info:
        conn.execute(text("SELECT 1 AS marker_boom"))
    LOG.append(f"raised {type(info.value).__name__}: {info.value}")


def test_an_executor_whose_driver_call_fails(engine):
    @event.listens_for(engine, "do_execute")
    def broken(cursor, statement, parameters, context):
        if "marker_bad" in statement:
            context.dialect.do_execute(cursor, "SELEC broken", parameters, context)
            return True

    with engine.connect() as conn, pytest.raises(exc.DBAPIError) as info:
        conn.execute(text("SELECT 1 AS marker_bad"))
    LOG.append(f"raised {type(info.value).__name__}")
"""


def _observe(
    pytester: pytest.Pytester, run, *args: str
) -> tuple[pytest.RunResult, dict[str, list[str]]]:
    out = pytester.path / "observed.json"
    pytester._monkeypatch.setenv("PYSKILL_OBSERVED", str(out))
    result = run(*args)
    return result, json.loads(out.read_text())


def test_user_do_execute_listeners_run_as_without_the_plugin(
    pytester: pytest.Pytester, run, sa_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", sa_url)
    pytester.makeconftest(LISTENER_CONFTEST)
    pytester.makepyfile(test_listeners=LISTENER_TESTS)
    without, plain = _observe(pytester, run, "-p", "no:pyskill")
    without.assert_outcomes(passed=6)
    result, observed = _observe(pytester, run)
    result.assert_outcomes(passed=6)
    assert "internal error" not in result.stdout.str()
    assert observed == plain
    assert observed["test_listener_order_is_kept"] == [
        "class-early", "class-late", "engine-1", "engine-2"
    ]  # fmt: skip
    assert observed["test_custom_executor_handles_the_statement"][-1] == "result 42"
    assert observed["test_class_level_executor_registered_before_the_plugin"] == [
        "class-early",
        "class-early-executor",
        "result 6",
    ]
    assert observed["test_a_listener_that_raises"][-1] == "raised Boom: no"


# -- a flush that raised (issue 11, item 9) ---------------------------------------------------

FLUSH_APP = """
import os
from sqlalchemy import String, create_engine, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

URL = os.environ["PYSKILL_TEST_URL"]

class Base(DeclarativeBase):
    pass

class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))

def insert_per_row(session, n):
    for i in range(n):
        session.execute(insert(Tag).values(id=100 + i, name=f"z{i}"))
"""

FLUSH_TESTS = """
import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from app import URL, Base, Tag, insert_per_row

@pytest.fixture
def engine():
    engine = create_engine(URL)
    Base.metadata.create_all(engine)
    yield engine
    Base.metadata.drop_all(engine)
    engine.dispose()

def test_a_flush_that_raises(engine):
    with Session(engine) as s:
        s.add(Tag(id=1, name="x"))
        s.flush()
        s.add(Tag(id=1, name="y"))
        with pytest.raises(IntegrityError):
            s.flush()

def test_b_unbatched_inserts(engine):
    with Session(engine) as s:
        insert_per_row(s, 4)
        s.commit()

def test_c_unbatched_inserts_after_a_failed_flush(engine):
    with Session(engine) as s:
        s.add(Tag(id=1, name="x"))
        s.flush()
        s.add(Tag(id=1, name="y"))
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
        insert_per_row(s, 4)
        s.commit()
"""


def _findings(pytester: pytest.Pytester, run, *args: str) -> list[tuple[str, str]]:
    result = run("--pyskill-json=report.json", *args)
    assert "internal error" not in result.stdout.str(), result.stdout.str()
    report = json.loads((pytester.path / "report.json").read_text())
    return sorted((f["test"].split("::")[-1], f["rule"]) for f in report["findings"])


def test_a_flush_that_raised_does_not_tag_later_tests(
    pytester: pytest.Pytester, run, sa_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", sa_url)
    pytester.makepyfile(app=FLUSH_APP, test_it=FLUSH_TESTS)
    expected = [("test_b_unbatched_inserts", "unbatched-insert")]
    assert _findings(pytester, run, "-k", "test_b") == expected  # alone
    # After the failed flush of test_a; and after one earlier in the same test.
    assert _findings(pytester, run) == [
        *expected,
        ("test_c_unbatched_inserts_after_a_failed_flush", "unbatched-insert"),
    ]


ORM_CONTEXT_TESTS = """
import pytest
from sqlalchemy import ForeignKey, String, create_engine, event, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship
from app import URL

class Base(DeclarativeBase):
    pass

class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)

class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()

@pytest.fixture
def engine():
    engine = create_engine(URL)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add(Author(id=1))
        s.flush()
        s.add(Book(id=1, author_id=1))
        s.commit()
    yield engine
    Base.metadata.drop_all(engine)
    engine.dispose()

def test_a_lazy_load_served_by_a_cache(engine, pyskill):
    # A caching do_orm_execute listener (registered after the plugin's) answers the lazy load:
    # the SELECT the plugin was told about never runs.
    with Session(engine) as s:
        book = s.get(Book, 1)
        cached = s.execute(select(Author).where(Author.id == 1)).freeze()
        s.expunge_all()
        book = s.get(Book, 1)
        event.listen(s, "do_orm_execute", lambda state: cached() if state.is_relationship_load else None)
        assert book.author.id == 1

def test_b_core_statement(engine, pyskill):
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert [q.orm for q in pyskill.queries] == [None]
"""


def test_an_orm_marker_whose_statement_never_ran_does_not_tag_the_next_test(
    pytester: pytest.Pytester, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    pytester.makepyfile(app=FLUSH_APP, test_it=ORM_CONTEXT_TESTS)
    result = run()
    result.assert_outcomes(passed=2)
    assert "internal error" not in result.stdout.str()


# -- statements that are not str (issue 11, item 14) -----------------------------------------

COMPOSED_SA_TESTS = """
import os
import pytest
from psycopg import sql
from sqlalchemy import create_engine

@pytest.mark.max_queries(0)
def test_composed(pyskill):
    engine = create_engine(os.environ["PYSKILL_TEST_URL"])
    with engine.connect() as conn:
        query = sql.SQL("SELECT {} AS v FROM {}").format(
            sql.Literal("secret"), sql.SQL("(SELECT 1) AS x"))
        assert conn.exec_driver_sql(query).all() == [("secret",)]
        assert conn.exec_driver_sql(b"SELECT 2 AS bytes_query").all() == [(2,)]
    engine.dispose()
    assert [q.sql for q in pyskill.queries] == [
        "SELECT ? AS v FROM (SELECT 1) AS x", "SELECT 2 AS bytes_query"]
    assert [q.shape.kind for q in pyskill.queries] == ["select", "select"]
"""

COMPOSED_DJANGO_TESTS = """
import pytest
from django.db import connection
from psycopg import sql

@pytest.mark.django_db
@pytest.mark.max_queries(0)
def test_composed(pyskill):
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT {} AS v, {}").format(sql.Literal("secret"), sql.Placeholder()), [5])
        assert cur.fetchone() == ("secret", 5)
        cur.execute(b"SELECT 2 AS bytes_query")
        assert cur.fetchone() == (2,)
    texts = [q.sql for q in pyskill.queries if q.shape.is_data]
    assert texts == ["SELECT ? AS v, %s", "SELECT 2 AS bytes_query"]
"""


def _composed_report(pytester: pytest.Pytester, run, *args: str) -> str:
    result = run("--pyskill-json=report.json", "--pyskill-show-params", *args)
    result.assert_outcomes(failed=1)  # the max_queries(0) budget, and only that
    out = result.stdout.str()
    assert "internal error" not in out, out
    assert "max-queries: 2 statements, budget is 0" in out, out
    report = (pytester.path / "report.json").read_text()
    assert "SELECT ? AS v" in report
    assert "secret" not in report
    return report


def test_composed_and_bytes_sql_through_sqlalchemy(
    pytester: pytest.Pytester, run, pg_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_db}")
    pytester.makepyfile(test_it=COMPOSED_SA_TESTS)
    _composed_report(pytester, run)


def test_composed_and_bytes_sql_through_django(
    pytester: pytest.Pytester, run, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_django_backend(request, monkeypatch, "postgresql")
    pytester.makepyfile(settings=DJANGO_SETTINGS, test_it=COMPOSED_DJANGO_TESTS)
    pytester.mkpydir("shop")
    _composed_report(pytester, run, "--ds=settings")


# -- plugin code on the user's path is guarded (issue 11, item 17) ----------------------------

BROKEN_PLUGIN_TESTS = """
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from pytest_pyskill.capture import sqlalchemy as capture

def broken(*args):
    raise RuntimeError("a bug in the plugin")

@pytest.fixture(autouse=True)
def break_the_plugin(monkeypatch):
    monkeypatch.setattr(capture, "_session_origin", broken)

def test_session_transaction():
    engine = create_engine("sqlite://")
    with Session(engine) as s:
        assert s.execute(text("SELECT 1")).scalar() == 1
        s.commit()
"""


def test_an_error_in_after_begin_is_an_internal_error(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_it=BROKEN_PLUGIN_TESTS)
    result = run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*tracking a Session transaction: RuntimeError: a bug in the plugin*"]
    )


def test_sql_text_never_renders_a_value() -> None:
    from psycopg import sql

    from pytest_pyskill.sql import shape_of, sql_text

    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}, {}, {})").format(
        sql.Identifier("app", 'we"ird'),
        sql.SQL(", ").join([sql.Identifier("a"), sql.Identifier("b"), sql.Identifier("c")]),
        sql.Literal("secret"),
        sql.Placeholder("named"),
        sql.Placeholder(),
    )
    assert sql_text(query) == (
        'INSERT INTO "app"."we""ird" ("a", "b", "c") VALUES (?, %(named)s, %s)'
    )
    assert sql_text(sql.Composed(["secret", sql.SQL("x"), 12345])) == "?x?"
    assert sql_text(sql.SQL("SELECT 1")) == "SELECT 1"
    assert sql_text(b"SELECT \xff 1") == "SELECT \ufffd 1"
    assert sql_text(bytearray(b"SELECT 2")) == "SELECT 2"
    assert sql_text(memoryview(b"SELECT 3")) == "SELECT 3"

    class Odd(str):
        def __str__(self) -> str:
            return "not this"

    assert type(sql_text(Odd("SELECT 4"))) is str and sql_text(Odd("SELECT 4")) == "SELECT 4"
    assert sql_text(12345) == "<non-text statement: int>"
    assert shape_of(sql_text(object())).kind == "other"


# -- a long-lived connection keeps no Session alive (issue 11, item 10) -----------------------

JOINED_SESSION_TESTS = """
import gc
import weakref

from sqlalchemy import create_engine, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))


def test_a_closed_session_on_a_long_lived_connection_dies():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with engine.connect() as conn:  # a fixture's connection, outliving each Session
        session = Session(bind=conn)
        book = Book(title="t")
        session.add(book)
        session.flush()
        dead = [weakref.ref(session), weakref.ref(book)]
        session.close()
        del session, book
        gc.collect()
        assert [ref() for ref in dead] == [None, None]
"""


def test_a_long_lived_connection_keeps_no_session_alive(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it=JOINED_SESSION_TESTS)
    for plugin in ((), ("-p", "no:pyskill")):
        pytester.runpytest_subprocess(*plugin).assert_outcomes(passed=1)
