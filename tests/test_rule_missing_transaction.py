"""Rule missing-transaction, end to end: Django on SQLite, PostgreSQL and MariaDB (with ``db``
and ``transactional_db``), SQLAlchemy on SQLite and PostgreSQL (plain and under a fixture's
outer transaction), raw sqlite3. ``test_pos_*`` must be flagged, ``test_neg_*`` must not."""

from __future__ import annotations

import re

import pytest

from conftest import DJANGO_SETTINGS

DJANGO_MODELS = """
from django.db import models

class Account(models.Model):
    balance = models.IntegerField(default=0)

class Entry(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="entries")
    amount = models.IntegerField()

class Premium(Account):  # multi-table inheritance: one save() writes two tables
    perk = models.CharField(max_length=10, default="x")
"""

DJANGO_SERVICES = """
from django.db import transaction
from shop.models import Account, Entry

def transfer(a, b, amount):
    a.balance -= amount
    a.save()
    b.balance += amount
    b.save()

@transaction.atomic
def transfer_atomic(a, b, amount):
    a.balance -= amount
    a.save()
    b.balance += amount
    b.save()

def transfer_with_block(a, b, amount):
    with transaction.atomic():
        transfer(a, b, amount)

def one_write(a):
    a.balance = 7
    a.save()

def bulk(a):
    Entry.objects.bulk_create([Entry(account=a, amount=i) for i in range(5)])

def cascade_delete(a):
    a.delete()

def open_premium():
    from shop.models import Premium
    Premium(balance=5, perk="gold").save()

def lock_outside(a):
    return list(Account.objects.select_for_update().filter(id=a.id))

def lock_inside(a):
    with transaction.atomic():
        return list(Account.objects.select_for_update().filter(id=a.id))
"""

DJANGO_TESTS = """
import pytest
from django.db import connection
from shop import services
from shop.models import Account, Entry

@pytest.fixture
def accounts(db):
    a, b = Account.objects.create(balance=10), Account.objects.create(balance=0)
    Entry.objects.create(account=a, amount=1)
    return a, b

def test_pos_two_saves(accounts): services.transfer(*accounts, 5)

@pytest.mark.django_db(transaction=True)
def test_pos_two_saves_transactional_db():
    a, b = Account.objects.create(balance=10), Account.objects.create(balance=0)
    services.transfer(a, b, 5)

def test_neg_atomic_decorator(accounts): services.transfer_atomic(*accounts, 5)
def test_neg_atomic_block(accounts): services.transfer_with_block(*accounts, 5)
def test_neg_single_write(accounts): services.one_write(accounts[0])
def test_neg_bulk_create(accounts): services.bulk(accounts[0])
def test_neg_cascading_delete(accounts): services.cascade_delete(accounts[0])
def test_neg_multi_table_inheritance_save(db): services.open_premium()

@pytest.mark.django_db(transaction=True)
def test_neg_atomic_transactional_db():
    a, b = Account.objects.create(balance=10), Account.objects.create(balance=0)
    services.transfer_atomic(a, b, 5)

def test_neg_writes_in_test_code(accounts):
    a, b = accounts
    a.balance = 1
    a.save()
    b.balance = 2
    b.save()

def test_for_update_outside(accounts):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no SELECT ... FOR UPDATE")
    services.lock_outside(accounts[0])

def test_neg_for_update_inside(accounts): services.lock_inside(accounts[0])
"""


def _flagged(result: pytest.RunResult) -> dict[str, str]:
    return dict(re.findall(r"FAILED test_it\.py::(\w+) - (missing-transaction: .*)", result.stdout.str()))


def test_missing_transaction_django(pytester: pytest.Pytester, run, django_env: str) -> None:
    pytester.makepyfile(settings=DJANGO_SETTINGS, test_it=DJANGO_TESTS)
    pytester.mkpydir("shop")
    pytester.makepyfile(**{"shop/models": DJANGO_MODELS, "shop/services": DJANGO_SERVICES})
    result = run("--ds=settings", "--pyskill-strict", "--pyskill-ignore=n-plus-one")
    out = result.stdout.str()
    assert "internal error" not in out, out
    expected = {
        "test_pos_two_saves": "missing-transaction: transfer() makes 2 writes committed in 2 separate transactions",
        "test_pos_two_saves_transactional_db": "missing-transaction: transfer() makes 2 writes committed in 2 separate transactions",
    }
    if django_env != "sqlite":
        expected["test_for_update_outside"] = (
            "missing-transaction: SELECT ... FOR UPDATE outside a transaction the code opened: it locks nothing"
        )
    assert _flagged(result) == expected, out
    assert "fix: wrap the operation in transaction.atomic() (decorator or with-block)" in out
    assert re.search(r"first write at shop/services.py:6 in transfer", out), out


