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

def raw_cursor(ids):
    from django.db import connection
    with connection.cursor() as cursor:
        for i in ids:
            cursor.execute("SELECT title FROM shop_book WHERE id = %s", [i])
            cursor.fetchone()

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
