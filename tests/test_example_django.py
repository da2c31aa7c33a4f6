"""The Django example (examples/django_shop) runs with the plugin and shows every Django rule.

Each ``*_bad`` test must get exactly its intended findings, at the application line, and each
``*_fixed`` twin none: in warn mode only the test over its query budget fails, and strict mode
passes every fixed test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "django_shop"

PAIRS = {
    "tests/test_queries.py": [
        "book_lines",
        "book_tags",
        "author_book_counts",
        "author_bios",
        "comment_feed",
        "book_comments",
        "prices",
    ],
    "tests/test_writes.py": ["add_tags", "restock", "purge_comments", "register_author"],
    "tests/test_views.py": ["book_list", "notice"],
}
ALL_TESTS = {
    f"{path}::test_{name}_{kind}"
    for path, names in PAIRS.items()
    for name in names
    for kind in ("bad", "fixed")
}
BUDGET_TEST = "tests/test_views.py::test_book_list_bad"

EXPECTED = {
    ("n-plus-one", "tests/test_queries.py::test_book_lines_bad"),
    ("n-plus-one", "tests/test_queries.py::test_book_tags_bad"),
    ("n-plus-one", "tests/test_queries.py::test_author_book_counts_bad"),
    ("n-plus-one", "tests/test_queries.py::test_author_bios_bad"),
    ("n-plus-one", "tests/test_queries.py::test_comment_feed_bad"),
    ("n-plus-one", "tests/test_queries.py::test_book_comments_bad"),
    ("n-plus-one", "tests/test_queries.py::test_prices_bad"),
    ("unbatched-insert", "tests/test_writes.py::test_add_tags_bad"),
    ("unbatched-update", "tests/test_writes.py::test_restock_bad"),
    ("unbatched-delete", "tests/test_writes.py::test_purge_comments_bad"),
    ("missing-transaction", "tests/test_writes.py::test_register_author_bad"),
    ("max-queries", BUDGET_TEST),
    ("n-plus-one", BUDGET_TEST),  # twice: Book.author and Book.tags
    ("blocking-call", "tests/test_views.py::test_notice_bad"),
}


def _run(*args: str, report: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    # The example's pytest.ini names its settings; an inherited DJANGO_SETTINGS_MODULE would win
    # over it. Outer options and GitHub annotations (and step summary) are not the example's.
    for name in ("DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS", "GITHUB_ACTIONS"):
        env.pop(name, None)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEp", *args]
    if report is not None:
        command.append(f"--pyskill-json={report}")
    return subprocess.run(
        command, cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=120
    )


def _line(path: str, needle: str) -> int:
    """The line number of the one line of an example file that contains ``needle``."""
    lines = (EXAMPLE / path).read_text().splitlines()
    numbers = [i for i, text in enumerate(lines, 1) if needle in text]
    assert len(numbers) == 1, f"{needle!r} is on lines {numbers} of {path}"
    return numbers[0]


def _one(findings: list[dict[str, Any]], rule: str, test: str) -> dict[str, Any]:
    (finding,) = [f for f in findings if f["rule"] == rule and f["test"].endswith(test)]
    return finding


def test_django_shop_example(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = _run(report=report)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr

    # Outcomes: warn mode fails only the test over its query budget.
    outcomes = dict(
        (test, outcome)
        for outcome, test in re.findall(r"^(PASSED|FAILED|ERROR) (\S+)", out, re.MULTILINE)
    )
    assert outcomes == {t: "FAILED" if t == BUDGET_TEST else "PASSED" for t in ALL_TESTS}, out
    assert "1 failed, 25 passed" in out
    assert "max-queries: 17 statements, budget is 2 (max_queries marker)" in out
    assert re.search(
        r"15 findings \(blocking-call: 1, max-queries: 1, missing-transaction: 1, "
        r"n-plus-one: 9, unbatched-delete: 1, unbatched-insert: 1, unbatched-update: 1\)",
        out,
    ), out

    doc = json.loads(report.read_text())
    findings = doc["findings"]
    assert doc["summary"]["tests"] == 26
    assert doc["summary"]["internal_errors"] == []
    assert {(f["rule"], f["test"]) for f in findings} == EXPECTED
    assert not [f for f in findings if f["test"].endswith("_fixed")]
    assert len(findings) == 15

    # Every finding is at the application line in shop/, except the budget, which is the test's
    # own assertion; its listing still names the view lines behind the statements.
    for finding in findings:
        if finding["rule"] == "max-queries":
            assert finding["location"]["path"] == "tests/test_views.py"
            assert all("[shop/views.py:" in line for line in finding["details"])
        else:
            assert finding["location"]["path"].startswith("shop/"), finding
            function = finding["location"]["function"]
            assert function.endswith("_bad") or function == "serialize_book", finding

    fk = _one(findings, "n-plus-one", "test_book_lines_bad")
    assert fk["message"] == "Book.author lazy-loaded for 8 Book objects"
    assert fk["fix"] == 'Book.objects.select_related("author")'
    assert fk["location"] == {
        "path": "shop/services.py",
        "line": _line("shop/services.py", 'book.author.name}" for book in Book.objects'),
        "function": "book_lines_bad",
    }

    counts = _one(findings, "n-plus-one", "test_author_book_counts_bad")
    assert counts["fix"] == 'Author.objects.annotate(Count("books")) instead of a count per row'

    gets = _one(findings, "n-plus-one", "test_prices_bad")
    assert gets["message"] == "Book.objects.get() called 8 times from one line"
    assert gets["fix"] == "fetch them in one query before the loop: Book.objects.in_bulk(ids)"

    view_loads = sorted(
        (f["label"], f["location"]["line"], f["fetched_at"]["function"])
        for f in findings
        if f["rule"] == "n-plus-one" and f["test"] == BUDGET_TEST
    )
    assert view_loads == [
        ("Book.author", _line("shop/views.py", '"author": book.author.name'), "book_list_bad"),
        ("Book.tags", _line("shop/views.py", '"tags": sorted('), "book_list_bad"),
    ]

    update = _one(findings, "unbatched-update", "test_restock_bad")
    assert update["message"] == "8 single-row UPDATEs into shop_book from one line"
    assert update["location"]["line"] == _line(
        "shop/services.py", 'book.save(update_fields=["stock"])'
    )

    tx = _one(findings, "missing-transaction", "test_register_author_bad")
    assert (
        tx["message"] == "register_author_bad() makes 2 writes committed in 2 separate transactions"
    )
    assert tx["fix"] == "wrap the operation in transaction.atomic() (decorator or with-block)"

    blocking = _one(findings, "blocking-call", "test_notice_bad")
    assert blocking["label"] == "open"
    assert blocking["message"].startswith("open blocked the event loop (1 call, ")
    assert blocking["location"] == {
        "path": "shop/views.py",
        "line": _line("shop/views.py", "with open(settings.SHOP_NOTICE_FILE"),
        "function": "notice_bad",
    }
    assert blocking["fix"] == (
        "await asyncio.to_thread(...) around file I/O (or anyio.Path / aiofiles)"
    )

    # The fixed twins are clean: strict mode passes every one of them.
    strict = _run("--pyskill-strict", "-k", "fixed")
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "13 passed, 13 deselected" in strict.stdout
    assert "; 0 findings" in strict.stdout
