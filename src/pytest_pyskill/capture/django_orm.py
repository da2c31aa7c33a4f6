"""Django ORM context: which relation was loaded lazily, for which object, and where that
object's row was fetched.

Django has no hook for "this query is a lazy load of ``Book.author`` for book 3", so the relation
descriptors and query entry points are wrapped (reversibly, and inert outside a test window). A
wrapper sets a context variable for the duration of the ORM call; the ``execute_wrapper`` in
:mod:`.django` reads it for every statement the call sends.
"""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from types import FrameType
from typing import Any

from ..model import CallSite, OrmContext
from ..recorder import Recorder

NAME = "django"


def install(recorder: Recorder, current: ContextVar[OrmContext | None]) -> Callable[[], None]:
    from django.apps import apps
    from django.db.models import query as query_module
    from django.db.models.fields.related_descriptors import (
        ForwardManyToOneDescriptor,
        ReverseOneToOneDescriptor,
    )
    from django.db.models.query import ModelIterable, QuerySet
    from django.db.models.query_utils import DeferredAttribute

    fetched: weakref.WeakKeyDictionary[Any, CallSite] = weakref.WeakKeyDictionary()
    patches: list[tuple[Any, str, Any]] = []

    def identity(instance: Any) -> str:
        return f"{type(instance).__name__}#{instance.pk!r}"

    def fetched_at(instance: Any) -> CallSite | None:
        try:
            return fetched.get(instance)
        except TypeError:  # unsaved instances are unhashable
            return None

    def in_context(make: Callable[..., OrmContext | None], original: Callable[..., Any]) -> Any:
        """Wrap ``original`` so that its statements carry the context ``make`` describes."""

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if recorder.window is None or current.get() is not None:
                return original(*args, **kwargs)
            try:
                context = make(*args, **kwargs)
            except Exception as exc:
                recorder.internal_error("reading Django ORM context", exc)
                context = None
            if context is None:
                return original(*args, **kwargs)
            token = current.set(context)
            try:
                return original(*args, **kwargs)
            finally:
                current.reset(token)

        return wrapper

    def patch(owner: Any, name: str, make: Callable[..., OrmContext | None]) -> None:
        original = owner.__dict__[name]
        setattr(owner, name, in_context(make, original))
        patches.append((owner, name, original))

    # -- forward many-to-one and one-to-one: book.author --------------------------------------
    def forward(descriptor: Any, instance: Any) -> OrmContext:
        field = descriptor.field
        owner = type(instance).__name__
        kind = "one-to-one" if field.one_to_one else "many-to-one"
        return OrmContext(
            NAME, field.related_model.__name__, f"{owner}.{field.name}", identity(instance),
            False, kind, fetched_at(instance),
        )  # fmt: skip

    # -- reverse one-to-one: author.profile ----------------------------------------------------
    def reverse_one(descriptor: Any, instance: Any, cls: Any = None) -> OrmContext | None:
        if instance is None or descriptor.related.is_cached(instance):
            return None
        owner = type(instance).__name__
        return OrmContext(
            NAME, descriptor.related.related_model.__name__,
            f"{owner}.{descriptor.related.get_accessor_name()}", identity(instance), False,
            "reverse-one-to-one", fetched_at(instance),
        )  # fmt: skip

    # -- generic foreign key: comment.content_object -------------------------------------------
    def generic(descriptor: Any, instance: Any, cls: Any = None) -> OrmContext | None:
        if instance is None or descriptor.is_cached(instance):
            return None
        owner = type(instance).__name__
        name = getattr(descriptor, "name", None) or descriptor.field.name
        return OrmContext(
            NAME, None, f"{owner}.{name}", identity(instance), False, "generic",
            fetched_at(instance),
        )  # fmt: skip

    # -- deferred fields: only()/defer() ---------------------------------------------------
    def deferred(descriptor: Any, instance: Any, cls: Any = None) -> OrmContext | None:
        if instance is None or descriptor.field.attname in instance.__dict__:
            return None
        owner = type(instance).__name__
        return OrmContext(
            NAME, owner, f"{owner}.{descriptor.field.attname}", identity(instance), True,
            "deferred", fetched_at(instance),
        )  # fmt: skip

    # -- related managers: author.books.all(), .count(), .filter() ------------------------------
    def related(queryset: Any, *args: Any, **kwargs: Any) -> OrmContext | None:
        parent = queryset._hints.get("instance")
        if parent is None or queryset._result_cache is not None:
            return None
        accessor, kind = _accessor(type(parent), queryset.model)
        owner = type(parent).__name__
        return OrmContext(
            NAME, queryset.model.__name__, f"{owner}.{accessor}", identity(parent), False, kind,
            fetched_at(parent),
        )  # fmt: skip

    def related_count(queryset: Any) -> OrmContext | None:
        context = related(queryset)
        return context._replace(kind="count") if context is not None else None

    # -- Model.objects.get() ---------------------------------------------------------------------
    def get(queryset: Any, *args: Any, **kwargs: Any) -> OrmContext | None:
        if queryset._hints.get("instance") is not None:
            return None
        return OrmContext(NAME, queryset.model.__name__, None, None, False, "get", None)

    # -- prefetch_related_objects([obj], ...) one object at a time -----------------------------
    def prefetch_one(instances: Any, prefetcher: Any, lookup: Any, level: int) -> OrmContext | None:
        if len(instances) != 1:
            return None
        instance = instances[0]
        owner = type(instance).__name__
        return OrmContext(
            NAME, None, f"{owner}.{lookup.prefetch_through}", identity(instance), False,
            "prefetch", fetched_at(instance),
        )  # fmt: skip

    # -- where rows were fetched: every model instance a queryset yields -------------------
    original_iter = ModelIterable.__iter__

    @functools.wraps(original_iter)
    def model_iter(self: Any) -> Iterator[Any]:
        if recorder.window is None:
            yield from original_iter(self)
            return
        rows = original_iter(self)
        site: CallSite | None = None
        tracking = True
        try:
            for obj in rows:
                if tracking:
                    try:
                        if site is None:  # the query behind these rows has just run
                            site = row_site(recorder, sys._getframe(1))
                        fetched[obj] = site
                    except TypeError:  # unhashable (unsaved) instances are not tracked
                        pass
                    except Exception as exc:  # the rows still go to the user, untracked
                        recorder.internal_error("tracking where Django rows were fetched", exc)
                        tracking = False
                yield obj
        finally:
            rows.close()

    try:
        patch(ForwardManyToOneDescriptor, "get_object", forward)
        patch(ReverseOneToOneDescriptor, "__get__", reverse_one)
        if apps.is_installed("django.contrib.contenttypes"):
            from django.contrib.contenttypes import fields as contenttypes

            # Django 6 moved the descriptor out of the field into GenericForeignKeyDescriptor.
            gfk_descriptor = getattr(contenttypes, "GenericForeignKeyDescriptor", None)
            if "__get__" in vars(contenttypes.GenericForeignKey) or gfk_descriptor is None:
                patch(contenttypes.GenericForeignKey, "__get__", generic)
            else:
                patch(gfk_descriptor, "__get__", generic)
            _hint_generic_managers(recorder, patches)
        patch(DeferredAttribute, "__get__", deferred)
        patch(QuerySet, "_fetch_all", related)
        patch(QuerySet, "count", related_count)
        patch(QuerySet, "exists", related)
        patch(QuerySet, "get", get)
        patch(query_module, "prefetch_one_level", prefetch_one)
        ModelIterable.__iter__ = model_iter
        patches.append((ModelIterable, "__iter__", original_iter))
    except Exception:
        _restore(patches)
        raise

    return lambda: _restore(patches)


