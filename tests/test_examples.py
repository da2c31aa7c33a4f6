"""The example project runs with the plugin and shows its findings (so it can never rot)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# The async API of the bookshop (FastAPI-style handlers over an AsyncSession).
API_FINDINGS = {
    ("n-plus-one", "tests/test_api.py::test_list_books_bad"),
    ("unbatched-insert", "tests/test_api.py::test_add_reviews_bad"),
    ("missing-transaction", "tests/test_api.py::test_restock_bad"),
    ("blocking-call", "tests/test_api.py::test_review_count_bad"),
}


def test_bookshop_example(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--pyskill-json={report}"],
        cwd=EXAMPLES / "bookshop",
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "2 failed, 10 passed" in out
    assert "max-queries: 11 statements, budget is 2 (max_queries marker)" in out
    # SQLAlchemy 2.0 labels lazy-load columns ("author.id AS author_id"); 2.1 does not.
    assert re.search(
        r"10 x SELECT author\.id(?: AS author_id)?, author\.name(?: AS author_name)? "
        r"FROM author WHERE author\.id = \?  \[bookshop/services\.py:16 in catalogue_bad\]",
        out,
    ), out
    assert "the block sent 20 statements" in out
    # Warn mode: the n-plus-one finding is a warning at the application line, not a failure.
    assert re.search(
        r"bookshop/services\.py:16: PyskillWarning: n-plus-one: Book\.author lazy-loaded for 10 "
        r"Book objects",
        out,
    ), out
    assert "FAILED tests/test_bookshop.py::test_catalogue_bad" in out
    assert "FAILED tests/test_bookshop.py::test_record_sales_bad" in out
    doc = json.loads(report.read_text())
    assert {(f["rule"], f["test"]) for f in doc["findings"]} == {
        ("max-queries", "tests/test_bookshop.py::test_catalogue_bad"),
        ("n-plus-one", "tests/test_bookshop.py::test_catalogue_bad"),
        ("unbatched-insert", "tests/test_bookshop.py::test_record_sales_bad"),
        *API_FINDINGS,
    }
    (unbatched,) = [
        f
        for f in doc["findings"]
        if f["rule"] == "unbatched-insert" and f["test"].endswith("record_sales_bad")
    ]
    assert unbatched["message"] == "20 single-row INSERTs into sale from one line"
    assert unbatched["location"]["path"] == "bookshop/services.py"
    (n_plus_one,) = [
        f for f in doc["findings"] if f["rule"] == "n-plus-one" and "catalogue" in f["test"]
    ]
    assert n_plus_one["label"] == "Book.author"
    assert n_plus_one["location"] == {
        "path": "bookshop/services.py",
        "line": 16,
        "function": "catalogue_bad",
    }
    assert n_plus_one["fetched_at"] == {
        "path": "bookshop/services.py",
        "line": 15,
        "function": "catalogue_bad",
    }
    assert n_plus_one["fix"] == "select(Book).options(joinedload(Book.author)) (or selectinload)"
    # The fixed twins are clean: strict mode passes them.
    strict = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--pyskill-strict",
            "-k",
            "fixed",
        ],
        cwd=EXAMPLES / "bookshop",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "0 findings" in strict.stdout


def test_bookshop_async_api_on_postgresql(tmp_path: Path, pg_db: str) -> None:
    """The same async handlers with asyncpg on PostgreSQL give the same findings."""
    report = tmp_path / "report.json"
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_db}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--pyskill-json={report}",
            "tests/test_api.py",
        ],  # fmt: skip
        cwd=EXAMPLES / "bookshop",
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BOOKSHOP_ASYNC_URL": url},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(report.read_text())
    assert {(f["rule"], f["test"]) for f in doc["findings"]} == API_FINDINGS
    messages = {f["rule"]: f["message"] for f in doc["findings"]}
    assert messages["n-plus-one"] == "Book.author lazy-loaded for 5 Book objects"
    assert messages["missing-transaction"] == (
        "restock_bad() makes 2 writes committed in 2 separate transactions"
    )
