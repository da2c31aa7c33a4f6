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

SCHEMA = 1
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


@dataclass
class Baseline:
    path: str
    keys: frozenset[Key] = frozenset()
    exists: bool = False
    updating: bool = False
    seen: set[Key] = field(default_factory=set)

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
        if not isinstance(data, dict) or not isinstance(data.get("schema"), int):
            raise BaselineError(
                f"baseline file {path} is not a pytest-pyskill baseline (no schema number); "
                "record it again with --pyskill-update-baseline"
            )
        if data["schema"] > SCHEMA:
            raise BaselineError(
                f"baseline file {path} has schema {data['schema']}, this pytest-pyskill reads "
                f"schema {SCHEMA}; upgrade pytest-pyskill"
            )
        keys = set()
        for i, entry in enumerate(data.get("findings", [])):
            try:
                keys.add(
                    (
                        str(entry["rule"]),
                        str(entry.get("label") or ""),
                        str(entry.get("path") or ""),
                        str(entry.get("function") or ""),
                    )
                )
            except (KeyError, TypeError, AttributeError):
                raise BaselineError(
                    f"baseline file {path}: entry {i} has no rule; fix it or record it again "
                    "with --pyskill-update-baseline"
                ) from None
        return cls(path, frozenset(keys), True, updating)

    def status(self, finding: Finding) -> str | None:
        """``known`` (in the baseline: reported, never failing), ``new``, or None (budgets)."""
        if not counts_against_baseline(finding):
            return None
        if self.updating:
            return "known"
        return "known" if key_of(finding) in self.keys else "new"

    def stale(self, findings: Iterable[Finding]) -> list[Key]:
        """Entries no finding of this run matched (fixed, or their tests did not run)."""
        seen = {key_of(f) for f in findings if counts_against_baseline(f)}
        return sorted(self.keys - seen)

    def write(self, findings: Iterable[Finding]) -> int:
        keys = sorted({key_of(f) for f in findings if counts_against_baseline(f)})
        document = {
            "schema": SCHEMA,
            "tool": "pytest-pyskill",
            "comment": "Accepted pytest-pyskill findings: these do not fail --pyskill-strict. "
            "Record again with --pyskill-update-baseline.",
            "findings": [
                {"rule": rule, "label": label, "path": path, "function": function}
                for rule, label, path, function in keys
            ],
        }
        atomic_write(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        return len(keys)
