"""Never harmful, the baseline and report files: a partial run never loses accepted entries, bad
input is one line, report paths are checked before the run, the umask is left alone."""

from __future__ import annotations

import json
import os
import threading

import pytest

from test_harmless_session import RULE

APP = """
import sqlite3

def _twice():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a int)")
    return conn

def first():
    conn = _twice()
    for i in range(2):
        conn.execute("SELECT a FROM t WHERE a = ?", (i,))

def second():
    conn = _twice()
    for i in range(2):
        conn.execute("SELECT a FROM t WHERE a = ?", (i,))
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(
        RULE + "\ndef pytest_pyskill_rules(config):\n    return [RepeatedSelect()]\n"
    )
    pytester.makepyfile(
        app=APP,
        test_one="import app\n\ndef test_first():\n    app.first()\n",
        test_two="import app\n\ndef test_second():\n    app.second()\n",
    )
    return pytester


UPDATE = ("--pyskill-baseline=b.json", "--pyskill-update-baseline")


def _entries(project: pytest.Pytester) -> list[tuple[str, list[str]]]:
    doc = json.loads((project.path / "b.json").read_text())
    assert doc["schema"] == 2
    return [(e["function"], e["tests"]) for e in doc["findings"]]


FULL = [("first", ["test_one.py::test_first"]), ("second", ["test_two.py::test_second"])]


def _record(project: pytest.Pytester, run) -> bytes:
    run(*UPDATE).assert_outcomes(passed=2)
    assert _entries(project) == FULL
    return (project.path / "b.json").read_bytes()


def test_deselecting_everything_keeps_every_entry(project: pytest.Pytester, run) -> None:
    recorded = _record(project, run)
    run(*UPDATE, "-k", "nothing")
    assert (project.path / "b.json").read_bytes() == recorded


def test_a_run_of_one_file_keeps_the_other_files_entries(project: pytest.Pytester, run) -> None:
    recorded = _record(project, run)
    run(*UPDATE, "test_one.py").assert_outcomes(passed=1)
    assert (project.path / "b.json").read_bytes() == recorded
    # Fixed in the file that ran: only that entry goes.
    (project.path / "test_one.py").write_text("def test_first():\n    pass\n")
    run(*UPDATE, "test_one.py").assert_outcomes(passed=1)
    assert _entries(project) == FULL[1:]


def test_last_failed_keeps_entries_of_tests_that_did_not_run(project: pytest.Pytester, run) -> None:
    recorded = _record(project, run)
    project.makepyfile(test_three="def test_fails():\n    assert False\n")
    args = ("-p", "cacheprovider")  # the run fixture turns the cache off
    run(*args).assert_outcomes(passed=2, failed=1)
    run(*args, *UPDATE, "--lf").assert_outcomes(failed=1)
    assert (project.path / "b.json").read_bytes() == recorded


def test_a_failing_test_keeps_its_entries(project: pytest.Pytester, run) -> None:
    recorded = _record(project, run)
    (project.path / "test_one.py").write_text("def test_first():\n    assert False\n")
    run(*UPDATE).assert_outcomes(passed=1, failed=1)
    assert (project.path / "b.json").read_bytes() == recorded


@pytest.mark.parametrize(
    ("extra", "args", "reason"),
    [
        ({"test_a0.py": "def test_fails():\n    assert False\n"}, ("-x",), "*stopped early*"),
        ({"test_a0.py": "import nothing_by_this_name\n"}, (), "*error(s) during collection*"),
        (
            {"test_a0.py": "def test_interrupt():\n    raise KeyboardInterrupt\n"},
            (),
            "the run was interrupted",
        ),
        (
            {"test_a0.py": "import os\n\ndef test_crash():\n    os._exit(3)\n"},
            ("-n", "2"),
            "*xdist worker(s) crashed",
        ),
    ],
    ids=["exitfirst", "collection-error", "ctrl-c", "crashed-worker"],
)
def test_an_incomplete_run_does_not_update(
    project: pytest.Pytester, run, extra: dict[str, str], args: tuple[str, ...], reason: str
) -> None:
    _record(project, run)
    (project.path / "test_one.py").write_text("def test_first():\n    pass\n")  # fixed
    before = (project.path / "b.json").read_bytes()
    for name, text in extra.items():
        (project.path / name).write_text(text)
    result = run(*UPDATE, *args)
    result.stdout.fnmatch_lines([f"baseline: not updated ({reason}); b.json is unchanged"])
    assert (project.path / "b.json").read_bytes() == before


def test_stale_only_when_its_tests_passed_without_it(project: pytest.Pytester, run) -> None:
    _record(project, run)
    (project.path / "test_one.py").write_text("def test_first():\n    pass\n")  # fixed
    result = run("--pyskill-baseline=b.json", "test_two.py")
    result.stdout.fnmatch_lines(
        ["baseline b.json: 0 new, 1 known (reported, not failing), 0 stale"]
    )
    result = run("--pyskill-baseline=b.json")
    result.stdout.fnmatch_lines(
        [
            "baseline b.json: 0 new, 1 known (reported, not failing), 1 stale",
            "  stale (its tests passed without it): repeated-select t at app.py in first",
        ]
    )


def test_a_schema_1_baseline_is_read_and_its_entries_kept(project: pytest.Pytester, run) -> None:
    (project.path / "b.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "findings": [
                    {"rule": "repeated-select", "label": "t", "path": "app.py", "function": f}
                    for f in ("first", "gone")
                ],
            }
        )
    )
    result = run("--pyskill-baseline=b.json", "--pyskill-strict")
    result.assert_outcomes(passed=1, failed=1)  # second is new
    result.stdout.fnmatch_lines(["*1 new, 1 known*, 0 stale", "*2 entries from a schema-1*"])
    run(*UPDATE).assert_outcomes(passed=2)
    assert _entries(project) == [FULL[0], ("gone", []), FULL[1]]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ('{"schema": 1, "findings": null}', "'findings' is not a list"),
        ('{"schema": 1, "findings": 5}', "'findings' is not a list"),
        ('{"schema": 1}', "'findings' is not a list"),
        ('{"schema": 1, "findings": [{"rule": null}]}', "entry 0 has no rule"),
        ('{"schema": 1, "findings": [5]}', "entry 0 is not an object"),
        (
            '{"schema": 1, "findings": [{"rule": "x", "path": 3}]}',
            "entry 0 has a path that is not a string",
        ),
        (
            '{"schema": 2, "findings": [{"rule": "x", "tests": "t"}]}',
            "entry 0 has tests that are not a list",
        ),
        ('{"schema": true, "findings": []}', "is not a pytest-pyskill baseline (no schema number)"),
        ('{"schema": 0, "findings": []}', "is not a pytest-pyskill baseline (no schema number)"),
    ],
)
@pytest.mark.parametrize("update", [False, True], ids=["check", "update"])
def test_bad_baseline_shapes_are_one_line_errors(
    project: pytest.Pytester, run, content: str, error: str, update: bool
) -> None:
    (project.path / "b.json").write_text(content)
    result = run("--pyskill-baseline=b.json", *(("--pyskill-update-baseline",) if update else ()))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert error in result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stderr.str()
    assert (project.path / "b.json").read_text() == content


# -- report paths -----------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--pyskill-json", "--pyskill-sarif"])
@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("outdir", "is a directory; give a file path"),
        ("afile/report", "cannot create directory*afile*is not a directory"),
    ],
    ids=["directory", "parent-is-a-file"],
)
def test_unwritable_report_paths_are_usage_errors(
    project: pytest.Pytester, run, flag: str, target: str, problem: str
) -> None:
    (project.path / "outdir").mkdir()
    (project.path / "afile").write_text("")
    result = run(f"{flag}={target}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pyskill: {flag}={target} {problem}"])
    assert "internal error" not in result.stdout.str() + result.stderr.str()
    # Nothing written next to the directory.
    assert sorted(p.name for p in project.path.iterdir() if p.name.startswith(".pyskill")) == []
    assert list((project.path / "outdir").iterdir()) == []


def test_the_previous_report_never_survives(project: pytest.Pytester, run) -> None:
    run("--pyskill-json=r.json").assert_outcomes(passed=2, warnings=2)
    report = project.path / "r.json"
    assert report.exists()
    # A report that cannot be written at the end: no stale one is left for CI to upload.
    project.makeconftest(
        RULE
        + """
