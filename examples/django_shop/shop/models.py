"""A small catalogue with every kind of relation Django has."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Comment(models.Model):
    """A comment on anything (a book or an author): a generic foreign key."""

    text = models.CharField(max_length=200)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")

    def __str__(self) -> str:
        return self.text


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Author(models.Model):
    name = models.CharField(max_length=100)
    comments = GenericRelation(Comment)

    def __str__(self) -> str:
        return self.name


class Profile(models.Model):
    """One profile per author: a one-to-one relation (``author.profile``)."""

    author = models.OneToOneField(Author, on_delete=models.CASCADE, related_name="profile")
    bio = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.bio


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag, related_name="books")
    stock = models.PositiveIntegerField(default=0)
    price_cents = models.PositiveIntegerField(default=1000)
    comments = GenericRelation(Comment)

    def __str__(self) -> str:
        return self.title
