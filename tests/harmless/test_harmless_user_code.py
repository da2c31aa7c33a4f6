"""Never harmful to code a real suite contains: patched builtins, warning checks, tracing,
signals, object lifetimes, thread checks, test selection flags, third-party rules.

Each case runs one small project without and with pytest-pyskill (warn mode) and asserts pytest
decided the same (see ``compare.py``). Many cases reproduce a way the plugin once was harmful
(issue 11); they must keep passing.
"""

from __future__ import annotations

import sys

import pytest
from compare import Harmful, add_marker_fallback, compare, files, prime_cache, run
from projects import APP

PATCHING = """
import asyncio
import os
import sqlite3
import time
from unittest import mock

import pytest

import app


def test_monkeypatch_sleep(monkeypatch):
    calls = []
    monkeypatch.setattr(time, "sleep", calls.append)
    time.sleep(5)
    assert calls == [5]
    assert app.raw_inserts(3) == 3


def test_sleep_works_after_monkeypatch():
    time.sleep(0)
    assert time.sleep.__name__ == "sleep"


@pytest.mark.asyncio
async def test_mock_patch_sleep_in_a_loop():
    with mock.patch("time.sleep") as fake:
        assert await app.blocking_handler() == "done"
    fake.assert_called_once_with(0.001)


def test_mock_patch_sleep_autospec():
    with mock.patch("time.sleep", autospec=True) as fake:
        time.sleep(1)
    fake.assert_called_once_with(1)


def test_mock_open():
    with mock.patch("builtins.open", mock.mock_open(read_data="data")) as fake:
        with open("/nowhere") as fh:
            assert fh.read() == "data"
    fake.assert_called_once_with("/nowhere")
    assert app.raw_inserts(3) == 3


def test_patch_object_os_stat(tmp_path):
    with mock.patch.object(os, "stat", return_value=os.stat_result((0,) * 10)):
        assert os.stat(tmp_path).st_size == 0
    assert os.stat(tmp_path).st_mode != 0


def test_spy_on_sqlite3_connect(monkeypatch):
    real = sqlite3.connect
    opened = []

    def spy(*args, **kwargs):
        opened.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", spy)
    assert app.raw_inserts(3) == 3
    assert opened == [":memory:"]


def test_connect_after_the_spy():
    assert app.raw_inserts(3) == 3


def test_fake_sleep_raises_precisely(monkeypatch):
    def fake(seconds):
        raise TimeoutError(f"slept {seconds}")

    monkeypatch.setattr(time, "sleep", fake)
    app.raw_inserts(3)
    asyncio.run(app.blocking_handler())
"""


def test_user_patches_of_sleep_open_stat_connect(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_patching=PATCHING)
    compare(pytester, expect={"passed": 8, "failed": 1})


WRAPPED_BUILTINS = """
import inspect
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import app


class Poller:
    sleep = time.sleep
    opener = open
    stat = os.stat

    def poll(self, path):
        self.sleep(0)
        with self.opener(path) as fh:
            return fh.read(), self.stat(path).st_size


def test_sql():
    assert app.raw_inserts(3) == 3


def test_builtins_as_class_attributes(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("abc")
    assert Poller().poll(str(path)) == ("abc", 3)


def test_builtins_pickle_by_reference():
    for func in (os.stat, os.remove, os.listdir, os.unlink, os.mkdir, os.system, time.sleep, open):
        assert pickle.loads(pickle.dumps(func)) is func


def test_process_pool_maps_a_builtin(tmp_path):
    paths = [str(tmp_path), str(tmp_path)]
    with ProcessPoolExecutor(1) as pool:
        sizes = [s.st_size for s in pool.map(os.stat, paths)]
    assert sizes == [os.stat(p).st_size for p in paths]


def test_metadata():
    for func, name, module in (
        (time.sleep, "sleep", "time"),
        (os.stat, "stat", "posix"),
        (os.listdir, "listdir", "posix"),
        (open, "open", "_io" if sys.version_info >= (3, 12) else "io"),
    ):
        assert (func.__name__, func.__qualname__, func.__module__) == (name, name, module)
        assert func.__doc__
    assert str(inspect.signature(os.stat)) == "(path, *, dir_fd=None, follow_symlinks=True)"
"""


