"""The values that flow from capture to rules to reporters.

Everything here is immutable and JSON-safe through ``to_dict()``; nothing here knows pytest,
Django or SQLAlchemy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

FrameKind = Literal["app", "test"]
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of user code (application or test) on the way to a statement."""

    path: str
    line: int
    function: str
    kind: FrameKind

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "function": self.function, "kind": self.kind}

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}"


@dataclass(frozen=True, slots=True, eq=False)
class CallSite:
    """Where a statement came from: user frames, innermost first.

    ``frames[0]`` is the innermost application frame when there is one (otherwise the innermost
    test frame); the chain goes up to and including the first test frame. Library frames
    (site-packages, the standard library, this plugin) are never part of it.

    Call sites are interned by the classifier that builds them (one object per distinct chain),
    so they compare and hash by identity: cheap enough to key every statement on.
    """

    frames: tuple[Frame, ...]

    @property
    def primary(self) -> Frame | None:
        return self.frames[0] if self.frames else None

    @property
    def app_frames(self) -> tuple[Frame, ...]:
        return tuple(f for f in self.frames if f.kind == "app")

    @property
    def in_test_code(self) -> bool:
        """True when no application frame is involved: the test itself sent it."""
        return bool(self.frames) and self.frames[0].kind == "test"

    def to_dict(self) -> dict[str, Any]:
        return {"frames": [f.to_dict() for f in self.frames]}

    def __str__(self) -> str:
        return str(self.primary) if self.frames else "<unknown>"


UNKNOWN_SITE = CallSite(())


@dataclass(frozen=True, slots=True)
class Shape:
    """What a SQL string is, independent of its values (see :mod:`pytest_pyskill.sql`)."""

    kind: str  # select, insert, update, delete, tcl, ddl, other
    tables: tuple[str, ...]
    fingerprint: str
    rows: int  # VALUES groups of an INSERT (1 for everything else)
    is_data: bool = field(init=False)  # counted by budgets: all but transaction control
    is_write: bool = field(init=False)  # INSERT, UPDATE or DELETE

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_data", self.kind != "tcl")
        object.__setattr__(self, "is_write", self.kind in ("insert", "update", "delete"))


class OrmContext(NamedTuple):
    """What the ORM said about why a statement ran, when it said anything."""

    source: str  # "sqlalchemy" or "django"
    entity: str | None = None  # the mapped class or model being loaded
    lazy_load: str | None = None  # "Book.author": the relation or column loaded per object
    parent: str | None = None  # identity of the object whose attribute was loaded
    column_load: bool = False  # deferred / expired column refresh
    kind: str | None = None  # many-to-one, one-to-many, many-to-many, one-to-one, deferred,
    #                          expired, generic, get, prefetch
    fetched_at: CallSite | None = None  # where the parent's rows were fetched, when known

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "entity": self.entity,
            "lazy_load": self.lazy_load,
            "parent": self.parent,
            "column_load": self.column_load,
            "kind": self.kind,
            "fetched_at": self.fetched_at.to_dict() if self.fetched_at else None,
        }


class StatementEvent(NamedTuple):
    """One statement sent to a database while a test window was open.

    A NamedTuple rather than a frozen dataclass: it is built once per statement, and a frozen
    dataclass's ``__init__`` costs several times more. It is just as immutable.
    """

    source: str  # "sqlalchemy", "django" or "dbapi"
    database: str  # Django alias, SQLAlchemy engine URL (no password), or the sqlite path
    vendor: str  # sqlite, postgresql, mysql, ...
    sql: str  # the statement as sent, with placeholders; values are never kept here
    shape: Shape
    executemany: bool  # a batched execution (executemany, insertmanyvalues)
    in_transaction: bool | None  # inside a transaction the code itself opened (None: unknown)
    thread: int
    in_event_loop: bool  # an asyncio loop was running in the sending thread
    duration: float  # seconds
    callsite: CallSite
    orm: OrmContext | None = None
    params: str | None = None  # repr of the parameters, only with --pyskill-show-params
    op: int = 0  # the operation: one activation of the entry frame (see callsite.locate)
    unit: int | None = None  # the commit unit (transaction) it ran in; None: committed alone

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "database": self.database,
            "vendor": self.vendor,
            "kind": self.shape.kind,
            "tables": list(self.shape.tables),
            "fingerprint": self.shape.fingerprint,
            "executemany": self.executemany,
            "in_transaction": self.in_transaction,
            "in_event_loop": self.in_event_loop,
            "duration_ms": round(self.duration * 1000, 3),
            "callsite": self.callsite.to_dict(),
            "orm": self.orm.to_dict() if self.orm else None,
            "params": self.params,
            "op": self.op,
            "unit": self.unit,
        }


class LoopEvent(NamedTuple):
    """Something that held an asyncio event loop's thread while a test was watched.

    ``kind`` is ``"call"`` (a blocking call: ``time.sleep``, file or socket I/O, a sync database
    driver...) or ``"stall"`` (the watchdog saw the loop late; ``samples`` says what the loop
    thread was running while it waited). Times are ``time.perf_counter()`` seconds.
    """

    kind: str  # "call" or "stall"
    call: str  # what was called ("time.sleep", "open", "db.sqlalchemy"); "" for stalls
    callsite: CallSite  # the user frames that made the call (stalls: the most-sampled chain)
    started: float
    duration: float | None  # None when unknown
    thread: int
    allowed: str | None = None  # the allowance that covers it (still explains a stall)
    detail: str | None = None  # the path, host or command; only with --pyskill-show-params
    samples: tuple[tuple[CallSite, int], ...] = ()  # stalls: sampled call sites, most first
    sampled: int = 0  # stalls: number of stack samples taken while the loop was late

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "call": self.call,
            "callsite": self.callsite.to_dict(),
            "duration_ms": None if self.duration is None else round(self.duration * 1000, 3),
            "allowed": self.allowed,
            "detail": self.detail,
            "samples": [[site.to_dict(), n] for site, n in self.samples],
        }


