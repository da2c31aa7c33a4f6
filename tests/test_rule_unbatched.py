"""Rules unbatched-insert/-update/-delete, end to end on SQLite, PostgreSQL and MariaDB.

``test_pos_*`` inner tests must be flagged by the named rule and ``test_neg_*`` must not be
flagged by any unbatched rule (strict mode; n-plus-one is switched off to keep them apart).
"""

from __future__ import annotations

import re

import pytest

from conftest import DJANGO_SETTINGS

SA_APP = """
import os
from sqlalchemy import ForeignKey, String, create_engine, delete, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

class Base(DeclarativeBase):
    pass

class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    uses: Mapped[int] = mapped_column(default=0)

class Note(Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(20))

def add_flush_per_row(s, n):
    for i in range(n):
        s.add(Tag(name=f"x{i}"))
        s.flush()

def add_commit_per_row(s, n):
    for i in range(n):
        s.add(Tag(name=f"y{i}"))
        s.commit()

def core_insert_per_row(s, n):
    for i in range(n):
        s.execute(insert(Tag).values(name=f"z{i}"))

def update_flush_per_row(s):
    for tag in s.scalars(select(Tag)).all():
        tag.uses += 1
        s.flush()

def delete_flush_per_row(s):
    for tag in s.scalars(select(Tag)).all():
        s.delete(tag)
        s.flush()

def add_all_one_flush(s, n):
    s.add_all([Tag(name=f"a{i}") for i in range(n)])
    s.flush()

def core_executemany(s, n):
    s.execute(insert(Tag), [{"name": f"b{i}"} for i in range(n)])

def update_in_one_flush(s):
    for tag in s.scalars(select(Tag)).all():
        tag.uses += 1
    s.flush()

def update_in_one_statement(s):
    s.execute(update(Tag).values(uses=Tag.uses + 1))

def delete_in_one_statement(s, ids):
    s.execute(delete(Tag).where(Tag.id.in_(ids)))

def two_tables(s):
    s.add(Tag(name="t"))
    s.add(Note(text="n"))
    s.flush()
"""

SA_TESTS = """
import os
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
import app

@pytest.fixture
def s():
    engine = create_engine(os.environ["PYSKILL_TEST_URL"])
    app.Base.metadata.create_all(engine)
    with Session(engine) as seed:
        seed.add_all([app.Tag(name=f"s{i}") for i in range(4)])  # fixture writes: not counted
        seed.commit()
    with Session(engine) as session:
        yield session
    app.Base.metadata.drop_all(engine)
    engine.dispose()

def test_pos_insert_add_flush_per_row(s): app.add_flush_per_row(s, 4)
def test_pos_insert_add_commit_per_row(s): app.add_commit_per_row(s, 4)
def test_pos_insert_core_per_row(s): app.core_insert_per_row(s, 4)
def test_pos_update_flush_per_row(s): app.update_flush_per_row(s)
def test_pos_delete_flush_per_row(s): app.delete_flush_per_row(s)

def test_neg_add_all_one_flush(s): app.add_all_one_flush(s, 10)
def test_neg_core_executemany(s): app.core_executemany(s, 10)
def test_neg_update_in_one_flush(s): app.update_in_one_flush(s)
def test_neg_update_in_one_statement(s): app.update_in_one_statement(s)
def test_neg_delete_in_one_statement(s):
    app.delete_in_one_statement(s, [t.id for t in s.scalars(select(app.Tag)).all()])
def test_neg_two_tables(s): app.two_tables(s)
def test_neg_below_threshold(s): app.add_flush_per_row(s, 2)

def test_neg_test_data_built_in_a_loop(s):
    for i in range(5):
        s.add(app.Tag(name=f"t{i}"))
        s.flush()
"""

SA_POSITIVES = {
    "test_pos_insert_add_flush_per_row": "unbatched-insert: 4 single-row INSERTs into tag from one line",
    "test_pos_insert_add_commit_per_row": "unbatched-insert: 4 single-row INSERTs into tag from one line",
    "test_pos_insert_core_per_row": "unbatched-insert: 4 single-row INSERTs into tag from one line",
    "test_pos_update_flush_per_row": "unbatched-update: 4 single-row UPDATEs into tag from one line",
    "test_pos_delete_flush_per_row": "unbatched-delete: 4 single-row DELETEs into tag from one line",
}


def _flagged(result: pytest.RunResult) -> dict[str, str]:
    return dict(re.findall(r"FAILED test_it\.py::(\w+) - (unbatched-\w+: .*)", result.stdout.str()))


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('tmp_path') / 'db.sqlite3'}"
    if request.param == "postgresql":
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{request.getfixturevalue('pg_db')}"
    return f"mysql+pymysql://root@127.0.0.1:3306/{request.getfixturevalue('mariadb_db')}"


