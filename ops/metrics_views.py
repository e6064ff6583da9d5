"""``/metrics``: the Prometheus exposition of every process's metrics, for a scraper holding the
bearer token (VERITY_METRICS_TOKEN) or a signed-in staff user; 401 without credentials, 403 with
wrong ones."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST

from core.metrics import metrics_exposition
from ops.selectors.metrics import ScrapeTimeCollector, metrics_access


@login_not_required
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    status = metrics_access(request=request)
    if status == 401:
        response = HttpResponse("Send Authorization: Bearer <VERITY_METRICS_TOKEN>.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if status == 403:
        return HttpResponse("Forbidden.\n", status=403)
    return HttpResponse(metrics_exposition(collectors=[ScrapeTimeCollector()]), content_type=CONTENT_TYPE_LATEST)