def pytest_pyskill_rules(config):
    return [RepeatedSelect()]

import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    import os
    os.makedirs("r.json")
"""
    )
    result = run("--pyskill-json=r.json")
    assert report.is_dir()
    result.stdout.fnmatch_lines(["pyskill: could not write the JSON report to *r.json: *"])
    assert "internal error" not in result.stdout.str()


def test_report_writer_does_not_change_the_umask(tmp_path) -> None:
    """A thread that creates files while a report is written must never see umask 0."""
    from pytest_pyskill.reporters import files

    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            mask = os.umask(0o022)
            os.umask(mask)
            seen.add(mask)

    before = os.umask(0o022)
    os.umask(before)
    original = os.umask
    calls: list[int] = []

    def spy(mask: int) -> int:
        calls.append(mask)
        return original(mask)

    os.umask = spy  # type: ignore[assignment]
    try:
        mode = files.file_mode(files.current_umask())
        for i in range(20):
            files.atomic_write(str(tmp_path / f"r{i}.json"), "{}", mode)
    finally:
        os.umask = original
    stop.set()
    assert calls == []
    assert (tmp_path / "r0.json").stat().st_mode & 0o777 == 0o666 & ~before


def test_safe_repr_cuts_before_formatting() -> None:
    from pytest_pyskill.recorder import _safe_repr

    calls = []

    class Counted:
        def __repr__(self) -> str:
            calls.append(1)
            return "C"

    text = _safe_repr([Counted() for _ in range(10_000)])
    assert len(calls) < 100
    assert len(text) <= 500
    assert len(_safe_repr("x" * 10_000_000)) <= 500
    assert len(_safe_repr(b"x" * 10_000_000)) <= 500


def test_internal_errors_past_the_cap_are_counted() -> None:
    from pytest_pyskill.callsite import Classifier
    from pytest_pyskill.recorder import MAX_ERRORS, Recorder

    recorder = Recorder(Classifier("/", ["test_*.py"]), 10, False)
    for i in range(MAX_ERRORS + 7):
        recorder.internal_error(f"place {i}", ValueError("x"))
    recorder.internal_error("place 0", ValueError("x"))  # the same one again: once
    assert len(recorder.errors) == MAX_ERRORS
    assert recorder.errors_dropped == 7
