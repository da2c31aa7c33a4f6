"""Run a pytester project with and without pytest-pyskill and compare what pytest decided.

The promise under test: in warn mode, nothing about a user's suite changes except that findings
appear. :func:`compare` runs the same project twice in subprocesses (as a user would), first
with the plugin disabled (``-p no:pyskill``) and then with it, and asserts, per test nodeid and
phase (setup / call / teardown), the same outcomes (reruns included, in order), the same
failure messages, the same collection errors, the same exit status and the same warnings
other than ``PyskillWarning``. It also checks that the plugin was really at work in the second
run (its JSON report counts the statements it saw), so a case cannot pass by capturing nothing.

Outcomes come from a tiny plugin written into the project (``-p harmless_outcomes``): it records
every report by nodeid and phase on the controller (xdist workers' reports arrive there too)
and writes them to a JSON file at the end, so nothing depends on parsing terminal output.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

RECORDER = "harmless_outcomes"
OUTCOMES_FILE = "harmless-outcomes.json"
PYSKILL_JSON = "harmless-pyskill.json"
CACHE_SNAPSHOT = ".harmless-cache-snapshot"
RANDOMLY_SEED = "20240611"

RECORDER_SOURCE = '''
"""Records every test report by nodeid and phase; written by the controller at the end."""
import json
import re

import pytest

_REPORTS = {}
_CRASHES = {}
_WARNINGS = []
_COLLECT_ERRORS = []
# Memory addresses and process ids differ from run to run, not between with and without.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+|(?<=pid=)[0-9]+")


def _outcome(report):
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    return report.outcome


def _crash(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return _ADDRESS.sub("0x?", crash.message)
    if isinstance(report.longrepr, tuple):  # a skip: (path, line, reason)
        return _ADDRESS.sub("0x?", str(report.longrepr[2]))
    return None


def pytest_runtest_logreport(report):
    _REPORTS.setdefault(report.nodeid, {}).setdefault(report.when, []).append(_outcome(report))
    if report.failed or report.skipped:
        _CRASHES.setdefault(report.nodeid, {}).setdefault(report.when, []).append(_crash(report))


def pytest_collectreport(report):
    if report.failed:
        _COLLECT_ERRORS.append(report.nodeid)


def pytest_warning_recorded(warning_message, when, nodeid, location):
    category = warning_message.category
    _WARNINGS.append([
        nodeid,
        when,
        f"{category.__module__}.{category.__qualname__}",
        _ADDRESS.sub("0x?", str(warning_message.message)),
    ])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if hasattr(config, "workerinput"):
        return
    path = config.invocation_params.dir / "harmless-outcomes.json"
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({
            "exitstatus": int(exitstatus),
            "reports": _REPORTS,
            "crashes": _CRASHES,
            "warnings": _WARNINGS,
            "collect_errors": _COLLECT_ERRORS,
        }, fh)
'''


class Harmful(AssertionError):
    """The plugin changed something pytest decided about the user's suite."""


@dataclass
class Run:
    """What pytest decided in one run of the project."""

    label: str
    ret: int
    reports: dict[str, dict[str, list[str]]]
    crashes: dict[str, dict[str, list[str | None]]]
    warnings: list[tuple[str, str, str, str]]
    collect_errors: list[str]
    result: pytest.RunResult
    pyskill: dict[str, Any] | None  # the plugin's JSON report (plugged runs only)

    @property
    def other_warnings(self) -> list[tuple[str, str, str, str]]:
        """Every warning except the plugin's own findings, in a stable order."""
        return sorted(w for w in self.warnings if not w[2].endswith(".PyskillWarning"))

    @property
    def pyskill_warnings(self) -> list[tuple[str, str, str, str]]:
        return [w for w in self.warnings if w[2].endswith(".PyskillWarning")]

    @property
    def statements(self) -> int:
        return int((self.pyskill or {}).get("summary", {}).get("statements", 0))

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list((self.pyskill or {}).get("findings", []))

    def findings_of(self, test: str) -> list[tuple[str, int]]:
        """``(rule, count)`` of one test's findings (nodeid suffix), sorted."""
        return sorted(
            (f["rule"], f.get("count", 1)) for f in self.findings if f["test"].endswith(test)
        )

    def describe(self) -> str:
        lines = [f"--- {self.label}: exit {self.ret}"]
        for nodeid, phases in sorted(self.reports.items()):
            lines.append(f"  {nodeid}: {phases} {self.crashes.get(nodeid, '')}")
        return "\n".join(lines)


def write_recorder(pytester: pytest.Pytester) -> None:
    path = pytester.path / f"{RECORDER}.py"
    if not path.exists():
        path.write_text(RECORDER_SOURCE, encoding="utf-8")


