"""Typing for views that branch on htmx."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware: ``request.htmx`` is truthy for an
    htmx request. django-htmx documents this subclass for type hints rather than shipping it."""

    htmx: HtmxDetails
