"""Never harmful, Django: the plugin's code on the user's path (``sync_to_async``, the rows a
queryset yields, GenericRelation managers) cannot change what the user's code does.

A failure is injected into the plugin's part (the helpers the wrappers use raise):
every inner test passes exactly as with ``-p no:pyskill``, errors of the user's code propagate
unchanged, and the plugin says "internal error" in its summary instead.
"""

from __future__ import annotations

import re

import pytest

from conftest import DJANGO_SETTINGS

SETTINGS = DJANGO_SETTINGS.replace(
    'INSTALLED_APPS = ["shop"]', 'INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]'
)

MODELS = """
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models

class Comment(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=20)

class Author(models.Model):
    name = models.CharField(max_length=50)
    comments = GenericRelation(Comment)
"""

# The plugin's helpers fail (only with the plugin: without it there is nothing to break).
CONFTEST = """
import os

if os.environ.get("BREAK_PYSKILL"):
    from pytest_pyskill.capture import django, django_orm

    def broken(recorder, frame):
        raise RuntimeError("injected failure")

    django.awaited_from = broken  # SyncToAsync.__call__'s helper
    django_orm.row_site = broken  # ModelIterable.__iter__'s helper

if os.environ.get("BREAK_PYSKILL_CLASSIFIER"):
    # Deeper: the classifier itself (what those helpers and the recorder call) fails.
    from pytest_pyskill.callsite import Classifier

    def broken_method(self, frame):
        raise RuntimeError("injected failure")

    Classifier.locate = broken_method
    Classifier.callsite = broken_method
"""

TESTS = """
import atexit

import pytest
from asgiref.sync import sync_to_async

from shop.models import Author, Comment

def names():
    return sorted(a.name for a in Author.objects.all())

def seed():
    for name in ("a", "b"):
        author = Author.objects.create(name=name)
        Comment.objects.create(content_object=author, text=f"on {name}")

class Boom(Exception):
    pass

def boom():
    raise Boom("the user's own error")

@pytest.mark.django_db
def test_rows_come_back():
    seed()
    assert names() == ["a", "b"]
    assert [a.name for a in Author.objects.order_by("name").iterator()] == ["a", "b"]

@pytest.mark.django_db
def test_breaking_out_of_an_iterator():
    seed()
    for author in Author.objects.order_by("name").iterator(chunk_size=1):
        break
    assert author.name == "a"

@pytest.mark.django_db
def test_generic_relation():
    seed()
    assert [len(a.comments.all()) for a in Author.objects.order_by("name")] == [1, 1]

@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_sync_to_async():
    await sync_to_async(seed)()
    assert await sync_to_async(names)() == ["a", "b"]
    with pytest.raises(Boom, match="the user's own error"):
        await sync_to_async(boom)()

@atexit.register
def _after_the_run():
    cls = Author.comments.related_manager_cls
    print(f"\\nAFTER-RUN generic manager={cls._apply_rel_filters.__module__}")
"""

_OUTCOME = re.compile(r"^(test_\w+\.py::\S+) (PASSED|FAILED|SKIPPED|ERROR)", re.M)


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    return dict(_OUTCOME.findall(result.stdout.str()))


@pytest.fixture
def project(pytester: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch):  # type: ignore[no-untyped-def]
    from conftest import use_django_backend

    use_django_backend(request, monkeypatch, "sqlite")
    pytester.makepyfile(settings=SETTINGS, conftest=CONFTEST, test_it=TESTS)
    pytester.mkpydir("shop")
    pytester.makepyfile(**{"shop/models": MODELS})
    return pytester


@pytest.mark.parametrize("where", ["BREAK_PYSKILL", "BREAK_PYSKILL_CLASSIFIER"])
def test_plugin_failures_on_the_users_django_path_change_nothing(
    project: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    without = run("-v", "-s", "--ds=settings", "-p", "no:pyskill")
    assert set(_outcomes(without).values()) == {"PASSED"}, without.stdout.str()
    monkeypatch.setenv(where, "1")
    # (The event-loop rules are off: their own patches are not what this test is about.)
    broken = run(
        "-v", "-s", "--ds=settings", "--pyskill-ignore=blocking-call,slow-callback,max-loop-block"
    )
    out = broken.stdout.str()
    assert _outcomes(broken) == _outcomes(without), out
    assert broken.ret == without.ret == 0, out
    assert "pyskill internal error (reported, not raised): " in out
    assert "injected failure" in out
    # Django's GenericRelation manager is Django's own again once the run is over.
    broken.stdout.fnmatch_lines(["AFTER-RUN generic manager=django.*"])


def test_generic_relation_hint_only_inside_a_test(project: pytest.Pytester, run) -> None:
    project.makepyfile(
        test_hint="""
        import pytest
        from shop.models import Author

        @pytest.fixture
        def outside(db):  # set-up: no test window is open yet
            return Author(pk=1).comments.all()._hints

        @pytest.mark.django_db
        def test_inside():
            assert "instance" in Author(pk=1).comments.all()._hints

        def test_outside(outside):
            assert "instance" not in outside
        """
    )
    run("-v", "--ds=settings", "test_hint.py").assert_outcomes(passed=2)