def row_site(recorder: Recorder, frame: FrameType) -> CallSite:
    """Where the rows a queryset yields were fetched (a module-level seam, for tests)."""
    return recorder.last_site or recorder.classifier.callsite(frame)


def _hint_generic_managers(recorder: Recorder, patches: list[tuple[Any, str, Any]]) -> None:
    """GenericRelation managers filter by the parent without saying so in the queryset's hints
    (Django's other related managers do): add the same ``instance`` hint while a test window is
    open, so a per-row ``obj.comments.all()`` is recognised as a relation load. Outside windows
    (and after the run) the manager returns exactly what Django's does; the manager classes
    Django caches get their own ``_apply_rel_filters`` back when capture is removed."""
    from django.contrib.contenttypes import fields

    original = fields.create_generic_related_manager
    made: list[tuple[Any, Any, Any]] = []  # (manager class, Django's method, ours)

    @functools.wraps(original)
    def create(superclass: Any, rel: Any) -> Any:
        manager = original(superclass, rel)
        apply = manager._apply_rel_filters

        @functools.wraps(apply)
        def hinted(self: Any, queryset: Any) -> Any:
            result = apply(self, queryset)
            if recorder.window is not None:
                try:
                    result._add_hints(instance=self.instance)
                except Exception as exc:
                    recorder.internal_error("hinting a GenericRelation queryset", exc)
            return result

        manager._apply_rel_filters = hinted
        made.append((manager, apply, hinted))
        return manager

    fields.create_generic_related_manager = create
    patches.append((fields, "create_generic_related_manager", original))
    patches.append((made, "", None))  # restored by _restore: the cached manager classes


def _restore(patches: list[tuple[Any, str, Any]]) -> None:
    while patches:
        owner, name, original = patches.pop()
        if isinstance(owner, list):  # GenericRelation manager classes made while installed
            for manager, apply, hinted in owner:
                if manager.__dict__.get("_apply_rel_filters") is hinted:
                    manager._apply_rel_filters = apply
            owner.clear()
        else:
            setattr(owner, name, original)


def _accessor(parent_model: Any, child_model: Any) -> tuple[str, str]:
    """The name and kind of the relation from ``parent_model`` to ``child_model``."""
    for field in parent_model._meta.get_fields():
        if not field.is_relation or field.related_model is not child_model:
            continue
        if field.many_to_many:
            # The reverse side (ManyToManyRel) has an accessor name; the field itself its name
            # (Django 6 no longer marks the field concrete, so ask for what exists).
            name = field.get_accessor_name() if hasattr(field, "get_accessor_name") else field.name
            return name, "many-to-many"
        if field.one_to_many:
            name = field.get_accessor_name() if hasattr(field, "get_accessor_name") else field.name
            kind = (
                "generic-relation" if type(field).__name__ == "GenericRelation" else "one-to-many"
            )
            return name or field.name, kind
    return child_model.__name__.lower() + "_set", "one-to-many"
