"""The session's state and the steps between pytest's hooks and the pytest-free core:
start the session, open windows, evaluate rules, deliver findings to reports."""

from __future__ import annotations

import linecache
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from . import PyskillWarning, markers, options
from .baseline import Baseline, BaselineError
from .callsite import Classifier
from .capture import Captures
from .loop import Allowances, LoopWatch
from .loop import install as install_loop_watch
from .loop.allow import Allowance
from .model import Finding, Location, LoopEvent
from .recorder import Recorder, Window
from .reporters import terminal
from .reporters.session import SessionFindings
from .rules.base import Budget, Rule, TestRun

FINDINGS = pytest.StashKey[list[Finding]]()
STATEMENTS = pytest.StashKey[int]()
MARKS = pytest.StashKey[markers.TestMarks]()
ALLOWED = pytest.StashKey[Counter[str]]()

_LINE_IGNORE = re.compile(r"#\s*pyskill:\s*ignore(?:\[([^\]]*)\])?")
_OUR_MARKERS = tuple(line.split("(")[0] for line in markers.MARKERS)


@dataclass
class PyskillSession:
    config: pytest.Config
    settings: options.Settings
    recorder: Recorder
    captures: Captures
    rules: dict[str, Rule]
    warn_as_error: bool
    data: SessionFindings = field(default_factory=SessionFindings)
    reported_errors: int = 0
    loop: LoopWatch | None = None
    uninstall_loop: Callable[[], None] | None = None
    baseline: Baseline | None = None

    @property
    def github(self) -> bool:
        if self.settings.github is not None:
            return self.settings.github
        return os.environ.get("GITHUB_ACTIONS") == "true"

    def failing_rules(self) -> set[str]:
        """Rules whose findings fail tests in this run (besides budgets)."""
        if not (self.settings.strict or self.warn_as_error):
            return set()
        return {f.rule for f in self.data.findings if f.severity != "info"}

    def close(self) -> None:
        undo = self.uninstall_loop
        if undo is not None:
            self.uninstall_loop = None
            with self.recorder.guard("removing the event-loop patches"):
                undo()
        self.captures.close()

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    @property
    def mode(self) -> str:
        return "strict" if self.settings.strict else "warn"

    def header_lines(self) -> list[str]:
        lines = [terminal.header(self.mode, self.recorder.sources)]
        lines.extend(self.captures.notes)
        others = [
            line
            for line in self.config.getini("markers")
            if line.split("(")[0].split(":")[0].strip() == "max_queries"
            and "pytest-pyskill" not in line
        ]
        if others:
            lines.append(
                "pyskill: another plugin also defines the max_queries marker "
                f"({others[0].split(':')[0]}); both will enforce it"
            )
        return lines

    def read_marks(self, item: pytest.Item) -> markers.TestMarks:
        marks = markers.read(item, self.rules)
        item.stash[MARKS] = marks
        return marks

    def watch_loop(self, item: pytest.Item, marks: markers.TestMarks) -> None:
        """Start watching event loops for this test (from its set-up on: async fixtures)."""
        if self.loop is None:
            return
        ignored = self.settings.ignore | marks.ignore
        if marks.ignore_all or {"blocking-call", "slow-callback", "max-loop-block"} <= ignored:
            return
        allow = tuple(Allowance("*", call, "*", reason, "marker") for call, reason in marks.allow)
        self.loop.open(allow)

    def stop_watching(self) -> tuple[list[LoopEvent], Counter[str]]:
        if self.loop is None or not self.loop.watching:
            return [], Counter()
        return self.loop.close()

    def open(self, item: pytest.Item) -> None:
        with self.recorder.guard("installing capture"):
            self.captures.install_available()
        window = self.recorder.window
        if window is None or window.nodeid != item.nodeid:
            self.recorder.open(item.nodeid)

    def collect(self, report: pytest.TestReport) -> None:
        """Gather one test's results from its call report (the same path serial and xdist)."""
        if report.when != "call":
            return
        data = self.data
        data.tests += 1
        data.statements += int(getattr(report, "pyskill_statements", 0) or 0)
        for raw in getattr(report, "pyskill_findings", None) or ():
            data.findings.append(Finding.from_dict(raw))
        for key, n in (getattr(report, "pyskill_allowed", None) or {}).items():
            data.allowed[key] += int(n)
        for error in getattr(report, "pyskill_errors", None) or ():
            if error not in data.errors:
                data.errors.append(error)

    def resolve_path(self, path: str) -> str:
        p = Path(path)
        return str(p if p.is_absolute() else self.config.rootpath / p)


def _warnings_are_errors(config: pytest.Config) -> bool:
    """True when the user asked for PyskillWarning as an error *by name* (a blanket ``error``
    filter does not count: it would let warn mode change test outcomes)."""
    filters = list(config.getini("filterwarnings"))
    filters += list(getattr(config.known_args_namespace, "pythonwarnings", None) or [])
    return any(_names_pyskill_error(f) for f in filters)


