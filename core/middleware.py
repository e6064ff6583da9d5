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
