"""The example project runs with the plugin and shows its findings (so it can never rot)."""

from __future__ import annotations

import json
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
    assert (
        "10 x SELECT author.id, author.name FROM author WHERE author.id = ?  "
        "[bookshop/services.py:16 in catalogue_bad]" in out
    )
    assert "the block sent 20 statements" in out
    assert "FAILED tests/test_bookshop.py::test_catalogue_bad" in out
    assert "FAILED tests/test_bookshop.py::test_record_sales_bad" in out
    doc = json.loads(report.read_text())
    assert doc["summary"]["by_rule"] == {"max-queries": 1}
    assert doc["findings"][0]["test"] == "tests/test_bookshop.py::test_catalogue_bad"
