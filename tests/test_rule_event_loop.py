"""Rules blocking-call, slow-callback and max-loop-block, end to end.

The scenario project lives in ``tests/scenarios/event_loop`` (shared with the neighbour
comparison in ``benchmarks/compare_blocking.py``): ``loopapp/`` is a small asyncio service with
each mistake next to its fixed twin; inner tests named ``test_pos_*`` must be flagged (at the
application function below) and ``test_neg_*`` must not be flagged by any rule.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree

import pytest

from conftest import DJANGO_SETTINGS, copy_scenario, use_django_backend
from pytest_pyskill.loop import TICK as LOOP_TICK

SCENARIO = "event_loop"

# inner test -> (rule, application function the finding points at, label)
ASYNCIO_POSITIVES = {
    "test_pos_nap": ("blocking-call", "nap", "time.sleep"),
    "test_pos_early_bound_sleep": ("blocking-call", "early_bound_sleep", "time.sleep"),
    "test_pos_read_config": ("blocking-call", "read_config", "open"),
    "test_pos_read_with_pathlib": ("blocking-call", "read_with_pathlib", "open"),
    "test_pos_list_dir": ("blocking-call", "list_dir", "os.scandir, os.listdir"),
    "test_pos_walk_tree": ("blocking-call", "walk_tree", "os.scandir"),
    "test_pos_file_exists": ("blocking-call", "file_exists", "os.stat"),
    "test_pos_fetch_tcp": ("blocking-call", "fetch_tcp", "socket.getaddrinfo, socket.connect"),
    "test_pos_resolve": ("blocking-call", "resolve", "socket.getaddrinfo"),
    "test_pos_http_get": ("blocking-call", "http_get", "socket.getaddrinfo, socket.connect"),
    "test_pos_run_command": ("blocking-call", "run_command", "subprocess.Popen.communicate"),
    "test_pos_shell": ("blocking-call", "shell", "os.system"),
    "test_pos_wait_event": ("blocking-call", "wait_event", "threading.Event.wait"),
    "test_pos_wait_future": ("blocking-call", "wait_future", "concurrent.futures.Future.result"),
    "test_pos_queue_get": ("blocking-call", "queue_get", "queue.Queue.get"),
    "test_pos_join_thread": ("blocking-call", "join_thread", "threading.Thread.join"),
    "test_pos_ask_user": ("blocking-call", "ask_user", "input"),
    "test_pos_nap_in_async_fixture": ("blocking-call", "nap", "time.sleep"),
    "test_pos_crunch": ("slow-callback", "cpu", "slow-callback"),
    "test_pos_c_level_wait": ("slow-callback", "c_level_wait", "slow-callback"),
    "test_pos_nap_long": ("blocking-call", "nap_long", "time.sleep"),
    "test_pos_asyncio_run_in_sync_test": ("blocking-call", "nap", "time.sleep"),
}
SMALL_POSITIVES = {  # the anyio and uvloop scenarios
    "test_pos_nap": ("blocking-call", "nap", "time.sleep"),
    "test_pos_read_config": ("blocking-call", "read_config", "open"),
    "test_pos_crunch": ("slow-callback", "cpu", "slow-callback"),
    "test_pos_asyncio_run_in_sync_test": ("blocking-call", "nap", "time.sleep"),
}


def _report(path: Path) -> dict[str, list[dict]]:
    by_test: dict[str, list[dict]] = defaultdict(list)
    for finding in json.loads(path.read_text())["findings"]:
        by_test[finding["test"].split("::")[-1]].append(finding)
    return by_test


def _tests_in(result: pytest.RunResult) -> set[str]:
    return set(re.findall(r"::(test_\w+) (?:PASSED|FAILED)", result.stdout.str()))


def _check(result: pytest.RunResult, report: Path, positives: dict) -> dict[str, list[dict]]:
    out = result.stdout.str()
    assert "internal error" not in out, out
    ran = _tests_in(result)
    assert set(positives) <= ran, (set(positives) - ran, out)
    found = _report(report)
    for name in sorted(ran):
        if name.startswith("test_neg_"):
            assert not found.get(name), (name, found.get(name))
    for name, (rule, function, label) in positives.items():
        got = found.get(name, [])
        assert got, (name, "not flagged", out)
        assert {f["rule"] for f in got} == {rule}, (name, got)
        first = got[0]
        assert first["location"]["function"] == function, (name, first["location"])
        assert first["location"]["path"].startswith("loopapp/"), first["location"]
        assert first["label"].startswith(label), (name, first["label"])
    return found


def test_pytest_asyncio_strict_mode_warns_and_never_changes_outcomes(
    pytester: pytest.Pytester, run
) -> None:
    copy_scenario(pytester, SCENARIO, "scenario_asyncio.py")
    result = run("-v", "--pyskill-json=report.json", "--junitxml=junit.xml")
    result.assert_outcomes(passed=len(_tests_in(result)))
    found = _check(result, pytester.path / "report.json", ASYNCIO_POSITIVES)
    # The finding names what was called, how long it held the loop, and the fix.
    nap = found["test_pos_nap"][0]
    assert re.match(r"time\.sleep blocked the event loop \(1 call, \d+ ms in all\)", nap["message"])
    assert nap["fix"] == "await asyncio.sleep(...) instead of time.sleep(...)"
    crunch = found["test_pos_crunch"][0]
    assert re.search(r"blocked for \d+ ms \(threshold 100 ms, 1 time\)", crunch["message"])
    # The real duration, with bounds that hold however loaded the machine is: cpu(0.25) spins
    # for at least 250 ms of wall time (a ping counts from when it was due, so at most a tick or
    # two is missed), and a stall inside the test cannot outlast the test itself.
    duration = int(re.search(r"blocked for (\d+) ms", crunch["message"]).group(1))
    junit = ElementTree.parse(pytester.path / "junit.xml").getroot()
    test_ms = next(
        1000 * float(case.get("time", "0"))
        for case in junit.iter("testcase")
        if case.get("name") == "test_pos_crunch"
    )
    assert 250 - 2 * 1000 * LOOP_TICK <= duration <= test_ms, (crunch["message"], test_ms)
    # time.sleep(0.25) is a blocking call; it does not also count as a stall.
    assert [f["rule"] for f in found["test_pos_nap_long"]] == ["blocking-call"]
    # No parameter values by default: no path, no host.
    assert all(f["details"] == [f"1 x {f['label']}"] for f in found["test_pos_read_config"])
    out = result.stdout.str()
    assert "blocking-call: " in out and "slow-callback: " in out


def test_pytest_asyncio_auto_mode_strict_fails_exactly_the_positives(
    pytester: pytest.Pytester, run
) -> None:
    copy_scenario(pytester, SCENARIO, "scenario_asyncio.py")
    result = run("-v", "-o", "asyncio_mode=auto", "--pyskill-strict", "--pyskill-json=r.json")
    failed = set(re.findall(r"FAILED \S+::(test_\w+)", result.stdout.str()))
    assert failed == set(ASYNCIO_POSITIVES), result.stdout.str()
    _check(result, pytester.path / "r.json", ASYNCIO_POSITIVES)


@pytest.mark.parametrize("scenario", ["scenario_anyio.py", "scenario_uvloop.py"])
def test_anyio_plugin_and_uvloop(pytester: pytest.Pytester, run, scenario: str) -> None:
    copy_scenario(pytester, SCENARIO, scenario)
    result = run("-v", "--pyskill-json=r.json")
    result.assert_outcomes(passed=len(_tests_in(result)))
    _check(result, pytester.path / "r.json", SMALL_POSITIVES)


def test_sync_drivers_on_the_loop(
    pytester: pytest.Pytester, run, monkeypatch, sa_url: str, sa_async_url: str
) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", sa_url)
    monkeypatch.setenv("PYSKILL_TEST_ASYNC_URL", sa_async_url)
    copy_scenario(pytester, SCENARIO, "scenario_db.py")
    # About blocking calls: a first connect's CPU work on a loaded CI machine can also stall the
    # loop past 100 ms (a true slow-callback, but not what this test is about).
    result = run(
        "-v", "--pyskill-json=r.json", "--pyskill-slow-callback-ms=5000", "-k", "not test_sync_code"
    )
    result.assert_outcomes(passed=len(_tests_in(result)))
    positives = {
        "test_pos_sync_engine_in_coroutine": ("blocking-call", "count_sync", "db.sqlalchemy"),
        "test_pos_raw_sqlite3_in_coroutine": ("blocking-call", "count_raw", "db.dbapi"),
    }
    found = _check(result, pytester.path / "r.json", positives)
    assert "create_async_engine" in found["test_pos_sync_engine_in_coroutine"][0]["fix"]


DJANGO_VIEWS = """
from django.http import JsonResponse
from shop.models import Item


