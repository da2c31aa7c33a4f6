"""Start-up: resolve the settings, gather and check the rules, load the baseline, install
capture and the event-loop watch. Bad input ends here as one ``pytest.UsageError`` line."""

from __future__ import annotations

import os

import pytest

from . import options
from .baseline import Baseline, BaselineError
from .callsite import Classifier
from .capture import Captures
from .loop import Allowances
from .loop import install as install_loop_watch
from .recorder import Recorder
from .reporters import files
from .rules.base import Rule
from .session import PyskillSession


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
    session = PyskillSession(config, settings, recorder, captures, rules)
    session.data.configured_allowances = [a.key for a in settings.allow]
    session.file_mode = files.file_mode(files.current_umask())
    _check_outputs(session)
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
    # Bad input is refused above, before anything is installed.
    with recorder.guard("installing capture"):
        captures.install_available()
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


def _check_outputs(session: PyskillSession) -> None:
    """Report paths are checked before any test runs (one usage-error line naming the option),
    and the previous run's report is removed, so a report that cannot be written at the end
    never leaves a stale one for CI to upload."""
    settings = session.settings
    outputs = [
        ("--pyskill-json", settings.json_path),
        ("--pyskill-sarif", settings.sarif_path),
    ]
    if settings.update_baseline:
        outputs.append(("--pyskill-baseline", settings.baseline_path))
    for flag, path in outputs:
        if not path:
            continue
        problem = files.check_target(session.resolve_path(path))
        if problem is not None:
            raise pytest.UsageError(f"pyskill: {flag}={path} {problem}")
    if session.is_worker:
        return
    for _flag, path in outputs[:2]:
        if path:
            try:
                os.unlink(session.resolve_path(path))
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise pytest.UsageError(
                    f"pyskill: cannot remove the previous report {path}: {exc.strerror}"
                ) from None
