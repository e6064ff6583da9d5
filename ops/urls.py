from django.urls import include, path

from ops.alert_views import AlertHistoryView
from ops.dashboard_views import DashboardDrillView, DashboardView
from ops.views import KillSwitchView, UsageView

app_name = "ops"
urlpatterns = [
    # The monitoring dashboards (issue #15) and the lists behind a chart's bucket.
    path("", DashboardView.as_view(), name="dashboards"),
    path("dashboards/drill/", DashboardDrillView.as_view(), name="dashboard_drill"),
    path("usage/", UsageView.as_view(), name="usage"),
    path("kill-switches/", KillSwitchView.as_view(), name="kill_switches"),
    path("alerts/", AlertHistoryView.as_view(), name="alerts"),
    # Prompt lifecycle pages: the registry, proposals and review (ops/prompt_urls.py), A/B
    # experiments (ops/experiment_urls.py).
    path("prompts/", include("ops.prompt_urls")),
    path("experiments/", include("ops.experiment_urls")),
]
