from __future__ import annotations

import pytest

from bookshop import services


@pytest.mark.max_queries(2)
def test_catalogue_bad(session):
    assert len(services.catalogue_bad(session)) == 10


@pytest.mark.max_queries(2)
def test_catalogue_fixed(session):
    assert len(services.catalogue_fixed(session)) == 10


def test_record_sales_bad(sales_db, pyskill):
    with pyskill.max_queries(1):
        services.record_sales_bad(sales_db, [(i, 1) for i in range(20)])


def test_record_sales_fixed(sales_db, pyskill):
    with pyskill.max_queries(1):
        services.record_sales_fixed(sales_db, [(i, 1) for i in range(20)])
    assert [q.shape.kind for q in pyskill.queries] == ["insert"]