def test_unbatched_sqlalchemy(pytester: pytest.Pytester, run, url: str, monkeypatch) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", url)
    pytester.makepyfile(app=SA_APP, test_it=SA_TESTS)
    result = run("--pyskill-strict", "--pyskill-ignore=n-plus-one")
    out = result.stdout.str()
    assert "internal error" not in out, out
    assert _flagged(result) == SA_POSITIVES, out
    assert "fix: session.add_all([...]) and one flush, or session.execute(insert(Model), rows)" in out
    assert re.search(r"  at app.py:\d+ in add_flush_per_row", out), out
    # Test code building its data in a loop is reported only when asked for.
    result = run("--pyskill-strict", "--pyskill-ignore=n-plus-one", "--pyskill-check-test-code",
                 "-k", "test_data_built_in_a_loop")
    assert _flagged(result) == {
        "test_neg_test_data_built_in_a_loop": "unbatched-insert: 5 single-row INSERTs into tag from one line"
    }, result.stdout.str()


DJANGO_MODELS = """
from django.db import models

class Tag(models.Model):
    name = models.CharField(max_length=20)
    uses = models.IntegerField(default=0)
"""

DJANGO_SERVICES = """
from django.db.models import F
from shop.models import Tag

def create_per_row(n):
    for i in range(n):
        Tag.objects.create(name=f"c{i}")

def save_new_per_row(n):
    for i in range(n):
        Tag(name=f"s{i}").save()

def save_per_row():
    for tag in Tag.objects.all():
        tag.uses += 1
        tag.save()

def delete_per_row():
    for tag in Tag.objects.all():
        tag.delete()

def bulk(n):
    Tag.objects.bulk_create([Tag(name=f"b{i}") for i in range(n)])

def bulk_update():
    tags = list(Tag.objects.all())
    for tag in tags:
        tag.uses += 1
    Tag.objects.bulk_update(tags, ["uses"])

def queryset_update():
    Tag.objects.update(uses=F("uses") + 1)

def queryset_delete():
    Tag.objects.all().delete()
"""

DJANGO_TESTS = """
import pytest
from shop import services
from shop.models import Tag

@pytest.fixture(autouse=True)
def data(db):
    Tag.objects.bulk_create([Tag(name=f"t{i}") for i in range(4)])

def test_pos_create_per_row(): services.create_per_row(4)
def test_pos_save_new_per_row(): services.save_new_per_row(4)
def test_pos_save_per_row(): services.save_per_row()
def test_pos_delete_per_row(): services.delete_per_row()

def test_neg_bulk_create(): services.bulk(10)
def test_neg_bulk_update(): services.bulk_update()
def test_neg_queryset_update(): services.queryset_update()
def test_neg_queryset_delete(): services.queryset_delete()
def test_neg_below_threshold(): services.create_per_row(2)

def test_neg_test_data_built_in_a_loop():
    for i in range(5):
        Tag.objects.create(name=f"x{i}")
"""


def test_unbatched_django(pytester: pytest.Pytester, run, django_env: str) -> None:
    pytester.makepyfile(settings=DJANGO_SETTINGS, test_it=DJANGO_TESTS)
    pytester.mkpydir("shop")
    pytester.makepyfile(**{"shop/models": DJANGO_MODELS, "shop/services": DJANGO_SERVICES})
    result = run("--ds=settings", "--pyskill-strict", "--pyskill-ignore=n-plus-one")
    out = result.stdout.str()
    assert "internal error" not in out, out
    assert _flagged(result) == {
        "test_pos_create_per_row": "unbatched-insert: 4 single-row INSERTs into shop_tag from one line",
        "test_pos_save_new_per_row": "unbatched-insert: 4 single-row INSERTs into shop_tag from one line",
        "test_pos_save_per_row": "unbatched-update: 4 single-row UPDATEs into shop_tag from one line",
        "test_pos_delete_per_row": "unbatched-delete: 4 single-row DELETEs into shop_tag from one line",
    }, out
    assert "fix: Model.objects.bulk_create([...]) instead of create()/save() per row" in out


def test_unbatched_raw_sqlite3(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        app="""
        import sqlite3

        def conn():
            c = sqlite3.connect(":memory:")
            c.execute("CREATE TABLE item (name TEXT)")
            return c

        def per_row(c, names):
            for n in names:
                c.execute("INSERT INTO item (name) VALUES (?)", (n,))

        def many(c, names):
            c.executemany("INSERT INTO item (name) VALUES (?)", [(n,) for n in names])

        def values(c):
            c.execute("INSERT INTO item (name) VALUES ('a'), ('b'), ('c'), ('d')")
        """,
        test_it="""
        import app

        def test_pos_per_row(): app.per_row(app.conn(), "abcd")
        def test_neg_executemany(): app.many(app.conn(), "abcd")
        def test_neg_multi_row_values(): app.values(app.conn())
        """,
    )
    result = run("--pyskill-strict")
    assert _flagged(result) == {
        "test_pos_per_row": "unbatched-insert: 4 single-row INSERTs into item from one line"
    }, result.stdout.str()
    assert "fix: cursor.executemany(sql, rows), or one INSERT with many VALUES" in result.stdout.str()
