"""Instructions per statement under ``valgrind --tool=callgrind``: a figure that does not drift
with the machine's load (wall time here drifts 15-30 % between runs).

For each case (SQLAlchemy Core, SQLAlchemy ORM, Django, raw sqlite3) and mode (``none``: the
plugin's capture not installed; ``active``: installed, inside a test's window), a child process
runs the same statement loop ``--low`` and ``--high`` times after the same warm-up; the
difference of the two instruction totals divided by the difference of the counts is the cost of
one statement, with imports and set-up cancelled out. ``--src DIR`` (repeatable) runs the
children against another checkout's ``src`` (``git worktree add /tmp/old <commit>``), so a
change is measured before and after in one run:

    python benchmarks/instructions.py --src src --src /tmp/old/src [--jobs 2]

Run it from the repository root (the benchmark's own file is then application code).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
CASES = ("sqlalchemy-core", "sqlalchemy-orm", "django-orm", "sqlite3")
MODES = ("none", "active")


def child(case: str, mode: str, n: int) -> None:
    sys.path.insert(0, str(HERE.parent))
    import micro  # the same statement loops as the wall-clock micro-benchmark

    from pytest_pyskill.callsite import Classifier
    from pytest_pyskill.capture import Captures
    from pytest_pyskill.recorder import Recorder

    make = {
        "sqlalchemy-core": micro.sqlalchemy_core,
        "sqlalchemy-orm": micro.sqlalchemy_orm,
        "django-orm": micro.django_orm,
        "sqlite3": micro.raw_sqlite3,
    }[case]
    recorder = Recorder(Classifier(os.getcwd()), max_events=100_000, keep_params=False)
    captures = Captures(recorder)
    # Django capture attaches once Django is set up (by make()); a raw sqlite3 connection is
    # traced only when opened after installing.
    loop = make() if case != "sqlite3" else None
    if mode != "none":
        captures.install_available()
    loop = loop or make()
    if mode == "active":
        recorder.open("bench::window")
    loop(200)  # warm-up: first-use caches on every path
    loop(n)
    seen = recorder.close()
    if mode == "active" and (seen is None or seen.total < n):
        raise SystemExit(f"{case}: only {seen.total if seen else 0} of {n} statements seen")


def instructions(src: str, case: str, mode: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = dict(os.environ, PYTHONPATH=os.path.abspath(src), PYTHONHASHSEED="0")
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                str(HERE),
                "--child",
                case,
                mode,
                str(n),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise RuntimeError(f"{case}/{mode}/{n} failed:\n{proc.stderr[-2000:]}")
        match = re.search(r"Collected : (\d+)", proc.stderr)
        if not match:
            raise RuntimeError(f"no instruction count in:\n{proc.stderr[-2000:]}")
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("CASE", "MODE", "N"))
    parser.add_argument("--src", action="append", default=[])
    parser.add_argument("--low", type=int, default=500)
    parser.add_argument("--high", type=int, default=1500)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--cache", help="a JSON file keeping finished counts")
    args = parser.parse_args()
    if args.child:
        case, mode, n = args.child
        child(case, mode, int(n))
        return
    sources = args.src or ["src"]
    cases = args.cases.split(",")
    counts_of = (args.low, args.high)
    jobs = [(s, c, m, n) for s in sources for c in cases for m in MODES for n in counts_of]
    # Finished counts are kept in --cache, so an interrupted run resumes where it stopped.
    cache: dict[str, int] = {}
    if args.cache and os.path.exists(args.cache):
        cache = json.loads(Path(args.cache).read_text())

    def count(job: tuple[str, str, str, int]) -> int:
        key = "|".join(map(str, job))
        if key not in cache:
            cache[key] = instructions(*job)
            if args.cache:
                Path(args.cache).write_text(json.dumps(cache, indent=1))
        return cache[key]

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        counts = dict(zip(jobs, pool.map(count, jobs), strict=True))
    per = {
        (s, c, m): (counts[(s, c, m, args.high)] - counts[(s, c, m, args.low)])
        / (args.high - args.low)
        for s in sources
        for c in cases
        for m in MODES
    }
    print(f"instructions per statement (callgrind, {args.high} - {args.low} statements)")
    print(
        f"{'case':<16} {'src':<28} {'no plugin':>10} {'in a test':>10} {'added':>9} "
        f"{'ratio':>6}"
    )
    for c in cases:
        for s in sources:
            base, active = per[(s, c, "none")], per[(s, c, "active")]
            print(
                f"{c:<16} {s[-28:]:<28} {base:10.0f} {active:10.0f} {active - base:+9.0f} "
                f"{active / base:6.2f}"
            )


if __name__ == "__main__":
    main()
