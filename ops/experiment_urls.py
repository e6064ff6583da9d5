"""URLs of the experiment pages (their views are added with them)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