def _names_pyskill_error(spec: str) -> bool:
    parts = [p.strip() for p in spec.split(":")]
    return parts[0] == "error" and len(parts) > 2 and parts[2].endswith("PyskillWarning")


def start(config: pytest.Config) -> PyskillSession:
    settings = options.resolve(config.getoption, config.getini)
    rules: dict[str, Rule] = {}
    for batch in config.hook.pytest_pyskill_rules(config=config):
        for rule in batch or ():
            if not isinstance(rule, Rule):
                raise pytest.UsageError(
                    f"pyskill: {rule!r} from pytest_pyskill_rules is not a rule "
                    "(needs id, summary, severity and check(run))"
                )
            rules.setdefault(rule.id, rule)
    options.check_rule_names(settings.ignore, rules, "--pyskill-ignore / pyskill_ignore")
    options.check_rule_names(
        {rule for rule, _ in settings.severity}, rules, "--pyskill-severity / pyskill_severity"
    )
    classifier = Classifier(str(config.rootpath), config.getini("python_files"))
    recorder = Recorder(classifier, settings.max_events, settings.show_params)
    captures = Captures(recorder)
    with recorder.guard("installing capture"):
        captures.install_available()
    session = PyskillSession(
        config, settings, recorder, captures, rules, _warnings_are_errors(config)
    )
    session.data.configured_allowances = [a.key for a in settings.allow]
    if settings.update_baseline and not settings.baseline_path:
        raise pytest.UsageError(
            "pyskill: --pyskill-update-baseline needs --pyskill-baseline=PATH (or pyskill_baseline)"
        )
    if settings.baseline_path:
        path = session.resolve_path(settings.baseline_path)
        try:
            session.baseline = Baseline.load(path, settings.update_baseline)
        except BaselineError as exc:
            raise pytest.UsageError(f"pyskill: {exc}") from None
        session.data.baseline_path = settings.baseline_path
    off = settings.ignore
    blocking = "blocking-call" not in off or "slow-callback" not in off
    stalls = "slow-callback" not in off or "max-loop-block" not in off
    if blocking or stalls:
        with recorder.guard("installing the event-loop watch"):
            watch, undo = install_loop_watch(
                classifier, Allowances(settings.allow), settings.show_params, blocking, stalls
            )
            session.loop, session.uninstall_loop = watch, undo
            watch.on_error = recorder.internal_error
            recorder.loop = watch
    return session


def _budget(session: PyskillSession, marks: markers.TestMarks) -> Budget | None:
    if marks.max_queries is not None:
        limit, using = marks.max_queries
        return Budget(limit, using, "marker")
    if session.settings.max_queries is not None:
        return Budget(session.settings.max_queries, None, "ini")
    return None


def _line_ignores(finding: Finding, rootpath: Path) -> bool:
    loc = finding.location
    if loc is None:
        return False
    line = linecache.getline(str(rootpath / loc.path), loc.line)
    match = _LINE_IGNORE.search(line)
    if not match:
        return False
    named = match.group(1)
    return named is None or finding.rule in {r.strip() for r in named.split(",")}


def evaluate(
    session: PyskillSession,
    item: pytest.Item,
    window: Window,
    loop_events: list[LoopEvent] | None = None,
) -> list[Finding]:
    """Run every active rule over the window; filter by ignores and the finding hook."""
    marks = item.stash.get(MARKS, None) or markers.TestMarks()
    path, lineno, _domain = item.location
    data_count: dict[str | None, int] = {None: window.data_total}
    data_count.update(window.data_by_target)
    run = TestRun(
        nodeid=item.nodeid,
        events=tuple(window.events),
        groups=tuple(window.groups.values()),
        total=window.total,
        data_count=data_count,
        dropped=window.dropped,
        budget=_budget(session, marks),
        test_location=Location(path, (lineno or 0) + 1, item.name),
        options={
            "n_plus_one_threshold": session.settings.n_plus_one_threshold,
            "unbatched_threshold": session.settings.unbatched_threshold,
            "check_test_code": session.settings.check_test_code,
            "slow_callback_ms": session.settings.slow_callback_ms,
            "loop_tick": session.loop.tick if session.loop is not None else 0.01,
            "max_loop_block_ms": marks.max_loop_block
            if marks.max_loop_block is not None
            else session.settings.max_loop_block_ms,
            "max_loop_block_origin": "max_loop_block marker"
            if marks.max_loop_block is not None
            else "pyskill_max_loop_block_ms",
            **{f"{name}_threshold": value for name, value in marks.thresholds},
        },
        loop_events=tuple(loop_events or ()),
    )
    ignored = session.settings.ignore | marks.ignore
    severities: dict[str, Any] = dict(session.settings.severity)
    found: list[Finding] = []
    for rule in session.rules.values():
        if marks.ignore_all or rule.id in ignored:
            continue
        try:
            results = list(rule.check(run))
        except Exception as exc:
            session.recorder.internal_error(f"rule {rule.id} on {item.nodeid}", exc)
            continue
        severity = severities.get(rule.id)
        for finding in results:
            finding = replace(finding, test=item.nodeid)
            if severity is not None:
                finding = replace(finding, severity=severity)
            if _line_ignores(finding, session.config.rootpath):
                continue
            try:
                changed = item.config.hook.pytest_pyskill_finding(finding=finding, item=item)
            except Exception as exc:
                session.recorder.internal_error("pytest_pyskill_finding hook", exc)
                changed = None
            if changed is False:
                continue
            found.append(changed if isinstance(changed, Finding) else finding)
    return found


