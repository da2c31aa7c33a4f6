"""SQL statement shapes: kind, tables and a value-free fingerprint.

Pure functions over the SQL text, cached per distinct string: ORMs send the same compiled
string again and again, so the regular expressions run once per shape, not once per statement.
"""

from __future__ import annotations

import re

from .model import Shape

_CACHE_LIMIT = 20_000
_cache: dict[str, Shape] = {}  # a pure memo of a pure function: no per-test state lives here

_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
_STRING = re.compile(r"'(?:[^']|'')*'")
_NAMED = re.compile(r"%\([^)]*\)s|(?<![:\w]):[A-Za-z_]\w*|\$\d+|%s|\?")
_NUMBER = re.compile(r"(?<![\w.\"`])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w\"`])")
_SPACE = re.compile(r"\s+")
_PLACEHOLDER_CAST = re.compile(r"\?::\w+(?:\[\])?")
_IN_LIST = re.compile(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.I)
_VALUES = re.compile(
    r"\bVALUES\s*(\((?:[^()]|\([^()]*\))*\))(?:\s*,\s*\((?:[^()]|\([^()]*\))*\))*", re.I
)
_VALUE_GROUP = re.compile(r"\((?:[^()]|\([^()]*\))*\)")
_IDENT = r"(?:\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|[A-Za-z_][\w$]*)"
_QUALIFIED = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"
_TABLE_AFTER = re.compile(rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+({_QUALIFIED})", re.I)
_FIRST_WORD = re.compile(r"\s*\(?\s*([A-Za-z]+)")

_KINDS = {
    "SELECT": "select",
    "WITH": "select",
    "VALUES": "select",
    "PRAGMA": "other",
    "INSERT": "insert",
    "REPLACE": "insert",
    "UPDATE": "update",
    "DELETE": "delete",
    "BEGIN": "tcl",
    "START": "tcl",
    "COMMIT": "tcl",
    "END": "tcl",
    "ROLLBACK": "tcl",
    "SAVEPOINT": "tcl",
    "RELEASE": "tcl",
    "CREATE": "ddl",
    "ALTER": "ddl",
    "DROP": "ddl",
    "TRUNCATE": "ddl",
}
_KEYWORDS = {"SELECT", "LATERAL", "ONLY", "IF", "NOT", "EXISTS", "TABLE", "WHERE", "SET"}


def statement_kind(sql: str) -> str:
    match = _FIRST_WORD.match(sql)
    if not match:
        return "other"
    word = match.group(1).upper()
    kind = _KINDS.get(word, "other")
    if kind == "select" and word == "WITH":
        # A CTE ending in a write is that write.
        tail = sql.upper()
        for verb, write in (("INSERT", "insert"), ("UPDATE", "update"), ("DELETE", "delete")):
            if re.search(rf"\)\s*{verb}\b", tail):
                return write
    return kind


def _unquote(name: str) -> str:
    parts = [p.strip().strip('"`[]') for p in name.split(".")]
    return ".".join(parts).lower()


def tables_of(sql: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for match in _TABLE_AFTER.finditer(sql):
        name = _unquote(match.group(1))
        if name.upper() in _KEYWORDS or not name:
            continue
        seen.setdefault(name, None)
    return tuple(seen)


def fingerprint(sql: str) -> tuple[str, int]:
    """The statement with every value replaced by ``?``, lists collapsed, and its VALUES rows.

    ``IN (?, ?, ?)`` becomes ``IN (...)``; a multi-row ``VALUES (..), (..)`` becomes
    ``VALUES (...)`` and the number of rows is returned beside the text, so one statement
    inserting ten rows and one inserting two have the same fingerprint.
    """
    text = _COMMENT.sub(" ", sql)
    text = _STRING.sub("?", text)
    text = _NAMED.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _PLACEHOLDER_CAST.sub("?", text)
    text = _SPACE.sub(" ", text).strip().rstrip(";").strip()
    text = _IN_LIST.sub("IN (...)", text)
    rows = 1
    values = _VALUES.search(text)
    if values:
        rows = len(_VALUE_GROUP.findall(values.group(0)))
        text = text[: values.start()] + "VALUES (...)" + text[values.end() :]
    return text, rows


def shape_of(sql: str) -> Shape:
    """The cached :class:`Shape` of a SQL string."""
    shape = _cache.get(sql)
    if shape is None:
        text, rows = fingerprint(sql)
        shape = Shape(statement_kind(sql), tables_of(sql), text, rows)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[sql] = shape
    return shape


def sql_text(statement: object) -> str:
    """The text of a statement a driver was given as something other than ``str``.

    ``bytes`` are decoded (UTF-8, undecodable bytes replaced). SQL-composition objects
    (psycopg's ``sql.Composed``, ``sql.SQL``, ``sql.Identifier``, ``sql.Placeholder``; psycopg2's
    equivalents; template strings) are walked part by part, duck-typed, and every literal value
    becomes ``?``: a value is never rendered, so no parameter can reach a report. Anything else
    is a fixed text naming its type (statement kind "other").
    """
    if isinstance(statement, str):
        return str.__str__(statement)  # a plain str, whatever a subclass does
    if isinstance(statement, (bytes, bytearray, memoryview)):
        return bytes(statement).decode("utf-8", errors="replace")
    if _is_template(statement):
        return "?".join(getattr(statement, "strings"))  # noqa: B009
    if hasattr(statement, "as_string"):
        parts: list[str] = []
        _compose(statement, parts, 0)
        return "".join(parts)
    return f"<non-text statement: {type(statement).__name__}>"


def _is_template(obj: object) -> bool:
    strings = getattr(obj, "strings", None)
    return (
        type(obj).__name__ == "Template"
        and hasattr(obj, "interpolations")
        and isinstance(strings, tuple)
        and all(isinstance(s, str) for s in strings)
    )


def _compose(obj: object, parts: list[str], depth: int) -> None:
    """Append the text of one composable to ``parts``; values become ``?``."""
    name = type(obj).__name__
    inner = getattr(obj, "_obj", None)
    if name == "Composed" and depth < 100:
        seq = inner if isinstance(inner, list) else getattr(obj, "seq", None)
        if isinstance(seq, (list, tuple)):
            for part in seq:
                _compose(part, parts, depth + 1)
            return
    elif name == "SQL":
        text = inner if isinstance(inner, str) else getattr(obj, "string", None)
        if isinstance(text, str):
            parts.append(text)
            return
    elif name == "Identifier":
        names = inner if isinstance(inner, tuple) else getattr(obj, "strings", None)
        if isinstance(names, tuple) and all(isinstance(n, str) for n in names):
            parts.append(".".join('"' + n.replace('"', '""') + '"' for n in names))
            return
    elif name == "Placeholder":
        key = inner if isinstance(inner, str) else getattr(obj, "name", None)
        parts.append(f"%({key})s" if isinstance(key, str) and key else "%s")
        return
    parts.append("?")  # a Literal, or a part we do not know: never its value
