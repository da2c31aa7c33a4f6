"""The event-loop watch changes nothing a user's suite can see (issue 11, items 2, 4 and 16).

- Wrapped functions are indistinguishable from the originals in plain code: checked for every
  target, so a new target cannot slip in untested.
- Nothing is patched between tests; installing never imports a lazy module and is atomic.
- The watchdog thread is never seen by a before/after thread check, and forks stay safe.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import pickle
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_pyskill.callsite import Classifier
from pytest_pyskill.loop import Allowances, LoopWatch, patches
from pytest_pyskill.loop import install as install_loop
from pytest_pyskill.loop.watchdog import Watchdog
from pytest_pyskill.wrapping import transparent

TARGETS = patches.targets()


def _current(owner: Any, attr: str) -> Any:
    return owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr)


def _original(owner: Any, attr: str) -> Any:
    found = _current(owner, attr)
    return getattr(owner, attr) if found is None else found


def _signature(fn: Any) -> object:
    try:
        return inspect.signature(fn)
    except (ValueError, TypeError) as exc:
        return (type(exc), str(exc).replace(repr(fn), "<fn>"))


@pytest.fixture
def watch() -> LoopWatch:
    return LoopWatch(Classifier(os.getcwd()), Allowances(()), keep_detail=False)


@pytest.fixture
def installed(watch: LoopWatch) -> Iterator[patches.Patches]:
    wrappers = patches.Patches(watch)
    wrappers.install()
    try:
        yield wrappers
    finally:
        wrappers.sweep()


@pytest.mark.parametrize(
    ("owner", "attr"), [(t[0], t[1]) for t in TARGETS], ids=[t[2] + ":" + t[1] for t in TARGETS]
)
def test_every_wrapper_is_transparent(watch: LoopWatch, owner: Any, attr: str) -> None:
    original = _original(owner, attr)
    original_pickle = pickle.dumps(original)
    wrappers = patches.Patches(watch)
    wrappers.install()
    try:
        wrapper = _original(owner, attr)
        assert wrapper is not original, "not wrapped while a test is watched"
        assert wrapper.__wrapped__ is original
        for name in ("__name__", "__qualname__", "__module__", "__doc__"):
            if hasattr(original, name):
                assert getattr(wrapper, name) == getattr(original, name), name
        assert _signature(wrapper) == _signature(original)
        assert callable(wrapper)
        if isinstance(owner, type):
            # A method: looked up on instances, so it must bind as the original does.
            assert isinstance(wrapper, types.FunctionType)
            assert pickle.loads(pickle.dumps(getattr(owner, attr))) is getattr(owner, attr)
        else:
            # A function: never binds, as C builtins do not.
            assert not hasattr(type(wrapper), "__get__")
            holder = type("Holder", (), {"fn": wrapper})
            assert holder().fn is wrapper and holder.fn is wrapper
            assert repr(wrapper) == repr(original)
            # Pickles by reference: a round trip gives back what the user's name holds (as
            # ``pickle.loads(pickle.dumps(os.stat)) is os.stat`` holds without the plugin).
            home = sys.modules[original.__module__]
            assert pickle.loads(pickle.dumps(wrapper)) is getattr(owner, attr)
            if getattr(home, original.__qualname__) is wrapper:
                assert pickle.dumps(wrapper) == original_pickle  # the very same bytes
    finally:
        wrappers.sweep()
    assert _original(owner, attr) is original
    if not isinstance(owner, type):
        # A wrapper kept past the test still pickles, now to the original.
        assert pickle.loads(pickle.dumps(wrapper)) is getattr(home, original.__qualname__)


def test_transparent_is_reusable_for_other_functions() -> None:
    import sqlite3

    calls: list[str] = []
    original = inspect.unwrap(sqlite3.connect)  # the C function (whatever is installed)

    def connect(*args: Any, **kwargs: Any) -> Any:
        calls.append("connect")
        return original(*args, **kwargs)

    wrapper = transparent(original, connect)

    class Store:
        open_db = wrapper

    Store().open_db(":memory:").close()
    assert calls == ["connect"]
    assert wrapper.__name__ == "connect" and wrapper.__module__ == original.__module__
    assert pickle.loads(pickle.dumps(wrapper)) is original  # _sqlite3.connect, as before
    assert _signature(wrapper) == _signature(original)


PLAIN_SYNC_CODE = """
import concurrent.futures, inspect, multiprocessing, os, pickle, time