def _item_wants_errors(item: pytest.Item) -> bool:
    return any(
        _names_pyskill_error(str(arg))
        for mark in item.iter_markers("filterwarnings")
        for arg in mark.args
    )


def deliver(session: PyskillSession, item: pytest.Item, report: pytest.TestReport) -> None:
    """Attach the test's findings to its call report; fail it where a finding must fail it;
    deliver the rest as ``PyskillWarning``s after the phase (never raised in user code)."""
    findings = item.stash.get(FINDINGS, [])
    if session.baseline is not None:
        findings = [replace(f, baseline=session.baseline.status(f)) for f in findings]
    _junit_properties(item, findings)
    report.pyskill_statements = item.stash.get(STATEMENTS, 0)  # type: ignore[attr-defined]
    report.pyskill_findings = [f.to_dict() for f in findings]  # type: ignore[attr-defined]
    report.pyskill_allowed = dict(item.stash.get(ALLOWED, {}))  # type: ignore[attr-defined]
    errors = session.recorder.errors
    report.pyskill_errors = errors[session.reported_errors :]  # type: ignore[attr-defined]
    session.reported_errors = len(errors)
    if not findings:
        return
    strict = session.settings.strict or session.warn_as_error or _item_wants_errors(item)
    failing = [
        f
        for f in findings
        if f.always_fails or (strict and f.severity != "info" and f.baseline != "known")
    ]
    warn = [f for f in findings if f not in failing and f.baseline != "known"]
    if failing:
        verbose = item.config.get_verbosity() > 0
        text = "\n\n".join(f.render(verbose=verbose) for f in failing)
        if report.passed and not hasattr(report, "wasxfail"):
            report.outcome = "failed"
            report.longrepr = _longrepr(session, item, failing[0], text)
        else:
            report.sections.append(("pyskill findings", text))
    for finding in warn:
        _warn(session, item, finding)


def _longrepr(session: PyskillSession, item: pytest.Item, first: Finding, text: str) -> Any:
    """The failure as pytest's own failure objects: the short summary shows its first line on
    pytest 8 and 9 alike, and xdist carries it to the controller intact."""
    try:
        from _pytest._code.code import (
            ReprEntryNative,
            ReprExceptionInfo,
            ReprFileLocation,
            ReprTraceback,
        )

        loc = first.location
        path = str(session.config.rootpath / loc.path) if loc else str(item.path)
        lines = [line + "\n" for line in text.splitlines()]
        return ReprExceptionInfo(
            reprtraceback=ReprTraceback([ReprEntryNative(lines)], None, "native"),
            reprcrash=ReprFileLocation(path, loc.line if loc else 0, text.splitlines()[0]),
        )
    except Exception:  # a pytest without these classes: plain text still fails the test
        return text


def _junit_properties(item: pytest.Item, findings: list[Finding]) -> None:
    """Short ``<property>`` values for JUnit XML (appended before teardown: pytest writes the
    teardown report's ``user_properties``); the details stay in the JSON report."""
    if not getattr(item.config.option, "xmlpath", None):
        return
    props = item.user_properties
    props.append(("pyskill_statements", str(item.stash.get(STATEMENTS, 0))))
    props.append(("pyskill_findings", str(len(findings))))
    for finding in findings:
        loc = finding.location
        where = f"{loc.path}:{loc.line}" if loc else finding.test
        known = " (baseline)" if finding.baseline == "known" else ""
        props.append((f"pyskill:{finding.rule}", f"{where} {finding.label or ''}{known}".strip()))


def _warn(session: PyskillSession, item: pytest.Item, finding: Finding) -> None:
    loc = finding.location
    filename = str(session.config.rootpath / loc.path) if loc else str(item.path)
    lineno = loc.line if loc else 0
    text = finding.render(details=False).replace("\n", "\n  ")
    message: Any = warnings.WarningMessage(PyskillWarning(text), PyskillWarning, filename, lineno)
    item.ihook.pytest_warning_recorded.call_historic(
        kwargs={
            "warning_message": message,
            "when": "runtest",
            "nodeid": item.nodeid,
            "location": None,
        }
    )