async def count_unsafe(request):
    return JsonResponse({"n": Item.objects.count()})  # sync ORM on the loop


async def count_async(request):
    return JsonResponse({"n": await Item.objects.acount()})
"""

DJANGO_TESTS = """
import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def test_pos_sync_orm_in_async_view(async_client):
    assert (await async_client.get("/unsafe")).json() == {"n": 0}


async def test_neg_async_orm_in_async_view(async_client):
    assert (await async_client.get("/async")).json() == {"n": 0}
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_django_async_views(
    pytester: pytest.Pytester, run, request, monkeypatch, backend: str
) -> None:
    use_django_backend(request, monkeypatch, backend)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    pytester.makepyfile(
        settings=DJANGO_SETTINGS + 'ROOT_URLCONF = "urls"\n',
        urls="from django.urls import path\nfrom shop import views\nurlpatterns = ["
        "path('unsafe', views.count_unsafe), path('async', views.count_async)]\n",
        test_views=DJANGO_TESTS,
    )
    (pytester.path / "shop").mkdir()
    (pytester.path / "shop" / "__init__.py").write_text("")
    (pytester.path / "shop" / "models.py").write_text(
        "from django.db import models\n\nclass Item(models.Model):\n"
        "    name = models.CharField(max_length=20)\n"
    )
    (pytester.path / "shop" / "views.py").write_text(DJANGO_VIEWS)
    result = run("-v", "--ds=settings", "--pyskill-json=r.json")
    result.assert_outcomes(passed=2)
    found = _report(pytester.path / "r.json")
    assert not found.get("test_neg_async_orm_in_async_view"), found
    (finding,) = found["test_pos_sync_orm_in_async_view"]
    assert finding["rule"] == "blocking-call"
    assert finding["label"] == "db.django"
    assert finding["location"]["path"] == "shop/views.py"
    assert finding["location"]["function"] == "count_unsafe"
    assert "aget, acount" in finding["fix"]


