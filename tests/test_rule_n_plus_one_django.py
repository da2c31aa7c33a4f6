"""Rule n-plus-one on the Django ORM, end to end, on SQLite and PostgreSQL.

The scenario project lives in ``tests/scenarios/n_plus_one_django`` (shared with the neighbour
comparison in ``benchmarks/compare_n_plus_one.py``). ``test_pos_*`` inner tests must be flagged and ``test_neg_*`` must not (strict mode): the outer
test checks that exactly the positives failed, with the expected finding.
"""

from __future__ import annotations

import re

import pytest

from conftest import copy_scenario, use_django_backend

POSITIVES = {
    "test_pos_forward_fk": "Book.author lazy-loaded for 4 Book objects",
    "test_pos_forward_o2o": "Profile.author lazy-loaded for 4 Profile objects",
    "test_pos_reverse_o2o": "Author.profile lazy-loaded for 4 Author objects",
    "test_pos_reverse_fk": "Author.books lazy-loaded for 4 Author objects",
    "test_pos_m2m_forward": "Book.tags lazy-loaded for 4 Book objects",
    "test_pos_m2m_reverse": "Tag.book_set lazy-loaded for 2 Tag objects",
    "test_pos_generic_fk": "Comment.content_object lazy-loaded for 4 Comment objects",
    "test_pos_generic_relation": "Author.comments lazy-loaded for 4 Author objects",
    "test_pos_deferred_field": "deferred column Book.summary loaded for 4 Book objects",
    "test_pos_iterator_loop": "Book.author lazy-loaded for 4 Book objects",
    "test_pos_get_in_loop": "Book.objects.get() called 4 times from one line",
    "test_pos_raw_cursor_per_row": "the same SELECT on shop_book sent 4 times from one line",
    "test_pos_prefetch_one_by_one": "Book.tags lazy-loaded for 4 Book objects",
    "test_pos_count_per_row": "Author.books lazy-loaded for 4 Author objects",
    "test_pos_filter_on_prefetched": "Author.books lazy-loaded for 4 Author objects",
    "test_pos_loop_in_test_code": "Book.author lazy-loaded for 4 Book objects",
}

FIXES = [
    'fix: Book.objects.select_related("author")',
    'fix: Author.objects.prefetch_related("books")',
    'fix: Book.objects.prefetch_related("tags")',
    'fix: Author.objects.annotate(Count("books")) instead of a count per row',
    "fix: fetch them in one query before the loop: Book.objects.in_bulk(ids)",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def django_db_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    use_django_backend(request, monkeypatch, request.param)


def test_n_plus_one_django(pytester: pytest.Pytester, run, django_db_env: None) -> None:
    copy_scenario(pytester, "n_plus_one_django", "scenario_django.py")
    result = run("--ds=settings", "--nomigrations", "--pyskill-strict")
    out = result.stdout.str()
    assert "internal error" not in out, out
    failed = {}
    for line in result.stdout.lines:
        m = re.match(r"FAILED test_it\.py::(\w+) - n-plus-one: (.*)", line)
        if m:
            failed[m.group(1)] = m.group(2)
    assert failed == POSITIVES, out
    for fix in FIXES:
        assert fix in out, fix
    assert re.search(
        r"  at shop/services.py:\d+ in forward_fk   \(rows fetched at shop/services.py:\d+ in forward_fk\)",
        out,
    ), out
