"""What watching event loops costs: the blocking-call patches and the watchdog.

    python benchmarks/loop_cost.py [--n 200000] [--rounds 7] [--json out.json]

1. A patched call outside any event loop (a sync test, or the whole run between tests):
   ``os.stat`` and ``threading.Event.wait`` on a set event, without the plugin, installed but
   not watching, and while a test is watched. Target: under 1 us added per call.
2. A patched call inside a running loop that is not blocking (``send`` on asyncio's
   non-blocking sockets: the guard runs and lets it through), and, for information, a call that
   is recorded as a finding (the stack walk and the event).
3. A task-switch-heavy async workload (thousands of tasks yielding to each other) with and
   without the watchdog pinging the loop. Target: under 5 %.
4. Per test: opening and closing a test's window (the wrappers go in and come out again, with
   the modules of a real suite loaded; target under 100 us), and ``asyncio.run`` of an empty
   coroutine (the watchdog thread starts and is joined for each ``run_until_complete``).

Alternates configurations round by round and reports medians (this VM is noisy: +-15 %).
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable

from pytest_pyskill.callsite import Classifier
from pytest_pyskill.loop import Allowances, install


def per_call(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def task_switches(tasks: int, switches: int) -> float:
    async def worker() -> None:
        for _ in range(switches):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(tasks)))

    start = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - start


def in_loop_per_call(n: int) -> tuple[float, float]:
    """(non-blocking socket send, recorded os.stat) microseconds per call, inside a loop."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    path = __file__

    async def main() -> tuple[float, float]:
        def send() -> None:
            a.send(b"x")
            b.recv(1)

        sent = per_call(send, n)
        stat = per_call(lambda: os.stat(path), max(1, n // 50))
        return sent, stat

    try:
        return asyncio.run(main())
    finally:
        a.close()
        b.close()


def window_cost(watch: object, n: int) -> float:
    """Microseconds per open+close of a test's window (nothing imported in between)."""
    start = time.perf_counter()
    for _ in range(n):
        watch.open()  # type: ignore[attr-defined]
        watch.close()  # type: ignore[attr-defined]
    return (time.perf_counter() - start) / n * 1e6


def empty_run(n: int) -> float:
    async def nothing() -> None:
        pass

    start = time.perf_counter()
    for _ in range(n):
        asyncio.run(nothing())
    return (time.perf_counter() - start) / n * 1e6


def load_a_real_suites_modules() -> None:
    import contextlib
    import importlib

    for name in ("django.db.models", "sqlalchemy.orm", "email.mime.text", "http.client",
                 "xml.dom.minidom", "unittest.mock", "multiprocessing.pool", "decimal",
                 "sqlite3", "pytest", "json", "logging.handlers", "urllib.request"):  # fmt: skip
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--switches", type=int, default=100)
    parser.add_argument("--json")
    args = parser.parse_args()

    fd, path = tempfile.mkstemp()
    os.close(fd)
    done = threading.Event()
    done.set()
    calls: dict[str, Callable[[], object]] = {
        "os.stat": lambda: os.stat(path),
        "Event.wait(set)": lambda: done.wait(1),
    }
    classifier = Classifier(os.getcwd())
    outside: dict[str, dict[str, list[float]]] = {
        name: {"plain": [], "installed": [], "watching": []} for name in calls
    }
    in_loop: dict[str, list[float]] = {"plain send": [], "send": [], "recorded os.stat": []}
    switch: dict[str, list[float]] = {"plain": [], "watchdog": []}
    per_test: dict[str, list[float]] = {"window": [], "run plain": [], "run watched": []}
    load_a_real_suites_modules()
    for _ in range(args.rounds):
        for name, fn in calls.items():
            outside[name]["plain"].append(per_call(fn, args.n))
        in_loop["plain send"].append(in_loop_per_call(args.n)[0])
        switch["plain"].append(task_switches(args.tasks, args.switches))
        per_test["run plain"].append(empty_run(200))
        watch, uninstall = install(classifier, Allowances(()), keep_detail=False)
        try:
            per_test["window"].append(window_cost(watch, 2000))
            for name, fn in calls.items():
                outside[name]["installed"].append(per_call(fn, args.n))
            watch.open()
            for name, fn in calls.items():
                outside[name]["watching"].append(per_call(fn, args.n))
            sent, stat = in_loop_per_call(args.n)
            in_loop["send"].append(sent)
            in_loop["recorded os.stat"].append(stat)
            watch.events.clear()
            switch["watchdog"].append(task_switches(args.tasks, args.switches))
            per_test["run watched"].append(empty_run(200))
            watch.close()
        finally:
            uninstall()
    os.unlink(path)

    med = statistics.median
    result: dict[str, object] = {"python": sys.version.split()[0], "rounds": args.rounds}
    print(f"Python {result['python']}, {args.rounds} rounds, medians\n")
    print("patched call outside a loop (us per call):")
    rows = {}
    for name, cols in outside.items():
        plain, installed, watching = (med(cols[k]) for k in ("plain", "installed", "watching"))
        rows[name] = {
            "plain_us": round(plain, 3),
            "installed_us": round(installed, 3),
            "watching_us": round(watching, 3),
            "added_us": round(watching - plain, 3),
        }
        print(
            f"  {name:16} plain {plain:.3f}  installed {installed:.3f} (+{installed - plain:.3f})"
            f"  in a test {watching:.3f} (+{watching - plain:.3f})"
        )
    result["outside_loop"] = rows
    plain_send, send, stat = (med(in_loop[k]) for k in ("plain send", "send", "recorded os.stat"))
    print("inside a running loop (us per call):")
    print(f"  non-blocking socket send+recv: plain {plain_send:.3f}, watched {send:.3f} "
          f"(+{send - plain_send:.3f})")  # fmt: skip
    print(f"  os.stat recorded as a blocking call: {stat:.1f}")
    result["inside_loop"] = {
        "send_recv_plain_us": round(plain_send, 3),
        "send_recv_watched_us": round(send, 3),
        "recorded_call_us": round(stat, 2),
    }
    plain_s, dog_s = med(switch["plain"]), med(switch["watchdog"])
    ratio = dog_s / plain_s
    print(
        f"task switches ({args.tasks} tasks x {args.switches} awaits): plain {plain_s:.3f} s, "
        f"with the watchdog {dog_s:.3f} s, ratio {ratio:.3f}"
    )
    result["task_switches"] = {
        "plain_s": round(plain_s, 4),
        "watchdog_s": round(dog_s, 4),
        "ratio": round(ratio, 4),
    }
    window, run_plain, run_watched = (med(per_test[k]) for k in per_test)
    print(f"per test: window open+close {window:.1f} us ({len(sys.modules)} modules loaded); "
          f"asyncio.run(empty): plain {run_plain:.0f} us, watched {run_watched:.0f} us "
          f"(+{run_watched - run_plain:.0f})")  # fmt: skip
    result["per_test"] = {
        "window_open_close_us": round(window, 1),
        "asyncio_run_plain_us": round(run_plain, 1),
        "asyncio_run_watched_us": round(run_watched, 1),
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