ALLOW_TESTS = """
import pytest
import pytest_pyskill
from loopapp import blocking

pytestmark = pytest.mark.asyncio


async def test_ini_allowance(): await blocking.nap()


@pytest.mark.pyskill_allow("open", reason="reads one small file")
async def test_marker_allowance(data_dir): await blocking.read_config(data_dir / "f")


@pytest.mark.pyskill_allow("open")
async def test_marker_does_not_cover_other_calls(data_dir): await blocking.file_exists(data_dir)


async def test_context_manager(data_dir):
    with pytest_pyskill.allow_blocking("os.*", reason="a one-off listing"):
        await blocking.list_dir(data_dir)
    await blocking.walk_tree(data_dir)  # outside the block: reported


async def test_sleep_in_test_code():
    import time
    time.sleep(0.01)
"""


def test_allowances_marker_and_context_manager(pytester: pytest.Pytester, run) -> None:
    copy_scenario(pytester, SCENARIO, "scenario_asyncio.py")
    (pytester.path / "test_it.py").write_text(textwrap.dedent(ALLOW_TESTS))
    pytester.makeini(
        """
        [pytest]
        pyskill_allow =
            blocking-call | time.sleep | loopapp.blocking | the retry back-off is bounded
            blocking-call | os.stat | loopapp.settings | nothing uses this any more
        """
    )
    result = run("-v", "--pyskill-json=r.json", "-k", "not test_sync_code")
    result.assert_outcomes(passed=5)
    found = _report(pytester.path / "r.json")
    assert not found.get("test_ini_allowance"), found
    assert not found.get("test_marker_allowance"), found
    assert [f["label"] for f in found["test_marker_does_not_cover_other_calls"]] == ["os.stat"]
    assert [f["location"]["function"] for f in found["test_context_manager"]] == ["walk_tree"]
    assert not found.get("test_sleep_in_test_code"), found  # test code: not by default
    out = result.stdout.str()
    assert re.search(r"allowances: \d+ used, 1 unused", out), out
    assert (
        "used 1x: blocking-call | time.sleep | loopapp.blocking | the retry back-off is bounded"
        in out
    )
    assert "used 1x: * | open | * | reads one small file" in out
    assert "used 2x: * | os.* | * | a one-off listing" in out
    assert (
        "unused (remove it?): blocking-call | os.stat | loopapp.settings | nothing uses this" in out
    )
    # Test code is checked on request.
    result = run("-v", "--pyskill-json=r.json", "--pyskill-check-test-code", "-k", "test_sleep")
    found = _report(pytester.path / "r.json")
    assert [f["location"]["function"] for f in found["test_sleep_in_test_code"]] == [
        "test_sleep_in_test_code"
    ]