class Poller:
    sleep = time.sleep
    opener = open

    def poll(self):
        self.sleep(0.001)
        with self.opener(__file__) as f:
            return f.readline()

def test_builtins_as_class_attributes():
    assert Poller().poll()

def test_pickle_by_reference(tmp_path):
    for fn in (os.stat, os.remove, os.listdir, os.unlink, os.mkdir, os.system, time.sleep, open):
        loaded = pickle.loads(pickle.dumps(fn))
        assert loaded is fn or loaded is inspect.unwrap(fn)  # posix.stat is the original

def test_metadata():
    assert time.sleep.__name__ == "sleep" and time.sleep.__module__ == "time"
    assert os.stat.__qualname__ == "stat"
    assert str(inspect.signature(os.stat)).startswith("(path, *, dir_fd=None")

def _paths(tmp_path):
    paths = []
    for i in range(3):
        p = tmp_path / f"f{i}"
        p.write_text("x")
        paths.append(str(p))
    return paths

def test_process_pool_fork(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        assert [s.st_size for s in pool.map(os.stat, _paths(tmp_path))] == [1, 1, 1]
        assert sorted(next(pool.map(os.listdir, [str(tmp_path)]))) == ["f0", "f1", "f2"]
        list(pool.map(os.remove, _paths(tmp_path)))

def test_process_pool_spawn(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        assert [s.st_size for s in pool.map(os.stat, _paths(tmp_path))] == [1, 1, 1]
        list(pool.map(os.unlink, _paths(tmp_path)))
        list(pool.map(os.mkdir, [str(tmp_path / "d")]))
        assert list(pool.map(os.system, ["true"])) == [0]
"""


def test_plain_sync_code_behaves_as_without_the_plugin(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_plain=PLAIN_SYNC_CODE)
    without = run("-p", "no:pyskill", "-W", "error")
    without.assert_outcomes(passed=5)
    result = run("-W", "error")
    result.assert_outcomes(passed=5)
    assert "internal error" not in result.stdout.str()


NOTHING_BETWEEN_TESTS = """
import json, time

SEEN = []

def pytest_runtest_logstart(nodeid, location):
    SEEN.append(("between", hasattr(time.sleep, "__wrapped__")))

def pytest_runtest_logfinish(nodeid, location):
    SEEN.append(("after", hasattr(time.sleep, "__wrapped__")))

def pytest_sessionfinish(session):
    with open("seen.json", "w") as f:
        json.dump(SEEN, f)
"""


def test_nothing_is_patched_between_tests(pytester: pytest.Pytester, run) -> None:
    import json

    pytester.makeconftest(NOTHING_BETWEEN_TESTS)
    pytester.makepyfile(
        test_it="""
        import time

        def test_one():
            assert hasattr(time.sleep, "__wrapped__")  # watched: wrapped

        def test_two():
            assert hasattr(time.sleep, "__wrapped__")
        """
    )
    run().assert_outcomes(passed=2)
    seen = json.loads((pytester.path / "seen.json").read_text())
    assert seen == [["between", False], ["after", False]] * 2


LAZY_CONFTEST = """
import importlib.util, pathlib, sys

def _register():  # no conftest global holds it: pytest reads conftest globals
    path = pathlib.Path(__file__).parent / "lazy_boom.py"
    spec = importlib.util.spec_from_file_location("lazy_boom", path)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lazy_boom"] = module
    spec.loader.exec_module(module)

_register()
"""

LAZY_MODULE = """
import os
from time import sleep
os.environ["LAZY_BOOM_IMPORTED"] = "1"
raise RuntimeError("lazy_boom must never be imported")
"""

LAZY_SCRIPT = """
import os, sys, time
original = time.sleep
import pytest
code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "test_it.py"])
assert code == 0, code
assert "LAZY_BOOM_IMPORTED" not in os.environ, "the lazy module was imported"
assert time.sleep is original, time.sleep
print("CLEAN")
"""


def test_lazy_modules_are_never_imported(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(LAZY_CONFTEST)
    (pytester.path / "lazy_boom.py").write_text(LAZY_MODULE)
    pytester.makepyfile(
        test_it="""
        import asyncio, time

        def test_sync():
            time.sleep(0.001)

        def test_loop():
            async def main():
                time.sleep(0.001)
            asyncio.run(main())
        """
    )
    script = pytester.path / "check.py"
    script.write_text(LAZY_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=pytester.path, capture_output=True, text=True
    )
    out = proc.stdout + proc.stderr
    assert "CLEAN" in proc.stdout, out
    assert "internal error" not in out, out


class _Refuses(type):
    def __setattr__(cls, name: str, value: object) -> None:
        raise RuntimeError("injected failure")


class _Unpatchable(metaclass=_Refuses):
    """A target owner that refuses the patch: the install fails there."""

    fn = len


def _snapshot(early: types.ModuleType) -> dict[str, Any]:
    state: dict[str, Any] = {
        f"{t[2]}:{t[1]}": _current(t[0], t[1]) for t in TARGETS if not isinstance(t[0], str)
    }
    state["early.sleep"] = early.sleep
    state["asyncio._set_running_loop"] = asyncio.events._set_running_loop
    for name in ("supports_dir_fd", "supports_fd", "supports_follow_symlinks"):
        state[name] = frozenset(map(id, getattr(os, name, set())))
    return state


@pytest.mark.parametrize("where", ["a target", "the last step"])
def test_a_failure_mid_install_leaves_nothing_patched(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    early = types.ModuleType("pyskill_early_bound")
    early.__file__ = "pyskill_early_bound.py"
    early.sleep = time.sleep  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, early.__name__, early)
    if where == "a target":
        bad = (_Unpatchable, "fn", "bad.fn", None, None)
        monkeypatch.setattr(patches, "targets", lambda: [*TARGETS[:5], bad, *TARGETS[5:]])
    else:

        def fail(*args: object) -> None:
            raise RuntimeError("injected failure")

        monkeypatch.setattr(patches, "_rebind_class_attributes", fail)
    before = _snapshot(early)
    errors: list[str] = []
    uninstall = None
    try:
        watch, uninstall = install_loop(Classifier(os.getcwd()), Allowances(()), False)
    except RuntimeError:
        pass  # failing at install time is fine, if it left nothing behind
    else:
        watch.on_error = lambda where, exc: errors.append(f"{where}: {exc}")
        watch.open()
        try:
            assert _snapshot(early) == {
                **before,
                "asyncio._set_running_loop": asyncio.events._set_running_loop,
            }
            assert errors == ["installing the blocking-call wrappers: injected failure"]
            watch.close()
            watch.open()  # reported once, not tried again
            assert len(errors) == 1
            watch.close()
        finally:
            uninstall()
    assert _snapshot(early) == before


# -- the watchdog thread ---------------------------------------------------------------------

THREAD_CHECK_CONFTEST = """
import threading
import pytest

