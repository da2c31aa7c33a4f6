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


def timed(loop: Callable[[int], None], n: int) -> float:
    start = time.perf_counter()
    loop(n)
    return (time.perf_counter() - start) / n


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
    # Without the plugin at all: the floor.
    plain = {name: make() for name, make in cases.items()}
    for loop in plain.values():
        loop(2000)
    base = {
        name: min(timed(loop, args.n) for _ in range(args.rounds)) for name, loop in plain.items()
    }
    captures.install_available()
    loops = dict(plain)
    loops["sqlite3"] = raw_sqlite3()  # opened while installed: a traced connection
    idle: dict[str, list[float]] = {name: [] for name in cases}
    active: dict[str, list[float]] = {name: [] for name in cases}
    window = None
    for _ in range(args.rounds):  # interleaved, so drift on a busy machine hits both alike
        for name, loop in loops.items():
            idle[name].append(timed(loop, args.n))
            recorder.open("bench::window")
            active[name].append(timed(loop, args.n))
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
    base_min = base
    results: dict[str, dict[str, float]] = {}
    idle_min = {k: min(v) for k, v in idle.items()}
    active_min = {k: min(v) for k, v in active.items()}
    print(f"per-statement cost, best of {args.rounds} rounds of {args.n} statements")
    print(f"{'case':<16} {'base us':>8} {'idle +us':>9} {'in-test +us':>12} {'ratio':>6}")
    for name in cases:
        b, i, a = base_min[name] * 1e6, idle_min[name] * 1e6, active_min[name] * 1e6
        results[name] = {
            "base_us": b,
            "idle_added_us": i - b,
            "active_added_us": a - b,
            "ratio": a / b,
        }
        print(f"{name:<16} {b:8.2f} {i - b:+9.2f} {a - b:+12.2f} {a / b:6.2f}")
    kept = len(window.events) if window else 0
    print(
        f"one window: {window.total if window else 0} statements seen, {kept} kept; "
        f"peak traced memory of a {4 * args.n}-statement window {peak / 1e6:.1f} MB"
    )
    if recorder.errors:
        print("internal errors:", recorder.errors, file=sys.stderr)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {"n": args.n, "rounds": args.rounds, "cases": results, "peak_mb": peak / 1e6},
                fh,
                indent=2,
            )


if __name__ == "__main__":
    main()
