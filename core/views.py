from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views import View
from django.views.decorators.cache import never_cache

from core.selectors.health import readiness_as_dict, readiness_check, readiness_details_allowed

# The header a monitoring system sends VERITY_READYZ_TOKEN in (Django's META name).
READYZ_TOKEN_HEADER = "HTTP_X_READYZ_TOKEN"  # noqa: S105 - a header name, not a secret


class HomeView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect("qa:chat")


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and serving requests; touches no dependency."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """200 or 503 with up/down per component; details for staff or the X-Readyz-Token header."""
    detailed = readiness_details_allowed(user=request.user, presented_token=request.META.get(READYZ_TOKEN_HEADER))
    readiness = readiness_check()
    body = readiness_as_dict(readiness, detailed=detailed)
    return JsonResponse(body, status=200 if readiness.ok else 503)
