"""GitHub Actions: workflow-command annotations at the application line, and a Markdown table
in the job's step summary.

GitHub shows at most 10 annotations of each kind per step (50 per job), so findings are ranked
(failing first, then by how many tests hit them) and the rest are counted in one notice. The
step summary file is capped at 1 MiB by GitHub; this one stays under 64 KiB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ..model import Finding
from .session import SessionFindings

PER_KIND = 10
SUMMARY_CAP = 64 * 1024


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _groups(findings: Iterable[Finding]) -> list[list[Finding]]:
    grouped: dict[tuple[str, str, int, str], list[Finding]] = {}
    for f in findings:
        loc = f.location
        key = (f.rule, loc.path if loc else f.test.split("::")[0], loc.line if loc else 1,
               f.label or "")  # fmt: skip
        grouped.setdefault(key, []).append(f)
    return list(grouped.values())


def workflow_commands(findings: Iterable[Finding], failing: set[str]) -> list[str]:
    """Workflow commands for the findings not accepted in a baseline. ``failing``: the rules
    whose findings fail tests in this run (error annotations)."""
    groups = _groups(f for f in findings if f.baseline != "known")

    def kind(group: list[Finding]) -> str:
        first = group[0]
        return "error" if first.rule in failing else "warning"

    # Failing first, budgets first among them, then by how many tests hit the place.
    ranked = sorted(
        groups,
        key=lambda g: (
            kind(g) != "error",
            not g[0].always_fails,
            -len({f.test for f in g}),
            g[0].rule,
            str(g[0].location),
        ),
    )
    lines: list[str] = []
    shown: Counter[str] = Counter()
    left: Counter[str] = Counter()
    for group in ranked:
        level = kind(group)
        if shown[level] >= PER_KIND:
            left[level] += 1
            continue
        shown[level] += 1
        first = group[0]
        tests = sorted({f.test for f in group})
        loc = first.location
        path = loc.path if loc else first.test.split("::")[0]
        props = [f"file={escape_property(path)}", f"line={loc.line if loc else 1}",
                 f"title={escape_property(f'pyskill {first.rule}')}"]  # fmt: skip
        message = first.message
        if first.fix:
            message += f"\nfix: {first.fix}"
        message += f"\nin {len(tests)} test{'s' if len(tests) != 1 else ''}: {', '.join(tests[:3])}"
        lines.append(f"::{level} {','.join(props)}::{escape_data(message)}")
    if left:
        more = ", ".join(f"{n} more {level}s" for level, n in sorted(left.items()))
        note = f"{more} not annotated (GitHub shows 10 per kind); see the step summary"
        lines.append(f"::notice title=pyskill::{escape_data(note)}")
    return lines


def step_summary(data: SessionFindings) -> str:
    """A Markdown section: findings by rule, the top call sites, the baseline delta."""
    out = ["## pytest-pyskill", ""]
    findings = data.findings
    out.append(
        f"{data.statements} statements in {data.tests} tests; {len(findings)} finding"
        f"{'s' if len(findings) != 1 else ''}."
    )
    summary = data.baseline_summary()
    if summary is not None:
        stale = summary["stale"]
        out.append("")
        out.append(
            f"Baseline `{summary['path']}`: {summary['new']} new, {summary['known']} known, "
            f"{len(stale) if isinstance(stale, list) else 0} stale."
        )
    if findings:
        out += ["", "| rule | findings | new | tests |", "|---|---|---|---|"]
        for rule in sorted({f.rule for f in findings}):
            items = [f for f in findings if f.rule == rule]
            new = sum(1 for f in items if f.baseline != "known")
            tests = len({f.test for f in items})
            out.append(f"| `{rule}` | {len(items)} | {new} | {tests} |")
        out += ["", "### Top call sites", "", "| rule | where | tests | message |",
                "|---|---|---|---|"]  # fmt: skip
        groups = sorted(_groups(findings), key=lambda g: (-len({f.test for f in g}), g[0].rule))
        for group in groups[:15]:
            first = group[0]
            where = str(first.location) if first.location else first.test
            message = first.message.replace("|", "\\|")[:200]
            out.append(
                f"| `{first.rule}` | `{where}` | {len({f.test for f in group})} | {message} |"
            )
    if data.errors:
        out += ["", f"{len(data.errors)} internal error(s) in the plugin (reported, not raised)."]
    text = "\n".join(out) + "\n\n"
    if len(text.encode()) > SUMMARY_CAP:
        text = text.encode()[: SUMMARY_CAP - 100].decode(errors="ignore")
        text += "\n\n(truncated; see the JSON or SARIF report)\n\n"
    return text
