import pytest
from shop import services
from shop.models import Book

@pytest.fixture(autouse=True)
def data(db):
    services.seed()

@pytest.fixture
def ids():
    return list(Book.objects.order_by("id").values_list("id", flat=True))

def test_pos_forward_fk(): services.forward_fk()
def test_pos_forward_o2o(): services.forward_o2o()
def test_pos_reverse_o2o(): services.reverse_o2o()
def test_pos_reverse_fk(): services.reverse_fk()
def test_pos_m2m_forward(): services.m2m_forward()
def test_pos_m2m_reverse(): services.m2m_reverse()
def test_pos_generic_fk(): services.generic_fk()
def test_pos_generic_relation(): services.generic_relation()
def test_pos_deferred_field(): services.deferred_field()
def test_pos_iterator_loop(): services.iterator_loop()
def test_pos_get_in_loop(ids): services.get_in_loop(ids)
def test_pos_raw_cursor_per_row(ids): services.raw_cursor(ids)
def test_pos_prefetch_one_by_one(): services.prefetch_one_by_one()
def test_pos_count_per_row(): services.count_per_row()
def test_pos_filter_on_prefetched(): services.filter_on_prefetched()

def test_pos_loop_in_test_code():
    for b in Book.objects.order_by("id"):
        b.author.name

def test_neg_select_related(): services.forward_fk_select_related()
def test_neg_prefetch_related(): services.reverse_fk_prefetched()
def test_neg_prefetch_object(): services.prefetch_object()
def test_neg_annotate_count(): services.annotated_counts()
def test_neg_prefetched_count(): services.prefetched_count()
def test_neg_one_object_once(ids): services.one_book(ids[0])
def test_neg_evaluated_twice(): services.evaluate_twice()
def test_neg_values(): services.values_only()

def test_neg_same_helper_two_lines(ids):
    a, b = Book.objects.get(id=ids[0]), Book.objects.get(id=ids[1])
    services.show(a)
    services.show(b)

def test_neg_empty_result():
    Book.objects.all().delete()
    assert services.forward_fk() == []

def test_neg_test_loop_of_separate_operations(ids):
    for i in ids:
        services.title(i)

@pytest.mark.pyskill_threshold(n_plus_one=5)
def test_neg_below_threshold(): services.forward_fk()