@pytest.mark.skipif(sys.platform == "win32", reason="posix module names")
def test_wrapped_builtins_behave_like_the_originals(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_wrapped=WRAPPED_BUILTINS)
    compare(pytester, expect={"passed": 5})


SQLITE_CONNECT = """
import sqlite3


class MyCursor(sqlite3.Cursor):
    pass


class MyConn(sqlite3.Connection):
    def cursor(self, factory=MyCursor):
        return super().cursor(factory)


def test_factory_by_position(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "db"), 5.0, 0, "DEFERRED", True, MyConn)
    assert type(conn) is MyConn
    assert type(conn.cursor()) is MyCursor
    conn.execute("SELECT 1")


def test_factory_by_keyword():
    conn = sqlite3.connect(":memory:", factory=MyConn)
    assert type(conn) is MyConn
    for i in range(3):
        conn.execute("SELECT ?", (i,))


def test_type_is_the_original():
    conn = sqlite3.connect(":memory:")
    assert type(conn) is sqlite3.Connection
    assert type(conn.cursor()) is sqlite3.Cursor
    for i in range(3):
        conn.execute("SELECT ?", (i,))


def test_uri_and_keywords(tmp_path):
    conn = sqlite3.connect(f"file:{tmp_path / 'u.db'}?mode=rwc", uri=True, timeout=1.0)
    conn.execute("CREATE TABLE t (a)")
    conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
"""


def test_sqlite3_connect_like_the_original(pytester: pytest.Pytester) -> None:
    files(pytester, test_connect=SQLITE_CONNECT)
    compare(pytester, expect={"passed": 4})


WARNING_CHECKS = """
import asyncio
import warnings

import pytest

import app


@pytest.fixture
def session():
    eng = app.engine()
    with app.Session(eng) as s:
        app.seed(s, 3)
        yield s


def test_recwarn_sees_only_mine(recwarn, session):
    app.author_names(session)
    app.raw_inserts(4)
    warnings.warn("mine", UserWarning)
    assert [str(w.message) for w in recwarn] == ["mine"]


def test_pytest_warns(session):
    with pytest.warns(UserWarning) as record:
        app.author_names(session)
        app.raw_inserts(4)
        warnings.warn("mine", UserWarning)
    assert [str(w.message) for w in record] == ["mine"]


def test_catch_warnings_always():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app.raw_inserts(4)
        asyncio.run(app.blocking_handler())
    assert caught == []


def test_no_warning_under_error_filter():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app.raw_inserts(4)
        asyncio.run(app.blocking_handler())


def test_deprecation_of_mine():
    app.raw_inserts(4)
    warnings.warn("old api", DeprecationWarning)
"""


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ((), {"passed": 5}),
        (("-W", "error"), {"passed": 4, "failed": 1}),
        (("-o", "filterwarnings=error"), {"passed": 4, "failed": 1}),
        (("-p", "no:warnings"), {"passed": 5}),
    ],
    ids=["default", "W-error", "ini-error", "no-warnings"],
)
def test_warning_checks_and_filters(
    pytester: pytest.Pytester, args: tuple[str, ...], expect: dict[str, int]
) -> None:
    """A blanket ``error`` filter is not a request to fail on findings (that is
    ``--pyskill-strict`` or an ``error::pytest_pyskill.PyskillWarning`` filter); the plugin's
    findings never show up in a test's own warning checks."""
    files(pytester, app=APP, test_warnings=WARNING_CHECKS)
    plugged = compare(pytester, *args, expect=expect)
    if args != ("-p", "no:warnings"):
        assert plugged.findings


