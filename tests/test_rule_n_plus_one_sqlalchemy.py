"""Rule n-plus-one on SQLAlchemy, end to end, on SQLite and PostgreSQL (sync and asyncio).

The scenario project lives in ``tests/scenarios/n_plus_one_sqlalchemy`` (shared with the
neighbour comparison in ``benchmarks/compare_n_plus_one.py``). Inner tests named ``test_pos_*`` must be flagged and ``test_neg_*`` must not: the run is in
strict mode, so the outer test checks that exactly the positives failed, each with its finding.
"""

from __future__ import annotations

import re

import pytest

from conftest import copy_scenario

SCENARIO = "n_plus_one_sqlalchemy"  # tests/scenarios/n_plus_one_sqlalchemy

POSITIVES = {
    "test_pos_many_to_one": "Book.author lazy-loaded for 4 Book objects",
    "test_pos_one_to_many": "Author.books lazy-loaded for 4 Author objects",
    "test_pos_many_to_many": "Book.tags lazy-loaded for 4 Book objects",
    "test_pos_deferred_column": "deferred column Author.bio loaded for 4 Author objects",
    "test_pos_dynamic_relationship": "the same SELECT on book sent 4 times from one line",
    "test_pos_write_only_relationship": "the same SELECT on book sent 4 times from one line",
    "test_pos_get_in_a_loop": "the same SELECT on book sent 4 times from one line",
    "test_pos_core_text_per_row": "the same SELECT on book sent 4 times from one line",
    # The first book is read before any commit; the next three were expired by one.
    "test_pos_expired_after_commit_in_a_loop": "3 expired Book objects refreshed one by one",
    "test_pos_loop_in_test_code": "Book.author lazy-loaded for 4 Book objects",
}


def _failed(result: pytest.RunResult) -> dict[str, str]:
    found = {}
    for line in result.stdout.lines:
        m = re.match(r"FAILED test_it\.py::(\w+) - n-plus-one: (.*)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def _check(result: pytest.RunResult) -> None:
    out = result.stdout.str()
    assert "internal error" not in out, out
    failed = _failed(result)
    assert set(failed) == set(POSITIVES), out
    for name, message in POSITIVES.items():
        assert failed[name].startswith(message[:40]), (name, failed[name])


def test_n_plus_one_sync(pytester: pytest.Pytester, run, sa_url: str, monkeypatch) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", sa_url)
    copy_scenario(pytester, SCENARIO, "scenario_sync.py")
    result = run("--pyskill-strict")
    _check(result)
    out = result.stdout.str()
    # The finding says where the loop touched it, where the rows came from, and the fix.
    assert re.search(
        r"n-plus-one: Book.author lazy-loaded for 4 Book objects\n"
        r"  at services.py:\d+ in author_names   \(rows fetched at services.py:\d+ in books\)\n"
        r"  SELECT author.id.*FROM author WHERE author.id = \?\S*\n"
        r"  fix: select\(Book\).options\(joinedload\(Book.author\)\) \(or selectinload\)",
        out,
    ), out
    assert "fix: select(Author).options(selectinload(Author.books))" in out
    assert "fix: select(Author).options(undefer(Author.bio))" in out
    assert "the loop is in test code" in out


def test_threshold_from_ini(pytester: pytest.Pytester, run, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PYSKILL_TEST_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    copy_scenario(pytester, SCENARIO, "scenario_sync.py")
    result = run("--pyskill-strict", "-o", "pyskill_n_plus_one_threshold=5", "-k", "many_to_one")
    result.assert_outcomes(passed=1)
    result = run("--pyskill-strict", "--pyskill-n-plus-one-threshold=4", "-k", "many_to_one")
    result.assert_outcomes(failed=1)


def test_bad_threshold_marker(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_it="""
        import pytest

        @pytest.mark.pyskill_threshold(n_plus_one=1)
        def test_low():
            pass

        @pytest.mark.pyskill_threshold(n_plus_two=3)
        def test_unknown():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*test_low: @pytest.mark.pyskill_threshold: n_plus_one must be a whole number >= 2, got 1",
            "*test_unknown: @pytest.mark.pyskill_threshold: unknown threshold 'n_plus_two'; valid thresholds: n_plus_one, slow_callback_ms, unbatched",
        ]
    )


@pytest.mark.parametrize("driver", ["aiosqlite", "asyncpg"])
def test_n_plus_one_async(pytester: pytest.Pytester, run, monkeypatch, driver, request) -> None:
    if driver == "aiosqlite":
        url = f"sqlite+aiosqlite:///{request.getfixturevalue('tmp_path') / 'db.sqlite3'}"
    else:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{request.getfixturevalue('pg_db')}"
    monkeypatch.setenv("PYSKILL_TEST_URL", url)
    copy_scenario(pytester, SCENARIO, "scenario_async.py")
    result = run("--pyskill-strict")
    out = result.stdout.str()
    assert "internal error" not in out, out
    assert _failed(result) == {
        "test_pos_awaitable_attrs_loop": "Book.author lazy-loaded for 4 Book objects",
        "test_pos_async_get_in_a_loop": "the same SELECT on book sent 4 times from one line",
    }, out
    assert re.search(
        r"  at services_async.py:6 in author_names   \(rows fetched at services_async.py:5 in author_names\)",
        out,
    ), out
