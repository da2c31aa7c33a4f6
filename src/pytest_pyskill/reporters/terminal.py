"""The ``pyskill`` section of the terminal summary: findings grouped by rule and call site."""

from __future__ import annotations

from collections import defaultdict

from ..loop.allow import DEFAULTS
from ..model import Finding
from .session import SessionFindings


def header(mode: str, sources: list[str]) -> str:
    return f"pyskill: mode={mode}, capture={','.join(sources) or 'none'}"


def summary_lines(data: SessionFindings, verbose: bool = False, max_tests: int = 3) -> list[str]:
    lines: list[str] = []
    by_rule = data.by_rule()
    counts = ", ".join(f"{rule}: {n}" for rule, n in by_rule.items())
    lines.append(
        f"{data.statements} statements in {data.tests} tests; "
        f"{len(data.findings)} finding{'s' if len(data.findings) != 1 else ''}"
        + (f" ({counts})" if counts else "")
    )
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in data.findings:
        where = str(finding.location) if finding.location else "<unknown>"
        groups[(finding.rule, where)].append(finding)
    current_rule = None

    def order(kv: tuple[tuple[str, str], list[Finding]]) -> tuple[str, int, str, int, str]:
        (rule, where), items = kv
        loc = items[0].location
        # Most frequent first, then by file and line number (":21" before ":110").
        return (rule, -len(items), loc.path if loc else where, loc.line if loc else 0, where)

    for (rule, where), items in sorted(groups.items(), key=order):
        if rule != current_rule:
            current_rule = rule
            lines.append("")
            sites = sum(1 for key in groups if key[0] == rule)
            lines.append(f"{rule}: {by_rule[rule]} in {sites} place{'s' if sites != 1 else ''}")
        first = items[0]
        tests = sorted({f.test for f in items})
        lines.append(f"  {where}  ({len(items)}x)")
        lines.append(f"    {first.message}")
        if first.fetched_at:
            lines.append(f"    rows fetched at {first.fetched_at}")
        if first.fingerprint:
            lines.append(f"    {first.fingerprint}")
        if first.fix:
            lines.append(f"    fix: {first.fix}")
        shown = tests if verbose else tests[:max_tests]
        more = f" and {len(tests) - len(shown)} more" if len(tests) > len(shown) else ""
        lines.append(f"    in {', '.join(shown)}{more}")
    lines.extend(allowance_lines(data, verbose))
    lines.extend(baseline_lines(data, verbose))
    for error in data.errors:
        lines.append(f"pyskill internal error (reported, not raised): {error}")
    if data.errors_dropped:
        lines.append(
            f"pyskill: {data.errors_dropped} more internal error(s) not listed (the first "
            f"{len(data.errors)} are)"
        )
    for problem in data.output_errors:
        lines.append(f"pyskill: {problem}")
    return lines


def allowance_lines(data: SessionFindings, verbose: bool = False) -> list[str]:
    """Allowances that covered something, and configured ones nothing needed (stale). The
    shipped defaults are listed only under -v; the project's own always are."""
    defaults = {a.key for a in DEFAULTS}
    used = data.allowed
    shown = [key for key in used if verbose or key not in defaults]
    unused = [key for key in data.configured_allowances if key not in used]
    if not shown and not unused:
        return []
    lines = ["", f"allowances: {len(shown)} used, {len(unused)} unused"]
    for key in sorted(shown, key=lambda k: (-used[k], k)):
        lines.append(f"  used {used[key]}x: {key}")
    for key in unused:
        lines.append(f"  unused (remove it?): {key}")
    return lines


def baseline_lines(data: SessionFindings, verbose: bool = False) -> list[str]:
    summary = data.baseline_summary()
    if summary is None:
        return []
    if data.baseline_refused is not None:
        return [
            "",
            f"baseline: not updated ({data.baseline_refused}); {data.baseline_path} is unchanged",
        ]
    if data.baseline_written is not None:
        return ["", f"baseline: recorded {data.baseline_written} findings in {data.baseline_path}"]
    stale = data.baseline_stale
    lines = [
        "",
        f"baseline {data.baseline_path}: {summary['new']} new, {summary['known']} known "
        f"(reported, not failing), {len(stale)} stale",
    ]
    shown = stale if verbose else stale[:10]
    for rule, label, path, function in shown:
        lines.append(
            f"  stale (its tests passed without it): {rule} {label} at {path} in {function}"
        )
    if len(stale) > len(shown):
        lines.append(f"  ... {len(stale) - len(shown)} more stale entries (-v lists them)")
    if stale:
        lines.append("  record the baseline again with --pyskill-update-baseline to drop them")
    if data.baseline_unchecked:
        lines.append(
            f"  {data.baseline_unchecked} entries from a schema-1 baseline do not know their "
            "tests and are never called stale; --pyskill-update-baseline adds the tests of the "
            "ones still found"
        )
    return lines
