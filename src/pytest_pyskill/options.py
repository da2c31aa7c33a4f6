"""Command-line flags and their ini twins, resolved once into a frozen :class:`Settings`.

Precedence: command line, then ini, then the default. Every value is parsed here; a bad one
raises ``pytest.UsageError`` with one line naming the option and what it accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from .loop.allow import Allowance, AllowanceError, parse_all

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Settings:
    strict: bool = False
    ignore: frozenset[str] = frozenset()
    json_path: str | None = None
    max_queries: int | None = None
    capture_fixtures: bool = False
    show_params: bool = False
    max_events: int = 10_000
    n_plus_one_threshold: int = 2
    unbatched_threshold: int = 3
    check_test_code: bool = False
    severity: tuple[tuple[str, str], ...] = ()  # rule id -> severity overrides
    slow_callback_ms: int = 100
    max_loop_block_ms: int | None = None
    allow: tuple[Allowance, ...] = ()
    sarif_path: str | None = None
    github: bool | None = None  # None: automatic (GITHUB_ACTIONS=true)
    baseline_path: str | None = None
    update_baseline: bool = False


@dataclass(frozen=True)
class Option:
    name: str  # Settings field
    flag: str
    ini: str
    help: str
    kind: str  # "bool", "int", "list", "path"
    minimum: int = 0
    metavar: str | None = None


OPTIONS: tuple[Option, ...] = (
    Option(
        "strict",
        "--pyskill-strict",
        "pyskill_strict",
        "fail the test that caused a finding (default: findings are warnings)",
        "bool",
    ),
    Option(
        "ignore",
        "--pyskill-ignore",
        "pyskill_ignore",
        "comma-separated rule ids to switch off",
        "list",
        metavar="RULES",
    ),
    Option(
        "json_path",
        "--pyskill-json",
        "pyskill_json",
        "write the session's findings as a JSON report to PATH",
        "path",
        metavar="PATH",
    ),
    Option(
        "sarif_path",
        "--pyskill-sarif",
        "pyskill_sarif",
        "write the findings as SARIF 2.1.0 (GitHub code scanning) to PATH",
        "path",
        metavar="PATH",
    ),
    Option(
        "github",
        "--pyskill-github",
        "pyskill_github",
        "GitHub Actions annotations and step summary (default: on when GITHUB_ACTIONS=true)",
        "bool",
    ),
    Option(
        "baseline_path",
        "--pyskill-baseline",
        "pyskill_baseline",
        "accepted findings: those in this file do not fail --pyskill-strict; new ones do",
        "path",
        metavar="PATH",
    ),
    Option(
        "update_baseline",
        "--pyskill-update-baseline",
        "pyskill_update_baseline",
        "record this run's findings as the baseline (--pyskill-baseline) and fail none of them",
        "bool",
    ),
    Option(
        "max_queries",
        "--pyskill-max-queries",
        "pyskill_max_queries",
        "default query budget for every test without a max_queries marker (default: off)",
        "int",
        metavar="N",
    ),
    Option(
        "capture_fixtures",
        "--pyskill-capture-fixtures",
        "pyskill_capture_fixtures",
        "also count statements sent while the test's fixtures are set up",
        "bool",
    ),
    Option(
        "show_params",
        "--pyskill-show-params",
        "pyskill_show_params",
        "keep statement parameter values in reports (default: SQL shapes only)",
        "bool",
    ),
    Option(
        "max_events",
        "--pyskill-max-events",
        "pyskill_max_events",
        "statements kept per test for listings; counts always cover all (default: 10000)",
        "int",
        minimum=1,
        metavar="N",
    ),
    Option(
        "n_plus_one_threshold",
        "--pyskill-n-plus-one-threshold",
        "pyskill_n_plus_one_threshold",
        "distinct objects lazily loading one relation from one line before n-plus-one reports "
        "it (default: 2; raw SQL repeats need one more)",
        "int",
        minimum=2,
        metavar="N",
    ),
    Option(
        "unbatched_threshold",
        "--pyskill-unbatched-threshold",
        "pyskill_unbatched_threshold",
        "single-row writes of one shape from one line before the unbatched-* rules report them "
        "(default: 3)",
        "int",
        minimum=2,
        metavar="N",
    ),
    Option(
        "severity",
        "--pyskill-severity",
        "pyskill_severity",
        "comma-separated RULE=LEVEL overrides (error, warning, info); info findings are "
        "reported but never fail a test, even in strict mode",
        "severity",
        metavar="RULE=LEVEL,...",
    ),
    Option(
        "check_test_code",
        "--pyskill-check-test-code",
        "pyskill_check_test_code",
        "also report write loops whose call site is test code (default: building test data "
        "in a loop is not reported)",
        "bool",
    ),
    Option(
        "slow_callback_ms",
        "--pyskill-slow-callback-ms",
        "pyskill_slow_callback_ms",
        "milliseconds an event loop may go without getting control back before slow-callback "
        "reports it (default: 100)",
        "int",
        minimum=1,
        metavar="MS",
    ),
    Option(
        "max_loop_block_ms",
        "--pyskill-max-loop-block-ms",
        "pyskill_max_loop_block_ms",
        "default budget of total event-loop blocked time per test, in milliseconds, for tests "
        "without a max_loop_block marker (default: off)",
        "int",
        metavar="MS",
    ),
    Option(
        "allow",
        "--pyskill-allow",
        "pyskill_allow",
        "an allowance 'RULE | CALL | WHERE | REASON' for blocking-call / slow-callback "
        "(repeatable; the ini option takes one per line)",
        "allow",
        metavar="SPEC",
    ),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("pyskill", "pytest-pyskill: runtime backend best-practice checks")
    for opt in OPTIONS:
        if opt.kind == "bool":
            group.addoption(
                opt.flag, action="store_true", default=None, dest=opt.ini, help=opt.help
            )
        elif opt.kind == "allow":
            group.addoption(
                opt.flag, action="append", default=None, dest=opt.ini, metavar=opt.metavar,
                help=opt.help,
            )  # fmt: skip
            parser.addini(opt.ini, f"{opt.help} (twin of {opt.flag})", type="linelist")
            continue
        else:
            group.addoption(
                opt.flag,
                action="store",
                default=None,
                dest=opt.ini,
                metavar=opt.metavar,
                help=opt.help,
            )
        parser.addini(opt.ini, f"{opt.help} (twin of {opt.flag})", type="string", default="")


def _parse(opt: Option, raw: Any, where: str) -> Any:
    text = raw if isinstance(raw, str) else str(raw)
    if opt.kind == "bool":
        if isinstance(raw, bool):
            return raw
        low = text.strip().lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise pytest.UsageError(f"pyskill: {where} = {text!r} is not a boolean; use true or false")
    if opt.kind == "int":
        try:
            value = int(text.strip())
        except ValueError:
            raise pytest.UsageError(
                f"pyskill: {where} = {text!r} is not a whole number (>= {opt.minimum})"
            ) from None
        if value < opt.minimum:
            raise pytest.UsageError(f"pyskill: {where} = {value} must be >= {opt.minimum}")
        return value
    if opt.kind == "severity":
        pairs = []
        for part in text.replace("\n", ",").split(","):
            if not part.strip():
                continue
            rule, sep, level = part.partition("=")
            level = level.strip().lower()
            if not sep or level not in ("error", "warning", "info"):
                raise pytest.UsageError(
                    f"pyskill: {where} entry {part.strip()!r} is not RULE=LEVEL with LEVEL one of "
                    "error, warning, info"
                )
            pairs.append((rule.strip(), level))
        return tuple(pairs)
    if opt.kind == "allow":
        lines = raw if isinstance(raw, list) else text.splitlines()
        try:
            return parse_all(str(line) for line in lines)
        except AllowanceError as exc:
            raise pytest.UsageError(f"pyskill: {where}: {exc}") from None
    if opt.kind == "list":
        return frozenset(p.strip() for p in text.replace("\n", ",").split(",") if p.strip())
    return text.strip() or None


def resolve(getoption: Callable[[str], Any], getini: Callable[[str], Any]) -> Settings:
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        cli = getoption(opt.ini)
        if cli is not None:
            values[opt.name] = _parse(opt, cli, opt.flag)
            continue
        ini = getini(opt.ini)
        if opt.kind == "allow":
            if ini:
                values[opt.name] = _parse(opt, list(ini), opt.ini)
            continue
        if isinstance(ini, list):  # a linelist-style value from an ini file
            ini = ",".join(ini)
        if ini is not None and str(ini).strip() != "":
            values[opt.name] = _parse(opt, ini, opt.ini)
    return Settings(**values)


def check_rule_names(names: Iterable[str], known: Iterable[str], where: str) -> None:
    valid = sorted(set(known))
    unknown = sorted(set(names) - set(valid))
    if unknown:
        raise pytest.UsageError(
            f"pyskill: unknown rule {', '.join(map(repr, unknown))} in {where}; "
            f"valid rules: {', '.join(valid)}"
        )
