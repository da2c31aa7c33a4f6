"""pytest hooks only: open a window per test, close it, hand findings on.

Everything else lives in pytest-free modules (capture, rules, reporters) or small glue modules
(options, markers, engine).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from . import __version__, hookspecs, markers, options
from .api import Pyskill
from .engine import (
    ALLOWED,
    CALLED,
    STATEMENTS,
    PyskillSession,
    deliver,
    evaluate,
    forget_attempt,
    issue,
    start,
)
from .model import Finding
from .reporters import github, json_report, sarif, terminal
from .rules import builtin_rules

SESSION = pytest.StashKey[PyskillSession]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_pyskill_rules(config: pytest.Config) -> list[Any]:
    return list(builtin_rules())


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    for line in markers.MARKERS:
        config.addinivalue_line("markers", line)
    session = start(config)
    config.stash[SESSION] = session
    config.add_cleanup(session.close)
    hooks = SessionHooks(session)
    config.pluginmanager.register(hooks, "pyskill-session")
    config.add_cleanup(lambda: config.pluginmanager.unregister(hooks))


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = config.stash.get(SESSION, None)
    return session.header_lines() if session else []


@pytest.fixture
def pyskill(request: pytest.FixtureRequest) -> Pyskill:
    """The statements this test sent (``pyskill.queries``) and a block budget
    (``with pyskill.max_queries(n): ...``)."""
    return Pyskill(request.config.stash[SESSION].recorder)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    session = item.config.stash[SESSION]
    try:
        marks = session.read_marks(item)
    except markers.MarkerError as exc:
        pytest.fail(f"{item.nodeid}: {exc}", pytrace=False)
    session.watch_loop(item, marks)
    if session.settings.capture_fixtures:
        session.open(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    session = item.config.stash[SESSION]
    forget_attempt(item)  # an earlier attempt's results (reruns)
    session.open(item)
    # issue 11 item 8: threads started from here on are this test's (not later tests')
    session.recorder.call_started()
    try:
        return (yield)
    finally:
        loop_events, allowed = session.stop_watching()
        item.stash[ALLOWED] = allowed
        window = session.recorder.close()
        if window is not None:
            item.stash[STATEMENTS] = window.data_total
            findings = evaluate(session, item, window, loop_events)
            with session.recorder.guard("issuing findings"):
                issue(session, item, findings)
        item.stash[CALLED] = True


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    session = item.config.stash[SESSION]
    session.recorder.close()  # a window left open by a failed setup
    session.stop_watching()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Only the call phase's own report: a subtest's report is made while the test still runs.
    if call.when == "call" and item.stash.get(CALLED, False):
        item.stash[CALLED] = False
        session = item.config.stash[SESSION]
        with session.recorder.guard("reporting findings"):
            deliver(session, item, report)
    return report


class SessionHooks:
    """The hooks that need the session's state; registered as a plugin object at configure."""

    def __init__(self, state: PyskillSession) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.state.collect(report)

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if self.state.is_worker:
            return
        terminalreporter.write_sep("=", "pyskill")
        verbose = config.get_verbosity() > 0
        for line in terminal.summary_lines(self.state.data, verbose=verbose):
            terminalreporter.write_line(line)
        if self.state.github:
            for line in github.workflow_commands(
                self.state.data.findings, self.state.failing_rules()
            ):
                terminalreporter.write_line(line)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.state.collection_errors += 1

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        if state.is_worker:
            return
        findings: list[Finding] = list(state.data.findings)
        with state.recorder.guard("running pytest_pyskill_session_findings"):
            session.config.hook.pytest_pyskill_session_findings(
                findings=findings, config=session.config
            )
        data = state.data
        baseline = state.baseline
        mode = state.file_mode
        if baseline is not None:
            passed = data.passed_tests
            data.baseline_unchecked = baseline.unchecked
            if baseline.updating:
                refused = _incomplete(state, session, exitstatus)
                if refused:
                    data.baseline_refused = refused
                else:
                    try:
                        data.baseline_written = baseline.write(data.findings, passed, mode)
                    except OSError as exc:
                        data.output_errors.append(
                            f"could not write the baseline to {baseline.path}: {exc}"
                        )
            else:
                data.baseline_stale = baseline.stale(data.findings, passed)
        rootdir = str(session.config.rootpath)
        if state.settings.json_path:
            path = state.resolve_path(state.settings.json_path)
            try:
                json_report.write(path, data, __version__, mode)
            except OSError as exc:
                data.output_errors.append(f"could not write the JSON report to {path}: {exc}")
        if state.settings.sarif_path:
            path = state.resolve_path(state.settings.sarif_path)
            try:
                sarif.write(path, data, state.rules, __version__, rootdir, mode)
            except OSError as exc:
                data.output_errors.append(f"could not write the SARIF report to {path}: {exc}")
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if state.github and summary_file:
            try:
                with open(summary_file, "a", encoding="utf-8") as fh:
                    fh.write(github.step_summary(data))
            except OSError as exc:
                data.output_errors.append(
                    f"could not write the GitHub step summary to {summary_file}: {exc}"
                )

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist: a worker that crashed took its current test's findings with it; say so."""
        if error:
            self.state.crashed_workers += 1
            worker = getattr(getattr(node, "gateway", None), "id", "?")
            self.state.data.errors.append(
                f"xdist worker {worker} crashed ({str(error).strip().splitlines()[-1][:200]}); "
                "findings of the test it was running are missing"
            )


def _incomplete(state: PyskillSession, session: pytest.Session, exitstatus: int) -> str | None:
    """Why this run cannot update the baseline (None: it can). An interrupted run did not see
    the findings of the tests it never reached, so it must not judge their entries."""
    if state.collection_errors:
        return f"{state.collection_errors} error(s) during collection"
    if state.crashed_workers:
        return f"{state.crashed_workers} xdist worker(s) crashed"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "the run was interrupted"
    stop = session.shouldfail or session.shouldstop
    if stop:
        return f"the run stopped early: {stop}" if isinstance(stop, str) else "the run stopped"
    return None