PYSKILL_FILTERS = """
import pytest

import app


@pytest.mark.filterwarnings("ignore::pytest_pyskill.PyskillWarning")
def test_opted_out_by_marker():
    assert app.raw_inserts(4) == 4


def test_clean():
    assert app.raw_inserts(1) == 1
"""


@pytest.mark.parametrize(
    "args",
    [
        ("-o", "filterwarnings=error::pytest_pyskill.PyskillWarning"),
        (
            "-W",
            "error::pytest_pyskill.PyskillWarning",
            "-W",
            "ignore::pytest_pyskill.PyskillWarning",
            "-k",
            "clean or opted",
        ),
    ],
    ids=["ini-error-marker-ignore", "cli-error-then-ignore"],
)
def test_pyskill_warning_filters_decide_like_any_warning(
    pytester: pytest.Pytester, args: tuple[str, ...]
) -> None:
    files(pytester, app=APP, test_filters=PYSKILL_FILTERS)
    compare(pytester, *args, expect={"passed": 2})


SELECTION = """
import sqlite3


def lookups(n):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER)")
    for i in range(n):
        conn.execute("INSERT INTO t (a) VALUES (?)", (i,))
    return conn.execute("SELECT count(*) FROM t").fetchone()[0]


def test_1():
    assert lookups(3) == 3


def test_2_fails():
    assert lookups(3) == 2, "two"


def test_3():
    assert lookups(3) == 3


def test_4_fails():
    assert lookups(4) == 2, "four"


def test_5():
    assert lookups(3) == 3
"""


@pytest.mark.parametrize(
    ("args", "prime", "expect"),
    [
        (("-x",), None, {"passed": 1, "failed": 1}),
        (("--lf",), (), {"passed": 0, "failed": 2}),
        (("--sw",), ("--sw",), {"passed": 0, "failed": 1}),
        (("--sw-skip",), ("--sw",), {"passed": 1, "failed": 2, "deselected": 1}),
    ],
    ids=["x", "lf", "sw", "sw-skip"],
)
def test_selection_flags(
    pytester: pytest.Pytester,
    args: tuple[str, ...],
    prime: tuple[str, ...] | None,
    expect: dict[str, int],
) -> None:
    files(pytester, test_select=SELECTION)
    if prime is not None:
        prime_cache(pytester, *prime)
    compare(pytester, *args, cache=True, expect=expect)


TRACING_CONFTEST = """
import sys
import threading

import pytest

CALLS = []


def profiler(frame, event, arg):
    if event == "call" and frame.f_code.co_filename.endswith("app.py"):
        CALLS.append(frame.f_code.co_name)


sys.setprofile(profiler)
threading.setprofile(profiler)


@pytest.fixture
def tracer():
    lines = []

    def trace(frame, event, arg):
        if frame.f_code.co_filename.endswith("app.py"):
            if event == "line":
                lines.append(frame.f_lineno)
            return trace
        return None

    old = sys.gettrace()
    sys.settrace(trace)
    yield trace, lines
    sys.settrace(old)
"""

TRACING = """
import asyncio
import sys

import conftest

import app


def test_profile_is_still_mine():
    assert sys.getprofile() is conftest.profiler


def test_profile_sees_the_app():
    conftest.CALLS.clear()
    assert app.raw_inserts(3) == 3
    asyncio.run(app.blocking_handler())
    assert conftest.CALLS == ["raw_inserts", "blocking_handler", "blocking_handler"]


def test_settrace(tracer):
    trace, lines = tracer
    assert app.raw_inserts(3) == 3
    assert asyncio.run(app.blocking_handler()) == "done"
    assert sys.gettrace() is trace
    assert lines, "the tracer saw app.py"


def test_settrace_fails_precisely(tracer):
    trace, lines = tracer
    app.raw_inserts(2)
    assert lines == [], "the tracer saw app.py"
"""


def test_profile_and_trace_functions(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, conftest=TRACING_CONFTEST, test_tracing=TRACING)
    compare(pytester, expect={"passed": 3, "failed": 1})


