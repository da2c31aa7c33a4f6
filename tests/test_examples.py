"""The example project runs with the plugin and shows its findings (so it can never rot)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


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
    assert "2 failed, 2 passed" in out
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
    assert doc["summary"]["by_rule"] == {"max-queries": 1, "n-plus-one": 1, "unbatched-insert": 1}
    assert {(f["rule"], f["test"]) for f in doc["findings"]} == {
        ("max-queries", "tests/test_bookshop.py::test_catalogue_bad"),
        ("n-plus-one", "tests/test_bookshop.py::test_catalogue_bad"),
        ("unbatched-insert", "tests/test_bookshop.py::test_record_sales_bad"),
    }
    (unbatched,) = [f for f in doc["findings"] if f["rule"] == "unbatched-insert"]
    assert unbatched["message"] == "20 single-row INSERTs into sale from one line"
    assert unbatched["location"]["path"] == "bookshop/services.py"
    (n_plus_one,) = [f for f in doc["findings"] if f["rule"] == "n-plus-one"]
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
            "not bad",
        ],
        cwd=EXAMPLES / "bookshop",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "0 findings" in strict.stdout
