"""Generate a query-heavy pytest suite: Django and SQLAlchemy (sync and async) on SQLite.

    python benchmarks/generate_suite.py OUTDIR [--files 10]

``--files 10`` gives 300 tests: 100 Django (pytest-django ``db``), 100 SQLAlchemy sync (the
usual outer-transaction + savepoint fixture), 50 SQLAlchemy asyncio (aiosqlite) and 50 raw
sqlite3. Each test sends a few dozen statements: seeding, a lazy-loading loop, filters, updates.
With ``BENCH_ZEAL=1`` in the environment the Django tests run inside django-zeal's context.
"""

import argparse
import os
import shutil
import textwrap

PYTEST_INI = """\
[pytest]
DJANGO_SETTINGS_MODULE = bench_settings
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    ignore::DeprecationWarning
"""

SETTINGS = """\
import os

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
INSTALLED_APPS = ["benchapp"]
if os.environ.get("BENCH_ZEAL"):
    INSTALLED_APPS += ["django.contrib.contenttypes", "zeal"]
    ZEAL_RAISE = False
    ZEAL_SHOW_ALL_CALLERS = False
USE_TZ = True
SECRET_KEY = "bench"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""

DJANGO_MODELS = """\
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    title = models.CharField(max_length=50)
    pages = models.IntegerField(default=0)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
"""

SA_MODELS = """\
from sqlalchemy import ForeignKey, String
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    pages: Mapped[int] = mapped_column(default=0)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship()
"""

SERVICES = """\
from django.db.models import F
from sqlalchemy import select, update

from benchapp.models import Author as DjAuthor, Book as DjBook
from sa_models import Author, Book


def dj_seed(n):
    authors = DjAuthor.objects.bulk_create([DjAuthor(name=f"a{i}") for i in range(n)])
    DjBook.objects.bulk_create([DjBook(title=f"t{i}", author=a) for i, a in enumerate(authors)])


def dj_titles_with_authors():
    return [(b.title, b.author.name) for b in DjBook.objects.order_by("id")]


def dj_touch(n):
    for i in range(n):
        DjBook.objects.filter(title=f"t{i}").update(pages=F("pages") + 1)
    return DjBook.objects.filter(pages__gt=0).count()


def sa_seed(session, n):
    authors = [Author(name=f"a{i}") for i in range(n)]
    session.add_all(authors)
    session.flush()
    session.add_all([Book(title=f"t{i}", author_id=a.id) for i, a in enumerate(authors)])
    session.flush()


def sa_titles_with_authors(session):
    books = session.scalars(select(Book).order_by(Book.id)).all()
    return [(b.title, b.author.name) for b in books]


def sa_touch(session, n):
    for i in range(n):
        session.execute(update(Book).where(Book.title == f"t{i}").values(pages=Book.pages + 1))
    return len(session.scalars(select(Book).where(Book.pages > 0)).all())


async def sa_async_titles(session):
    books = (await session.scalars(select(Book).order_by(Book.id))).all()
    out = []
    for b in books:
        author = await b.awaitable_attrs.author
        out.append((b.title, author.name))
    return out


def raw_work(conn, n):
    conn.executemany("INSERT INTO item (name) VALUES (?)", [(f"n{i}",) for i in range(n)])
    total = 0
    for i in range(n):
        rows = conn.execute("SELECT id, name FROM item WHERE name = ?", (f"n{i}",)).fetchall()
        total += len(rows)
    conn.execute("UPDATE item SET name = name || '!' WHERE id < ?", (n,))
    return total
"""

CONFTEST = """\
import contextlib
import os
import sqlite3

import pytest
import pytest_asyncio
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from sa_models import Base

ZEAL = bool(os.environ.get("BENCH_ZEAL"))


@pytest.fixture(autouse=True)
def _zeal(request):
    if ZEAL and "db" in request.fixturenames:
        from zeal import zeal_context

        with zeal_context():
            yield
    else:
        yield


@pytest.fixture(scope="session")
def engine():
    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def session(engine):
    conn = engine.connect()
    outer = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint")
    yield s
    s.close()
    outer.rollback()
    conn.close()


@pytest_asyncio.fixture
async def async_session():
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine, expire_on_commit=False) as s:
        yield s
    await engine.dispose()


@pytest.fixture
def raw():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
    yield conn
    conn.close()
"""

DJANGO_TEST = """
def test_django_{i}(db):
    services.dj_seed(10)
    assert len(services.dj_titles_with_authors()) == 10
    assert services.dj_touch(10) == 10
"""

SA_TEST = """
def test_sqlalchemy_{i}(session):
    services.sa_seed(session, 10)
    assert len(services.sa_titles_with_authors(session)) == 10
    assert services.sa_touch(session, 10) == 10
"""

ASYNC_TEST = """
async def test_async_{i}(async_session):
    await async_session.run_sync(lambda s: services.sa_seed(s, 10))
    assert len(await services.sa_async_titles(async_session)) == 10
"""

RAW_TEST = """
def test_raw_{i}(raw):
    assert services.raw_work(raw, 20) == 20
"""


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)


def generate(out: str, files: int) -> int:
    if os.path.exists(out):
        shutil.rmtree(out)
    write(os.path.join(out, "pytest.ini"), PYTEST_INI)
    write(os.path.join(out, "bench_settings.py"), SETTINGS)
    write(os.path.join(out, "benchapp", "__init__.py"), "")
    write(os.path.join(out, "benchapp", "models.py"), DJANGO_MODELS)
    write(os.path.join(out, "sa_models.py"), SA_MODELS)
    write(os.path.join(out, "services.py"), SERVICES)
    write(os.path.join(out, "conftest.py"), CONFTEST)
    count = 0
    kinds = [
        ("django", DJANGO_TEST, 10),
        ("sqlalchemy", SA_TEST, 10),
        ("async", ASYNC_TEST, 5),
        ("raw", RAW_TEST, 5),
    ]
    for kind, template, per_file in kinds:
        for f in range(files):
            body = ["import services", ""]
            for t in range(per_file):
                body.append(textwrap.dedent(template.format(i=f * per_file + t)))
                count += 1
            write(os.path.join(out, "tests", f"test_{kind}_{f}.py"), "\n".join(body))
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--files", type=int, default=10)
    args = parser.parse_args()
    print(f"generated {generate(args.out, args.files)} tests in {args.out}")


if __name__ == "__main__":
    main()