SIGNALS = """
import asyncio
import faulthandler
import signal
import sys
import time

import pytest

import app


class Timeout(Exception):
    pass


@pytest.fixture
def alarm():
    def handler(signum, frame):
        raise Timeout("alarm")

    old = signal.signal(signal.SIGALRM, handler)
    yield lambda seconds: signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


def test_alarm_interrupts_sleep(alarm):
    app.raw_inserts(3)
    alarm(0.05)
    with pytest.raises(Timeout):
        time.sleep(30)


def test_alarm_interrupts_sleep_in_a_loop(alarm):
    async def main():
        alarm(0.05)
        time.sleep(30)

    with pytest.raises(Timeout):
        asyncio.run(main())


def test_sigint_handler_unchanged():
    handler = signal.getsignal(signal.SIGINT)
    app.raw_inserts(3)
    asyncio.run(app.blocking_handler())
    assert signal.getsignal(signal.SIGINT) is handler


def test_faulthandler():
    enabled = faulthandler.is_enabled()
    faulthandler.dump_traceback_later(60)
    app.raw_inserts(3)
    faulthandler.cancel_dump_traceback_later()
    assert faulthandler.is_enabled() == enabled


def test_no_imports_during_a_test():
    app.raw_inserts(1)
    asyncio.run(app.blocking_handler())
    before = set(sys.modules)
    app.raw_inserts(3)
    asyncio.run(app.blocking_handler())
    assert sorted(set(sys.modules) - before) == []


def test_frameworks_not_imported_by_anyone_but_the_app():
    assert [m for m in ("django", "psycopg", "asyncpg") if m in sys.modules] == []
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGALRM")
def test_signals_faulthandler_and_imports(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_signals=SIGNALS)
    compare(pytester, expect={"passed": 6})


POLLER_THREAD = """
import sqlite3
import threading

import pytest

RAN = threading.Event()


def poll():
    conn = sqlite3.connect(":memory:")
    while True:
        conn.execute("SELECT 1").fetchall()
        RAN.set()
        threading.Event().wait(0.002)


def test_a_starts_a_poller():
    threading.Thread(target=poll, daemon=True, name="poller").start()
    assert RAN.wait(30)


@pytest.mark.max_queries(1)
def test_b_one_query_of_its_own():
    RAN.clear()
    assert RAN.wait(30)  # the poller of test A ran during this test
    sqlite3.connect(":memory:").execute("SELECT 2").fetchall()
"""


def test_threads_of_earlier_tests_do_not_count(pytester: pytest.Pytester) -> None:
    add_marker_fallback(pytester)
    files(pytester, test_poller=POLLER_THREAD)
    compare(pytester, "--strict-markers", expect={"passed": 2})


FLUSH_STATE = """
import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import app
import repo


def test_a_flush_that_raises():
    eng = app.engine()
    with Session(eng) as session:
        session.add_all([app.Author(id=1, name="x"), app.Author(id=1, name="y")])
        with pytest.raises(IntegrityError):
            session.flush()


def test_b_unbatched_inserts():
    repo.insert_each(create_engine("sqlite://"), 5)
"""

REPO = """
from sqlalchemy import text


def insert_each(eng, n):
    with eng.begin() as conn:
        conn.execute(text("CREATE TABLE t (a INTEGER)"))
        for i in range(n):
            conn.execute(text("INSERT INTO t (a) VALUES (:a)"), {"a": i})
"""


def test_findings_do_not_depend_on_earlier_tests(pytester: pytest.Pytester) -> None:
    """The same test, alone and after a test whose flush raised: the same findings."""
    files(pytester, app=APP, repo=REPO, test_flush=FLUSH_STATE)
    alone = run(pytester, "test_flush.py::test_b_unbatched_inserts", plugin=True)
    after = run(pytester, plugin=True)
    assert alone.findings_of("test_b_unbatched_inserts") == [("unbatched-insert", 5)]
    if after.findings_of("test_b_unbatched_inserts") != alone.findings_of(
        "test_b_unbatched_inserts"
    ):
        raise Harmful(
            f"alone: {alone.findings_of('test_b_unbatched_inserts')}; "
            f"after a failed flush: {after.findings_of('test_b_unbatched_inserts')}"
        )


LIFETIMES = """
import gc
import sqlite3
import sys
import weakref

