"""The baseline: findings a project has accepted for now, so strict mode fails only new ones.

Entries are keyed on (rule, label, file, function), never on line numbers, so an unrelated edit
above a finding does not turn it into a new one. The file is sorted, indented JSON with no
counts or timestamps: it changes only when the set of accepted findings changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .model import Finding
from .reporters.files import atomic_write

SCHEMA = 2  # 2: each entry lists the tests that had it; 1 (still read): no tests
Key = tuple[str, str, str, str]  # rule, label, path, function


class BaselineError(ValueError):
    """The baseline file cannot be used; the message is one line naming what to do."""


def key_of(finding: Finding) -> Key:
    loc = finding.location
    return (
        finding.rule,
        finding.label or "",
        loc.path if loc else "",
        loc.function if loc else "",
    )


def counts_against_baseline(finding: Finding) -> bool:
    """Budgets (``always_fails``) are explicit assertions: a baseline never silences them."""
    return not finding.always_fails


def _entry(path: str, i: int, entry: object, schema: int) -> tuple[Key, frozenset[str]]:
    def bad(what: str) -> BaselineError:
        return BaselineError(
            f"baseline file {path}: entry {i} {what}; fix it or record it again with "
            "--pyskill-update-baseline"
        )

    if not isinstance(entry, dict):
        raise bad("is not an object")
    rule = entry.get("rule")
    if not isinstance(rule, str) or not rule:
        raise bad("has no rule (a non-empty string)")
    fields = []
    for name in ("label", "path", "function"):
        value = entry.get(name)
        if value is not None and not isinstance(value, str):
            raise bad(f"has a {name} that is not a string")
        fields.append(value or "")
    tests = entry.get("tests", [])
    if schema < 2:
        tests = []
    elif not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise bad("has tests that are not a list of node ids")
    return (rule, fields[0], fields[1], fields[2]), frozenset(tests)


@dataclass
class Baseline:
    path: str
    keys: frozenset[Key] = frozenset()
    exists: bool = False
    updating: bool = False
    seen: set[Key] = field(default_factory=set)
    # The tests each entry was seen in (empty: a schema-1 entry, which does not know them).
    tests: dict[Key, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str, updating: bool) -> Baseline:
        p = Path(path)
        if not p.exists():
            if updating:
                return cls(path, updating=True)
            raise BaselineError(
                f"baseline file {path} does not exist; record one with --pyskill-update-baseline"
            )
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"baseline file {path} cannot be read: {exc}") from None
        except json.JSONDecodeError as exc:
            raise BaselineError(
                f"baseline file {path} is not valid JSON (line {exc.lineno}: {exc.msg}); fix it "
                "or record it again with --pyskill-update-baseline"
            ) from None
        schema = data.get("schema") if isinstance(data, dict) else None
        if type(schema) is not int or schema < 1:
            raise BaselineError(
                f"baseline file {path} is not a pytest-pyskill baseline (no schema number); "
                "record it again with --pyskill-update-baseline"
            )
        if schema > SCHEMA:
            raise BaselineError(
                f"baseline file {path} has schema {schema}, this pytest-pyskill reads "
                f"schema {SCHEMA}; upgrade pytest-pyskill"
            )
        entries = data.get("findings")
        if not isinstance(entries, list):
            raise BaselineError(
                f"baseline file {path}: 'findings' is not a list; fix it or record it again "
                "with --pyskill-update-baseline"
            )
        tests: dict[Key, frozenset[str]] = {}
        for i, raw in enumerate(entries):
            key, entry_tests = _entry(path, i, raw, schema)
            tests[key] = tests.get(key, frozenset()) | entry_tests
        return cls(path, frozenset(tests), True, updating, tests=tests)

    def status(self, finding: Finding) -> str | None:
        """``known`` (in the baseline: reported, never failing), ``new``, or None (budgets)."""
        if not counts_against_baseline(finding):
            return None
        if self.updating:
            return "known"
        return "known" if key_of(finding) in self.keys else "new"

    def merged(self, findings: Iterable[Finding], passed: set[str]) -> dict[Key, frozenset[str]]:
        """The entries after this run: an entry loses the tests that passed without its finding
        and goes when it has none left; the tests of this run's findings are added. Entries
        whose tests did not run (or failed) stay as they were; a schema-1 entry (no tests
        known) stays unless this run saw it."""
        found: dict[Key, set[str]] = {}
        for f in findings:
            if counts_against_baseline(f):
                found.setdefault(key_of(f), set()).add(f.test)
        result: dict[Key, frozenset[str]] = {}
        for key, tests in self.tests.items():
            if not tests:
                result[key] = frozenset()  # schema 1: cannot tell whether its tests ran
                continue
            left = tests - passed
            if left:
                result[key] = left
        for key, names in found.items():
            result[key] = result.get(key, frozenset()) | frozenset(names)
        return result

    def stale(self, findings: Iterable[Finding], passed: set[str]) -> list[Key]:
        """Entries whose tests all passed in this run without the finding (what an update
        would drop). Entries whose tests did not run, or without known tests, are not stale."""
        seen = {key_of(f) for f in findings if counts_against_baseline(f)}
        return sorted(
            key
            for key, tests in self.tests.items()
            if tests and key not in seen and tests <= passed
        )

    @property
    def unchecked(self) -> int:
        """Entries from a schema-1 file: they do not know their tests."""
        return sum(1 for tests in self.tests.values() if not tests)

    def write(self, findings: Iterable[Finding], passed: set[str], mode: int) -> int:
        entries = self.merged(findings, passed)
        document = {
            "schema": SCHEMA,
            "tool": "pytest-pyskill",
            "comment": "Accepted pytest-pyskill findings: these do not fail --pyskill-strict. "
            "Record again with --pyskill-update-baseline.",
            "findings": [
                {
                    "rule": rule,
                    "label": label,
                    "path": path,
                    "function": function,
                    "tests": sorted(entries[(rule, label, path, function)]),
                }
                for rule, label, path, function in sorted(entries)
            ],
        }
        atomic_write(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n", mode)
        return len(entries)
