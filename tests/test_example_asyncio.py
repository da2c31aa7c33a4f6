"""The asyncio example (examples/asyncio_service) runs with the plugin and shows its findings.

Each ``*_bad`` test must get exactly its intended event-loop finding, at the application line in
``feeds/``; every ``*_fixed`` twin must be clean (strict mode passes them).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "asyncio_service"

# (rule, test) -> the application function the finding points at (None: at the test).
EXPECTED = {
    ("blocking-call", "tests/test_fetch.py::test_backoff_bad"): "fetch_with_retry_bad",
    ("blocking-call", "tests/test_fetch.py::test_http_bad"): "fetch_url_bad",
    ("blocking-call", "tests/test_fetch.py::test_command_bad"): "fetch_command_bad",
    ("blocking-call", "tests/test_fetch.py::test_legacy_client_bad"): "fetch_legacy_bad",
    ("blocking-call", "tests/test_store.py::test_cache_bad"): None,  # two: save and load
    ("slow-callback", "tests/test_report.py::test_summary_bad"): "top_words",
    ("max-loop-block", "tests/test_report.py::test_digest_bad"): None,  # a budget: at the test
}


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_asyncio_example(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = _pytest(f"--pyskill-json={report}")
    out = proc.stdout
    # Warn mode: only the budget fails a test; filterwarnings = error leaves the warnings alone.
    assert proc.returncode == 1, out + proc.stderr
    assert "1 failed, 16 passed" in out, out
    assert "internal error" not in out, out
    assert re.search(
        r"FAILED tests/test_report\.py::test_digest_bad - max-loop-block: the event loop", out
    ), out
    assert re.search(
        r"feeds/fetch\.py:\d+: PyskillWarning: blocking-call: time\.sleep blocked the event loop",
        out,
    ), out
    # The allowed 5 ms sleep is not reported; the summary says the allowance was used.
    assert "used 1x: * | time.sleep | * | the vendor SDK's 5 ms start-up pause" in out, out

    doc = json.loads(report.read_text())
    findings = doc["findings"]
    assert doc["summary"]["by_rule"] == {
        "blocking-call": 6,
        "max-loop-block": 1,
        "slow-callback": 1,
    }
    assert {(f["rule"], f["test"]) for f in findings} == set(EXPECTED), findings
    for f in findings:
        function = EXPECTED[(f["rule"], f["test"])]
        if f["rule"] == "max-loop-block":
            assert f["location"]["path"] == "tests/test_report.py", f
            continue
        assert f["location"]["path"].startswith("feeds/"), f
        if function is not None:
            assert f["location"]["function"] == function, f
    by_test = {f["test"].split("::")[-1]: f for f in findings}

    backoff = by_test["test_backoff_bad"]
    assert backoff["label"] == "time.sleep"
    assert re.match(
        r"time\.sleep blocked the event loop \(2 calls, \d+ ms in all\)$", backoff["message"]
    )
    assert backoff["fix"] == "await asyncio.sleep(...) instead of time.sleep(...)"
    assert by_test["test_http_bad"]["label"].startswith("socket.getaddrinfo, socket.connect")
    assert by_test["test_command_bad"]["label"] == "subprocess.Popen.communicate"
    legacy = by_test["test_legacy_client_bad"]
    assert legacy["label"] == "concurrent.futures.Future.result"
    assert legacy["fix"] == "await asyncio.wrap_future(future) instead of future.result()"
    cache = [f for f in findings if f["test"].endswith("::test_cache_bad")]
    assert sorted((f["location"]["function"], f["label"]) for f in cache) == [
        ("load_cache_bad", "open"),
        ("save_cache_bad", "open"),
    ]
    slow = by_test["test_summary_bad"]
    assert slow["location"]["path"] == "feeds/report.py"
    assert re.match(
        r"the event loop was blocked for \d+ ms \(threshold 100 ms, 1 time\) with no blocking "
        r"call to explain it",
        slow["message"],
    ), slow
    assert slow["fix"].startswith("move CPU-bound work off the loop (await asyncio.to_thread(")
    budget = by_test["test_digest_bad"]
    assert re.match(
        r"the event loop was blocked for \d+ ms in all over \d+ stalls, budget is 150 ms "
        r"\(max_loop_block marker\)$",
        budget["message"],
    ), budget
    assert budget["always_fails"] is True

    # The fixed twins are clean: strict mode passes them.
    strict = _pytest("--pyskill-strict", "-k", "fixed")
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "8 passed, 9 deselected" in strict.stdout, strict.stdout
    assert "0 statements in 8 tests; 0 findings" in strict.stdout, strict.stdout
