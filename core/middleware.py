"""Every page needs a signed-in user; APIs answer 401/403 themselves (DRF) instead of redirecting."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponseBase


class LoginRequiredForPagesMiddleware(LoginRequiredMiddleware):
    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        # Token-authenticated API clients are only recognised by DRF inside the view, so the
        # API enforces IsAuthenticated itself (DEFAULT_PERMISSION_CLASSES).
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class RequestContextMiddleware:
    """Each request's log lines carry its id (the client's X-Request-ID when it sends a short
    one, so a proxy's id joins the two logs; a new one otherwise, returned in the response) and
    the signed-in user's hash (``core.logcontext``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        import uuid

        from core.logcontext import log_context

        sent = request.headers.get("X-Request-ID", "")
        request_id = sent if sent.isascii() and sent.replace("-", "").isalnum() and len(sent) <= 64 else ""
        request_id = request_id or uuid.uuid4().hex
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        with log_context(request_id=request_id, user_id=user_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