SA_APP = """
from sqlalchemy import String, create_engine, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

class Base(DeclarativeBase):
    pass

class Account(Base):
    __tablename__ = "account"
    id: Mapped[int] = mapped_column(primary_key=True)
    balance: Mapped[int] = mapped_column(default=0)

def transfer_committing(s, a, b, amount):
    a.balance -= amount
    s.commit()
    b.balance += amount
    s.commit()

def transfer_one_commit(s, a, b, amount):
    a.balance -= amount
    s.flush()
    b.balance += amount
    s.commit()

def transfer_begin(s, a, b, amount):
    with s.begin():
        a.balance -= amount
        s.flush()
        b.balance += amount

def transfer_autocommit(engine):
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("UPDATE account SET balance = balance - 1 WHERE id = 1"))
        conn.execute(text("UPDATE account SET balance = balance + 1 WHERE id = 2"))

def transfer_engine_begin(engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE account SET balance = balance - 1 WHERE id = 1"))
        conn.execute(text("UPDATE account SET balance = balance + 1 WHERE id = 2"))
"""

SA_TESTS = """
import os
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
import app

@pytest.fixture
def engine():
    engine = create_engine(os.environ["PYSKILL_TEST_URL"])
    app.Base.metadata.create_all(engine)
    with Session(engine) as s:
        s.add_all([app.Account(id=1, balance=10), app.Account(id=2, balance=0)])
        s.commit()
    yield engine
    app.Base.metadata.drop_all(engine)
    engine.dispose()

@pytest.fixture
def s(engine):
    with Session(engine) as session:
        yield session

@pytest.fixture
def harness(engine):
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    yield session
    session.close()
    outer.rollback()
    conn.close()

def accounts(s):
    return s.get(app.Account, 1), s.get(app.Account, 2)

def test_pos_commit_per_write(s): app.transfer_committing(s, *accounts(s), 5)
def test_pos_autocommit_connection(engine): app.transfer_autocommit(engine)
def test_pos_commit_per_write_under_harness(harness): app.transfer_committing(harness, *accounts(harness), 5)

def test_neg_one_commit(s): app.transfer_one_commit(s, *accounts(s), 5)
def test_neg_session_begin(s): app.transfer_begin(s, *accounts(s), 5)
def test_neg_engine_begin(engine): app.transfer_engine_begin(engine)
def test_neg_one_commit_under_harness(harness): app.transfer_one_commit(harness, *accounts(harness), 5)
def test_neg_session_begin_under_harness(harness): app.transfer_begin(harness, *accounts(harness), 5)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def sa_db(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('tmp_path') / 'db.sqlite3'}"
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{request.getfixturevalue('pg_db')}"


def test_missing_transaction_sqlalchemy(pytester: pytest.Pytester, run, sa_db: str, monkeypatch) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", sa_db)
    pytester.makepyfile(app=SA_APP, test_it=SA_TESTS)
    result = run("--pyskill-strict", "--pyskill-ignore=n-plus-one")
    out = result.stdout.str()
    assert "internal error" not in out, out
    message = "missing-transaction: {}() makes 2 writes committed in 2 separate transactions"
    assert _flagged(result) == {
        "test_pos_commit_per_write": message.format("transfer_committing"),
        "test_pos_autocommit_connection": message.format("transfer_autocommit"),
        "test_pos_commit_per_write_under_harness": message.format("transfer_committing"),
    }, out
    assert "fix: one transaction for the operation: with session.begin(): (or engine.begin())" in out


def test_missing_transaction_raw_sqlite3(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        app="""
        import sqlite3

        def conn():
            c = sqlite3.connect(":memory:")
            c.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER)")
            c.execute("INSERT INTO account VALUES (1, 10), (2, 0)")
            c.commit()
            return c

        def transfer_committing(c):
            c.execute("UPDATE account SET balance = balance - 5 WHERE id = 1")
            c.commit()
            c.execute("UPDATE account SET balance = balance + 5 WHERE id = 2")
            c.commit()

        def transfer(c):
            c.execute("UPDATE account SET balance = balance - 5 WHERE id = 1")
            c.execute("UPDATE account SET balance = balance + 5 WHERE id = 2")
            c.commit()
        """,
        test_it="""
        import app

        def test_pos_commit_per_write(): app.transfer_committing(app.conn())
        def test_neg_one_commit(): app.transfer(app.conn())
        """,
    )
    result = run("--pyskill-strict")
    assert _flagged(result) == {
        "test_pos_commit_per_write": "missing-transaction: transfer_committing() makes 2 writes committed in 2 separate transactions"
    }, result.stdout.str()
