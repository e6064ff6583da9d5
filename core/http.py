"""Request helpers: typing for views that branch on htmx, the client's address and a request id."""

from __future__ import annotations

import re
import uuid

from axes.helpers import get_client_ip_address
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware: ``request.htmx`` is truthy for an
    htmx request. django-htmx documents this subclass for type hints rather than shipping it."""

    htmx: HtmxDetails


# A request id taken from the proxy's header only when it is a plain token (it is logged and
# exported as is); anything else gets a fresh one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_client_ip(request: HttpRequest) -> str:
    """The client's address as django-axes resolves it for the login lockout (REMOTE_ADDR, or
    the forwarded address when ``AXES_IPWARE_*`` / ``AXES_CLIENT_IP_CALLABLE`` say which proxy to
    trust): one answer, so the audit trail names the address the lockout counted."""
    return get_client_ip_address(request) or ""


def request_id_of(request: HttpRequest) -> str:
    """An id shared by everything one request records: the proxy's ``X-Request-ID`` when it is
    a plain token, otherwise one made on first use and kept on the request."""
    existing = getattr(request, "verity_request_id", None)
    if isinstance(existing, str):
        return existing
    header = request.META.get("HTTP_X_REQUEST_ID", "")
    request_id = header if _REQUEST_ID.fullmatch(header) else uuid.uuid4().hex
    request.verity_request_id = request_id  # type: ignore[attr-defined]
    return request_id