@dataclass(frozen=True, slots=True)
class Location:
    path: str
    line: int
    function: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "function": self.function}

    def __str__(self) -> str:
        return f"{self.path}:{self.line} in {self.function}"

    @classmethod
    def of(cls, frame: Frame | None) -> Location | None:
        return cls(frame.path, frame.line, frame.function) if frame else None


FINDING_KEYS = frozenset(
    {
        "rule",
        "severity",
        "test",
        "message",
        "count",
        "location",
        "label",
        "fingerprint",
        "fix",
        "details",
        "trace",
        "always_fails",
        "fetched_at",
        "baseline",
    }
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a rule found in one test: what, where, how often, and the fix."""

    rule: str
    severity: Severity
    message: str
    test: str = ""  # node id, filled in by the plugin
    count: int = 1
    location: Location | None = None
    label: str | None = None  # what the finding is about: "Book.author", a table, a budget
    fingerprint: str | None = None
    fix: str | None = None
    details: tuple[str, ...] = ()  # supporting lines, shown with the finding
    trace: tuple[str, ...] = ()  # every statement behind it, shown under -v and in JSON
    always_fails: bool = False  # explicit assertions (budgets) fail in warn mode too
    extra: tuple[tuple[str, Any], ...] = field(default=())
    fetched_at: Location | None = None  # where the rows behind a per-row load were fetched
    baseline: str | None = None  # "known" (accepted in the baseline), "new", or None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "test": self.test,
            "message": self.message,
            "count": self.count,
            "location": self.location.to_dict() if self.location else None,
            "label": self.label,
            "fingerprint": self.fingerprint,
            "fix": self.fix,
            "details": list(self.details),
            "trace": list(self.trace),
            "always_fails": self.always_fails,
            "fetched_at": self.fetched_at.to_dict() if self.fetched_at else None,
            "baseline": self.baseline,
        }
        data.update(dict(self.extra))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        loc = data.get("location")
        fetched = data.get("fetched_at")
        return cls(
            rule=data["rule"],
            severity=data["severity"],
            message=data["message"],
            test=data.get("test", ""),
            count=data.get("count", 1),
            location=Location(loc["path"], loc["line"], loc["function"]) if loc else None,
            label=data.get("label"),
            fingerprint=data.get("fingerprint"),
            fix=data.get("fix"),
            details=tuple(data.get("details", ())),
            trace=tuple(data.get("trace", ())),
            always_fails=data.get("always_fails", False),
            fetched_at=Location(fetched["path"], fetched["line"], fetched["function"])
            if fetched
            else None,
            baseline=data.get("baseline"),
            extra=tuple(sorted((k, v) for k, v in data.items() if k not in FINDING_KEYS)),
        )

    def render(self, verbose: bool = False, details: bool = True) -> str:
        """The finding as people read it: what, where, the SQL shape, the fix."""
        lines = [f"{self.rule}: {self.message}"]
        if self.location:
            fetched = f"   (rows fetched at {self.fetched_at})" if self.fetched_at else ""
            lines.append(f"  at {self.location}{fetched}")
        if self.fingerprint:
            lines.append(f"  {self.fingerprint}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        if details:
            lines.extend(f"  {d}" for d in self.details)
        if verbose:
            lines.extend(f"    {t}" for t in self.trace)
        return "\n".join(lines)


def finding_problem(obj: object) -> str | None:
    """What is wrong with a finding that came from third-party code (a rule, a hook), in a few
    words, or None. A finding that passes travels to xdist's controller and into the JSON,
    SARIF and baseline files without surprises."""
    if not isinstance(obj, Finding):
        return f"a {type(obj).__name__}, not a Finding"
    if not isinstance(obj.rule, str) or not obj.rule:
        return f"a Finding whose rule is {type(obj.rule).__name__}, not a non-empty str"
    if obj.severity not in SEVERITIES:
        return "a Finding whose severity is not one of error, warning, info"
    if not isinstance(obj.message, str):
        return f"a Finding whose message is a {type(obj.message).__name__}, not a str"
    for name in ("location", "fetched_at"):
        value = getattr(obj, name)
        if value is not None and not isinstance(value, Location):
            return f"a Finding whose {name} is a {type(value).__name__}, not a Location"
    try:
        extra = [(key, value) for key, value in obj.extra]
    except (TypeError, ValueError):
        return "a Finding whose extra is not a sequence of (key, value) pairs"
    for key, value in extra:
        if not isinstance(key, str) or key in FINDING_KEYS:
            return f"a Finding whose extra key {key!r} is not a str or is a reserved field name"
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            return (
                f"a Finding whose extra {key!r} is not JSON-serialisable ({type(value).__name__})"
            )
    try:
        json.dumps(obj.to_dict(), allow_nan=False)
    except Exception as exc:  # a field of the wrong type
        return f"a Finding that is not JSON-serialisable ({type(exc).__name__})"
    return None