THRESHOLD_TESTS = """
import pytest
from loopapp import blocking

pytestmark = pytest.mark.asyncio


@pytest.mark.pyskill_threshold(slow_callback_ms=1000)
async def test_higher_threshold(): await blocking.crunch()


async def test_default_threshold(): await blocking.crunch()


@pytest.mark.max_loop_block(150)
async def test_many_small_stalls_over_budget(): await blocking.many_small_stalls()


@pytest.mark.max_loop_block(5000)
async def test_many_small_stalls_within_budget(): await blocking.many_small_stalls()


# Work offloaded to threads starves the loop of the GIL now and then; that is not blocking
# (10 x 40 ms of CPU in threads: counted as loop block, it would be far over the budget).
@pytest.mark.max_loop_block(80)
async def test_offloaded_cpu_is_not_loop_block(): await blocking.offloaded_chunks()


# 10 x 25 ms: each stall also keeps the watchdog from the GIL; counted from when the ping was
# due, most of the 250 ms is measured (the budget leaves room for a loaded CI machine, where
# the watchdog thread itself may wait for a core).
@pytest.mark.max_loop_block(60)
async def test_short_stalls_add_up(): await blocking.short_stalls()
"""


def test_thresholds_and_loop_budget(pytester: pytest.Pytester, run) -> None:
    copy_scenario(pytester, SCENARIO, "scenario_asyncio.py")
    (pytester.path / "test_it.py").write_text(textwrap.dedent(THRESHOLD_TESTS))
    result = run("-v", "--pyskill-json=r.json", "-k", "not test_sync_code")
    # The budget is an explicit assertion: it fails the test in warn mode too.
    result.assert_outcomes(passed=4, failed=2)
    assert "FAILED test_it.py::test_short_stalls_add_up - max-loop-block" in result.stdout.str()
    out = result.stdout.str()
    assert re.search(
        r"FAILED test_it.py::test_many_small_stalls_over_budget - max-loop-block: the event loop "
        r"was blocked for \d+ ms in all over \d+ stalls, budget is 150 ms \(max_loop_block marker\)",
        out,
    ), out
    found = _report(pytester.path / "r.json")
    assert not found.get("test_higher_threshold"), found
    assert [f["rule"] for f in found["test_default_threshold"]] == ["slow-callback"]
    assert not found.get("test_many_small_stalls_within_budget"), found
    # The ini threshold: 40 ms stalls are slow callbacks at 30 ms.
    result = run("-v", "--pyskill-json=r.json", "--pyskill-slow-callback-ms=30", "-k", "within")
    found = _report(pytester.path / "r.json")
    assert [f["rule"] for f in found["test_many_small_stalls_within_budget"]] == ["slow-callback"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["-o", "pyskill_allow=blocking-call | time.sleep"],
            "pyskill: pyskill_allow: 'blocking-call | time.sleep' is not "
            "'RULE | CALL | WHERE | REASON'",
        ),
        (
            ["--pyskill-allow", "n-plus-one | * | * | why"],
            "pyskill: --pyskill-allow: 'n-plus-one | * | * | why': rule must be one of "
            "blocking-call, slow-callback or *, got 'n-plus-one'",
        ),
        (
            ["--pyskill-allow", "blocking-call | * | myapp |"],
            "give a reason after the last '|'",
        ),
        (["--pyskill-slow-callback-ms=0"], "pyskill: --pyskill-slow-callback-ms = 0 must be >= 1"),
    ],
)
def test_bad_configuration_is_one_line(
    pytester: pytest.Pytester, run, args: list[str], error: str
) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize(
    ("mark", "error"),
    [
        ("max_loop_block('fast')", "@pytest.mark.max_loop_block: ms must be a whole number"),
        ("pyskill_allow(3)", "@pytest.mark.pyskill_allow: calls must be names such as"),
        ("pyskill_threshold(slow_callback_ms=0)", "slow_callback_ms must be a whole number >= 1"),
    ],
)
def test_bad_markers_fail_the_test_in_one_line(
    pytester: pytest.Pytester, run, mark: str, error: str
) -> None:
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.{mark}\ndef test_x(): pass\n")
    result = run()
    result.assert_outcomes(errors=1)
    assert error in result.stdout.str()


