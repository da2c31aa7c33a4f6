"""Per-statement cost of pytest-pyskill's capture: microseconds added per statement.

Runs the same statement loop on in-memory SQLite for SQLAlchemy Core, SQLAlchemy ORM, Django and
raw sqlite3, without the plugin, with the plugin installed but no test window open (between
tests), and with a window open (inside a test). Reports the median of several rounds.

    python benchmarks/micro.py [--n 20000] [--rounds 7] [--json out.json]
"""


import argparse
import json
import os
import sqlite3
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

from pytest_pyskill.callsite import Classifier
from pytest_pyskill.capture import Captures
from pytest_pyskill.recorder import Recorder


def sqlalchemy_core() -> Callable[[int], None]:
    from sqlalchemy import create_engine, text

    engine = create_engine("sqlite://")
    conn = engine.connect()
    conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
    conn.execute(text("INSERT INTO t VALUES (1, 'a')"))
    stmt = text("SELECT id, name FROM t WHERE id = :id")

    def loop(n: int) -> None:
        for _ in range(n):
            conn.execute(stmt, {"id": 1}).fetchall()

    return loop


def sqlalchemy_orm() -> Callable[[int], None]:
    from sqlalchemy import String, create_engine, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = "item"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(10))

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    session = Session(engine)
    session.add(Item(id=1, name="a"))
    session.commit()
    stmt = select(Item).where(Item.id == 1)

    def loop(n: int) -> None:
        for _ in range(n):
            session.scalars(stmt).all()

    return loop


def django_orm() -> Callable[[int], None]:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
            USE_TZ=True,
        )
        django.setup()
    from django.contrib.auth.models import Group
    from django.db import connection

    with connection.schema_editor() as editor:
        editor.create_model(Group)
    Group.objects.create(name="a")

    def loop(n: int) -> None:
        for _ in range(n):
            list(Group.objects.filter(id=1))

    return loop


def raw_sqlite3() -> Callable[[int], None]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO t VALUES (1, 'a')")

    def loop(n: int) -> None:
        for _ in range(n):
            conn.execute("SELECT id, name FROM t WHERE id = ?", (1,)).fetchall()

    return loop


def timed(loop: Callable[[int], None], n: int, rounds: int) -> float:
    loop(min(n, 2000))  # warm caches
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        loop(n)
        samples.append((time.perf_counter() - start) / n)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()

    cases: dict[str, Callable[[], Callable[[int], None]]] = {
        "sqlalchemy-core": sqlalchemy_core,
        "sqlalchemy-orm": sqlalchemy_orm,
        "django-orm": django_orm,
        "sqlite3": raw_sqlite3,
    }
    recorder = Recorder(Classifier(os.getcwd()), max_events=10_000, keep_params=False)
    captures = Captures(recorder)
    results: dict[str, dict[str, float]] = {}
    # The raw sqlite3 connection must be opened while the capture is installed to be traced,
    # and before it to be untraced; the others are hooked at class level either way.
    loops_plain = {name: make() for name, make in cases.items()}
    base = {name: timed(loop, args.n, args.rounds) for name, loop in loops_plain.items()}
    captures.install_available()
    loops = dict(loops_plain)
    loops["sqlite3"] = raw_sqlite3()
    idle = {name: timed(loop, args.n, args.rounds) for name, loop in loops.items()}
    recorder.open("bench::window")
    active = {name: timed(loop, args.n, args.rounds) for name, loop in loops.items()}
    window = recorder.close()
    # Memory of one window that sees many statements, measured apart from the timings.
    tracemalloc.start()
    recorder.open("bench::memory")
    for loop in loops.values():
        loop(args.n)
    _, peak = tracemalloc.get_traced_memory()
    recorder.close()
    tracemalloc.stop()
    captures.close()
    print(f"per-statement cost, median of {args.rounds} rounds of {args.n} statements")
    print(f"{'case':<16} {'base us':>8} {'idle +us':>9} {'in-test +us':>12} {'ratio':>6}")
    for name in cases:
        b, i, a = base[name] * 1e6, idle[name] * 1e6, active[name] * 1e6
        results[name] = {"base_us": b, "idle_added_us": i - b, "active_added_us": a - b,
                         "ratio": a / b}
        print(f"{name:<16} {b:8.2f} {i - b:+9.2f} {a - b:+12.2f} {a / b:6.2f}")
    kept = len(window.events) if window else 0
    print(f"window: {window.total if window else 0} statements seen, {kept} kept; "
          f"peak traced memory {peak / 1e6:.1f} MB")
    if recorder.errors:
        print("internal errors:", recorder.errors, file=sys.stderr)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"n": args.n, "rounds": args.rounds, "cases": results,
                       "peak_mb": peak / 1e6}, fh, indent=2)


if __name__ == "__main__":
    main()