import pytest

import app


class Payload:
    pass


def query_with(conn, payload):
    conn.execute("SELECT 1").fetchall()


@pytest.fixture
def session():
    eng = app.engine()
    with app.Session(eng) as s:
        app.seed(s, 3)
        yield s


def test_a_local_dies_with_its_frame():
    conn = sqlite3.connect(":memory:")
    payload = Payload()
    ref = weakref.ref(payload)
    query_with(conn, payload)
    del payload
    assert ref() is None


def test_refcount_unchanged_by_a_query():
    conn = sqlite3.connect(":memory:")
    before = sys.getrefcount(conn)
    query_with(conn, None)
    assert sys.getrefcount(conn) == before


def test_gc_referrers():
    conn = sqlite3.connect(":memory:")
    before = len(gc.get_referrers(conn))
    query_with(conn, None)
    assert len(gc.get_referrers(conn)) == before


def test_identity_map_empties(session):
    app.author_names(session)
    gc.collect()
    assert len(session.identity_map) == 0
"""


def test_objects_die_when_they_would_without_the_plugin(pytester: pytest.Pytester) -> None:
    files(pytester, app=APP, test_lifetimes=LIFETIMES)
    compare(pytester, expect={"passed": 4})


BAD_RULES = """
import pytest
from pytest_pyskill import Finding


class NotAFinding:
    id = "not-a-finding"
    summary = "yields something that is not a Finding"
    severity = "warning"

    def check(self, run):
        if run.total:
            yield "not a finding"


class BadExtra:
    id = "bad-extra"
    summary = "a finding whose extra is not JSON-serialisable"
    severity = "warning"

    def check(self, run):
        if run.total:
            yield Finding(rule=self.id, severity=self.severity, message="odd", extra=(("obj", object()),))


@pytest.hookimpl(optionalhook=True)
def pytest_pyskill_rules(config):
    return [NotAFinding(), BadExtra()]
"""

BAD_RULES_TESTS = """
import app


def test_one():
    assert app.raw_inserts(2) == 2


def test_two():
    assert app.raw_inserts(1) == 1
"""


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_third_party_rule_errors_stay_internal(
    pytester: pytest.Pytester, args: tuple[str, ...]
) -> None:
    files(pytester, app=APP, conftest=BAD_RULES, test_rules=BAD_RULES_TESTS)
    compare(pytester, *args, expect={"passed": 2})


LAZY_CONFTEST = """
import importlib.util
import sys

EXECUTED = []


def lazy(name):
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


# In a dict: pytest itself reads every attribute of a conftest (fixture discovery).
LAZY = {name: lazy(name) for name in ("lazy_ok", "lazy_boom")}
"""

LAZY_TESTS = """
import asyncio
import time

import conftest

import app


def test_lazy_modules_stay_lazy():
    assert conftest.EXECUTED == []


def test_lazy_module_loads_on_use():
    assert conftest.LAZY["lazy_ok"].VALUE == 1
    assert conftest.EXECUTED == ["lazy_ok"]


def test_sleep_and_loop_after_start_up():
    time.sleep(0)
    assert asyncio.run(app.blocking_handler()) == "done"
    assert app.raw_inserts(2) == 2
"""


def test_lazy_modules_are_not_imported(pytester: pytest.Pytester) -> None:
    files(
        pytester,
        app=APP,
        conftest=LAZY_CONFTEST,
        lazy_ok='import conftest\nconftest.EXECUTED.append("lazy_ok")\nVALUE = 1\n',
        lazy_boom='raise RuntimeError("imported too early")\n',
        test_lazy=LAZY_TESTS,
    )
    compare(pytester, expect={"passed": 3})