RESTORE_SCRIPT = """
import asyncio, builtins, io, os, socket, sys, threading, time
import loopapp.early
originals = {
    "time.sleep": time.sleep, "open": builtins.open, "io.open": io.open, "os.stat": os.stat,
    "Event.wait": threading.Event.wait, "set_running_loop": asyncio.events._set_running_loop,
    "asyncio._set_running_loop": asyncio._set_running_loop, "early": loopapp.early.sleep,
}
supports = {name: set(getattr(os, name)) for name in ("supports_dir_fd", "supports_fd",
            "supports_follow_symlinks")}
import pytest
assert pytest.main(["-q", "-p", "no:cacheprovider", "test_it.py"]) == 0
now = {
    "time.sleep": time.sleep, "open": builtins.open, "io.open": io.open, "os.stat": os.stat,
    "Event.wait": threading.Event.wait, "set_running_loop": asyncio.events._set_running_loop,
    "asyncio._set_running_loop": asyncio._set_running_loop, "early": loopapp.early.sleep,
}
changed = [k for k in originals if originals[k] is not now[k]]
assert not changed, changed
assert "connect" not in socket.socket.__dict__ and "recv" not in socket.socket.__dict__
for name, members in supports.items():
    assert set(getattr(os, name)) == members, name
print("RESTORED")
"""


def test_every_patch_is_undone_after_the_run(pytester: pytest.Pytester) -> None:
    copy_scenario(pytester, SCENARIO, "scenario_anyio.py")
    script = pytester.path / "check_restore.py"
    script.write_text(RESTORE_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=pytester.path, capture_output=True, text=True
    )
    assert "RESTORED" in proc.stdout, proc.stdout + proc.stderr


def test_rules_switched_off_install_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
        import asyncio, time

        def test_original_functions():
            assert not hasattr(time.sleep, "__wrapped__")
            assert not hasattr(asyncio.events._set_running_loop, "__wrapped__")
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--pyskill-ignore=blocking-call,slow-callback,max-loop-block"
    )
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)  # the same checks see the wrappers when the rules are on