@pytest.fixture(autouse=True)
def no_thread_leak():
    before = set(threading.enumerate())
    yield
    leaked = [t.name for t in set(threading.enumerate()) - before]
    assert not leaked, f"leaked threads: {leaked}"
"""

THREAD_APP = """
import time

def nap():
    time.sleep(0.06)
"""

THREAD_TESTS = """
import asyncio, threading, time
import pytest
from app import nap

def _others():
    return [t.name for t in threading.enumerate() if t is not threading.main_thread()]

@pytest.mark.asyncio
async def test_async_blocking():
    nap()  # a finding, and time for the watchdog to run
    await asyncio.sleep(0.03)

@pytest.mark.asyncio
async def test_async_quiet():
    await asyncio.sleep(0.03)

def test_asyncio_run_in_sync_test():
    async def main():
        nap()
        await asyncio.sleep(0.03)
    before = _others()
    asyncio.run(main())
    assert _others() == before  # right after asyncio.run returns

def test_sync_after():
    assert not [n for n in _others() if "pyskill" in n]
"""


def _outcomes(result: pytest.RunResult) -> dict[str, int]:
    return result.parseoutcomes()


def test_a_before_after_thread_check_sees_no_watchdog(pytester: pytest.Pytester, run) -> None:
    pytester.makeconftest(THREAD_CHECK_CONFTEST)
    pytester.makepyfile(test_threads=THREAD_TESTS, app=THREAD_APP)
    without = run("-p", "no:pyskill")
    without.assert_outcomes(passed=4)
    result = run("--pyskill-json=r.json")
    result.assert_outcomes(passed=4)
    report = (pytester.path / "r.json").read_text()
    assert report.count('"rule": "blocking-call"') == 2, report  # the watch did run


def test_pytest_threadleak_sees_no_watchdog(pytester: pytest.Pytester, run) -> None:
    pytest.importorskip("pytest_threadleak")
    pytester.makepyfile(test_threads=THREAD_TESTS, app=THREAD_APP)
    run("-p", "no:pyskill", "--threadleak").assert_outcomes(passed=4)
    run("--threadleak").assert_outcomes(passed=4)


FORK_TESTS = """
import asyncio, multiprocessing, os, threading, time, warnings
import pytest

