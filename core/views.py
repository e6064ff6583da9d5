from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views import View
from django.views.decorators.cache import never_cache

from core.selectors.health import readiness_check


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
    readiness = readiness_check()
    body = {
        "status": "ok" if readiness.ok else "unavailable",
        "failing": readiness.failing,
        "components": {c.name: c.as_dict() for c in readiness.components},
    }
    return JsonResponse(body, status=200 if readiness.ok else 503)
