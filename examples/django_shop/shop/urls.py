from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("books/bad/", views.book_list_bad),
    path("books/fixed/", views.book_list_fixed),
    path("notice/bad/", views.notice_bad),
    path("notice/fixed/", views.notice_fixed),
]