def _fork_warnings(record):
    return [str(w.message) for w in record if "multi-threaded" in str(w.message)]

@pytest.mark.asyncio
async def test_os_fork_in_async_test():
    await asyncio.sleep(0.03)  # the watchdog runs
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        pid = os.fork()
        if pid == 0:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    assert not _fork_warnings(record)
    await asyncio.sleep(0.03)

def _work(q):
    q.put(os.getpid())

@pytest.mark.asyncio
async def test_multiprocessing_fork_in_async_test():
    await asyncio.sleep(0.03)
    ctx = multiprocessing.get_context("fork")
    q = ctx.SimpleQueue()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        p = ctx.Process(target=_work, args=(q,))
        p.start()
    p.join(10)
    assert p.exitcode == 0 and q.get() == p.pid
    assert not _fork_warnings(record)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forks_are_safe_and_never_warn(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_fork=FORK_TESTS)
    # Without pytest-rerunfailures (installed for the harmlessness suite): it runs a server
    # thread in every pytest process, and the fork would warn on Python 3.12+ without us.
    quiet = ("-p", "no:rerunfailures", "-W", "error::DeprecationWarning")
    run("-p", "no:pyskill", *quiet).assert_outcomes(passed=2)
    result = run(*quiet)
    result.assert_outcomes(passed=2)
    assert "internal error" not in result.stdout.str()


def _pyskill_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pyskill-loop-watchdog"]


def _dog(watch: LoopWatch) -> tuple[Watchdog, Any]:
    dog = Watchdog(watch, 0.01, 0.01)
    from pytest_pyskill.loop import watchdog

    watch.on_open.append(("dog", dog.window_opened, dog.window_closed))
    return dog, watchdog.install(dog)


def test_the_watchdog_runs_only_while_a_watched_loop_runs(watch: LoopWatch) -> None:
    dog, uninstall = _dog(watch)
    seen: list[bool] = []

    async def main() -> None:
        seen.append(dog.running)
        await asyncio.sleep(0.02)

    try:
        asyncio.run(main())  # no test watched: no thread
        watch.open()
        try:
            asyncio.run(main())
            assert not dog.running  # stopped and joined when the loop stopped
            asyncio.run(main())
        finally:
            watch.close()
    finally:
        uninstall()
    assert seen == [False, True, True]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_the_watchdog_stops_for_a_fork_and_restarts_after(watch: LoopWatch) -> None:
    dog, uninstall = _dog(watch)
    seen: list[object] = []

    async def main() -> None:
        await asyncio.sleep(0.02)
        seen.append(dog.running)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        seen.append(dog.running)  # stopped before the fork, not yet restarted
        os.waitpid(pid, 0)  # noqa: ASYNC222 - the child exits at once
        await asyncio.sleep(0.02)
        seen.append(dog.running)  # restarted from the loop once the fork returned

    try:
        watch.open()
        try:
            asyncio.run(main())
        finally:
            watch.close()
    finally:
        uninstall()
    assert seen == [True, False, True]
    # A closed session's fork hooks do nothing.
    started = dog.threads_started
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    assert dog.threads_started == started and not dog.running


def test_a_loop_running_before_the_window_is_watched(watch: LoopWatch) -> None:
    dog, uninstall = _dog(watch)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    try:
        started = threading.Event()
        loop.call_soon_threadsafe(started.set)
        thread.start()
        started.wait()
        assert not dog.running  # between tests: no watchdog thread
        watch.open()
        try:
            assert dog.running
        finally:
            watch.close()
        assert not dog.running
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        uninstall()
