"""Websocket handshakes only from Verity's own pages: the ``Origin`` must match scheme, host and
port exactly.

Browsers send cookies with a cross-site websocket handshake, and the same-origin policy does not
apply to websockets, so any page a signed-in user visits could open a socket in their name
(cross-site websocket hijacking). Channels' ``AllowedHostsOriginValidator`` compares only the
host against ALLOWED_HOSTS: ``http://127.0.0.1:9999`` (another program on the same machine) or
``http://verity.example`` (a plain-HTTP page in front of an HTTPS site) passed. The rule here
is Django's CSRF origin rule: the origin is the request's own scheme://host:port, with the host
in ALLOWED_HOSTS, or one listed in CSRF_TRUSTED_ORIGINS. No Origin header, or ``null``, is
refused (every browser sends one on a websocket handshake)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _origin_parts(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin, the default port filled in; None if malformed."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.username is not None or parts.query or parts.fragment:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _request_is_secure(scope: dict[str, Any]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    # Behind a TLS-terminating proxy, the same trusted header Django uses for HTTP requests
    # (only set when VERITY_BEHIND_PROXY says a proxy strips the client's copy).
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        meta_name, expected = proxy_header
        header = meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode()
        value = _header(scope, header)
        return value is not None and value.split(",")[0].strip() == expected
    return False


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:  # as django.http.HttpRequest.get_host does
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def _trusted_origin(origin: tuple[str, str, int]) -> bool:
    """CSRF_TRUSTED_ORIGINS, with Django's ``https://*.example.com`` subdomain wildcards."""
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        trusted = _origin_parts(entry.replace("://*.", "://", 1) if wildcard else entry)
        if trusted is None or trusted[0] != scheme or trusted[2] != port:
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def websocket_origin_allowed(scope: dict[str, Any]) -> bool:
    raw_origin = _header(scope, b"origin")
    origin = _origin_parts(raw_origin) if raw_origin else None
    if origin is None:
        return False
    if _trusted_origin(origin):
        return True
    host_header = _header(scope, b"host")
    if not host_header:
        return False
    domain, port = split_domain_port(host_header)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return False
    scheme = "https" if _request_is_secure(scope) else "http"
    try:
        own_port = int(port) if port else _DEFAULT_PORTS[scheme]
    except ValueError:
        return False
    # split_domain_port lowercases and drops the brackets of an IPv6 literal; urlsplit's
    # hostname drops them too.
    return origin == (scheme, domain.strip("[]"), own_port)


class ExactOriginValidator:
    """ASGI middleware: refuses (HTTP 403 at the handshake) a websocket whose Origin is not
    exactly Verity's own."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not websocket_origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
