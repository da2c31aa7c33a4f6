"""Rule n-plus-one on the Django ORM, end to end, on SQLite and PostgreSQL.

``test_pos_*`` inner tests must be flagged and ``test_neg_*`` must not (strict mode): the outer
test checks that exactly the positives failed, with the expected finding.
"""

from __future__ import annotations

import re

import pytest

SETTINGS = """
import os
DATABASES = {"default": {
    "ENGINE": os.environ["PYSKILL_DJANGO_ENGINE"],
    "NAME": os.environ["PYSKILL_DJANGO_NAME"],
    "HOST": os.environ.get("PYSKILL_DJANGO_HOST", ""),
    "PORT": os.environ.get("PYSKILL_DJANGO_PORT", ""),
    "USER": os.environ.get("PYSKILL_DJANGO_USER", ""),
}}
INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]
USE_TZ = True
SECRET_KEY = "x"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""

MODELS = """
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models

class Tag(models.Model):
    name = models.CharField(max_length=20)

class Comment(models.Model):
    text = models.CharField(max_length=20)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")

class Author(models.Model):
    name = models.CharField(max_length=20)
    comments = GenericRelation(Comment)

class Profile(models.Model):
    author = models.OneToOneField(Author, on_delete=models.CASCADE, related_name="profile")
    bio = models.CharField(max_length=20)

class Book(models.Model):
    title = models.CharField(max_length=20)
    summary = models.TextField(default="")
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag)
"""

SERVICES = """
from django.db.models import Count, Prefetch, prefetch_related_objects
from shop.models import Author, Book, Comment, Profile, Tag

def seed(n=4):
    tags = [Tag.objects.create(name=f"t{i}") for i in range(2)]
    for i in range(n):
        a = Author.objects.create(name=f"a{i}")
        Profile.objects.create(author=a, bio="b")
        b = Book.objects.create(title=f"b{i}", author=a)
        b.tags.set(tags)
        Comment.objects.create(text="c", content_object=a)

def forward_fk():
    return [b.author.name for b in Book.objects.order_by("id")]

def forward_o2o():
    return [p.author.name for p in Profile.objects.order_by("id")]

def reverse_o2o():
    return [a.profile.bio for a in Author.objects.order_by("id")]

def reverse_fk():
    return [len(a.books.all()) for a in Author.objects.order_by("id")]

def m2m_forward():
    return [[t.name for t in b.tags.all()] for b in Book.objects.order_by("id")]

def m2m_reverse():
    return [len(t.book_set.all()) for t in Tag.objects.order_by("id")]

def generic_fk():
    return [c.content_object.name for c in Comment.objects.order_by("id")]

def generic_relation():
    return [len(a.comments.all()) for a in Author.objects.order_by("id")]

def deferred_field():
    return [b.summary for b in Book.objects.only("id", "title").order_by("id")]

def iterator_loop():
    return [b.author.name for b in Book.objects.order_by("id").iterator()]

def get_in_loop(ids):
    return [Book.objects.get(id=i).title for i in ids]

def prefetch_one_by_one():
    books = list(Book.objects.order_by("id"))
    for b in books:
        prefetch_related_objects([b], "tags")
    return books

def count_per_row():
    return [a.books.count() for a in Author.objects.order_by("id")]

def filter_on_prefetched():
    return [a.books.filter(title="b0").exists() for a in Author.objects.prefetch_related("books")]

def forward_fk_select_related():
    return [b.author.name for b in Book.objects.select_related("author")]

def reverse_fk_prefetched():
    return [len(a.books.all()) for a in Author.objects.prefetch_related("books")]

def prefetch_object():
    qs = Author.objects.prefetch_related(Prefetch("books", queryset=Book.objects.order_by("id")))
    return [len(a.books.all()) for a in qs]

def annotated_counts():
    return [a.n for a in Author.objects.annotate(n=Count("books"))]

def prefetched_count():
    return [a.books.count() for a in Author.objects.prefetch_related("books")]

def one_book(book_id):
    return Book.objects.get(id=book_id).author.name

def show(book):
    return book.author.name

def evaluate_twice():
    qs = Book.objects.select_related("author")
    return [b.author.name for b in qs] + [b.author.name for b in qs]

def values_only():
    return list(Book.objects.values("title", "author__name")) + list(Book.objects.values_list("id", flat=True))

def title(book_id):
    return Book.objects.get(id=book_id).title
"""

TESTS = """
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
"""

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
    if request.param == "sqlite":
        monkeypatch.setenv("PYSKILL_DJANGO_ENGINE", "django.db.backends.sqlite3")
        monkeypatch.setenv("PYSKILL_DJANGO_NAME", str(request.getfixturevalue("tmp_path") / "d.db"))
    else:
        monkeypatch.setenv("PYSKILL_DJANGO_ENGINE", "django.db.backends.postgresql")
        monkeypatch.setenv("PYSKILL_DJANGO_NAME", request.getfixturevalue("pg_db"))
        monkeypatch.setenv("PYSKILL_DJANGO_HOST", "127.0.0.1")
        monkeypatch.setenv("PYSKILL_DJANGO_PORT", "5432")
        monkeypatch.setenv("PYSKILL_DJANGO_USER", "postgres")


def test_n_plus_one_django(pytester: pytest.Pytester, run, django_db_env: None) -> None:
    pytester.makepyfile(settings=SETTINGS, test_it=TESTS)
    pytester.mkpydir("shop")
    pytester.makepyfile(**{"shop/models": MODELS, "shop/services": SERVICES})
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