def run(
    pytester: pytest.Pytester,
    *args: str,
    plugin: bool,
    cache: bool = False,
    randomly: bool = False,
) -> Run:
    """One run of the project in a subprocess, with or without the plugin."""
    write_recorder(pytester)
    outcomes = pytester.path / OUTCOMES_FILE
    report = pytester.path / PYSKILL_JSON
    for stale in (outcomes, report):
        stale.unlink(missing_ok=True)
    base = ["-p", RECORDER, "-o", "asyncio_default_fixture_loop_scope=function"]
    if not cache:
        base += ["-p", "no:cacheprovider"]
    base += (
        ["-p", "randomly", f"--randomly-seed={RANDOMLY_SEED}"]
        if randomly
        else [
            "-p",
            "no:randomly",
        ]
    )
    base += [f"--pyskill-json={PYSKILL_JSON}"] if plugin else ["-p", "no:pyskill"]
    result = pytester.runpytest_subprocess(*base, *args)
    label = "with pytest-pyskill" if plugin else "without pytest-pyskill (-p no:pyskill)"
    if not outcomes.exists():
        raise AssertionError(
            f"{label}: pytest ended before the session finished (exit {result.ret})\n"
            + "\n".join(result.outlines[-30:] + result.errlines[-30:])
        )
    data = json.loads(outcomes.read_text(encoding="utf-8"))
    pyskill = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None
    return Run(
        label=label,
        ret=int(result.ret),
        reports=data["reports"],
        crashes=data["crashes"],
        warnings=[tuple(w) for w in data["warnings"]],  # type: ignore[misc]
        collect_errors=data["collect_errors"],
        result=result,
        pyskill=pyskill,
    )


def compare(
    pytester: pytest.Pytester,
    *args: str,
    expect: dict[str, int] | None = None,
    min_statements: int = 1,
    cache: bool = False,
    randomly: bool = False,
) -> Run:
    """Run the project without and then with the plugin; raise :class:`Harmful` on any
    difference in what pytest decided. ``expect`` (counts as in pytest's summary line, only the
    ones given: ``passed``, ``failed``, ``errors``...) pins what the project does without the
    plugin, so a broken project cannot pass as harmless.
    ``min_statements``: the plugin must have seen at least this many statements (its capture
    was really at work next to the neighbour). Returns the plugged run."""
    pytester._monkeypatch.setenv("COLUMNS", "250")
    snapshot = pytester.path / CACHE_SNAPSHOT
    cache_dir = pytester.path / ".pytest_cache"
    if cache:  # both runs start from the same cache (--lf, --sw)
        shutil.rmtree(snapshot, ignore_errors=True)
        if cache_dir.exists():
            shutil.copytree(cache_dir, snapshot)
    bare = run(pytester, *args, plugin=False, cache=cache, randomly=randomly)
    if cache:
        shutil.rmtree(cache_dir, ignore_errors=True)
        if snapshot.exists():
            shutil.copytree(snapshot, cache_dir)
    plugged = run(pytester, *args, plugin=True, cache=cache, randomly=randomly)
    if expect is not None:
        counts = bare.result.parseoutcomes()
        got = {key: counts.get(key, 0) for key in expect}
        assert got == expect, f"the project without the plugin: {counts}\n" + "\n".join(
            bare.result.outlines[-30:]
        )
    assert plugged.pyskill is not None, "the plugin wrote no report: was it loaded?\n" + "\n".join(
        plugged.result.outlines[-30:]
    )
    assert plugged.statements >= min_statements, (
        f"the plugin saw {plugged.statements} statements (expected at least {min_statements}): "
        "its capture was not at work in this project"
    )
    check_same(bare, plugged)
    return plugged


def check_same(bare: Run, plugged: Run) -> None:
    problems = []
    if plugged.reports != bare.reports:
        problems.append("per-test outcomes differ")
    if plugged.crashes != bare.crashes:
        problems.append("failure messages differ")
    if plugged.collect_errors != bare.collect_errors:
        problems.append("collection errors differ")
    if plugged.ret != bare.ret:
        problems.append(f"exit status {plugged.ret} != {bare.ret}")
    if plugged.other_warnings != bare.other_warnings:
        problems.append(
            "warnings other than PyskillWarning differ:\n  with:    "
            + "\n           ".join(map(str, plugged.other_warnings))
            + "\n  without: "
            + "\n           ".join(map(str, bare.other_warnings))
        )
    if problems:
        errors = (plugged.pyskill or {}).get("summary", {}).get("internal_errors")
        raise Harmful(
            "; ".join(problems)
            + "\n"
            + bare.describe()
            + "\n"
            + plugged.describe()
            + (f"\n  pyskill internal errors: {errors}" if errors else "")
            + "\n--- output with the plugin (tail):\n"
            + "\n".join(plugged.result.outlines[-40:])
        )


def prime_cache(pytester: pytest.Pytester, *args: str) -> None:
    """A run without the plugin that leaves ``.pytest_cache`` behind (for ``--lf``/``--sw``)."""
    run(pytester, *args, plugin=False, cache=True)


def add_marker_fallback(pytester: pytest.Pytester, conftest: str = "") -> None:
    """A conftest that registers pyskill's markers when the plugin is disabled, as a user whose
    suite runs both ways would (``--strict-markers`` stays quiet in both runs)."""
    pytester.makeconftest(
        conftest
        + """

def pytest_configure(config):
    if not config.pluginmanager.has_plugin("pyskill"):
        config.addinivalue_line("markers", "max_queries(n): pyskill budget (plugin disabled)")
"""
    )


def files(pytester: pytest.Pytester, **sources: str) -> None:
    """Write project files given as ``dotted_path=source`` (``pkg.mod`` -> ``pkg/mod.py``)."""
    for name, source in sources.items():
        path = pytester.path / Path(*name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source.lstrip("\n"), encoding="utf-8")
