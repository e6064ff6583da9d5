"""URLs of the A/B experiment pages (``/ops/experiments/``), in the ``ops`` namespace."""

from django.urls import URLPattern, path

from ops.experiment_views import (
    ExperimentCreateView,
    ExperimentDetailView,
    ExperimentListView,
    ExperimentPromoteView,
    ExperimentStopView,
)

urlpatterns: list[URLPattern] = [
    path("", ExperimentListView.as_view(), name="experiment_list"),
    path("new/", ExperimentCreateView.as_view(), name="experiment_create"),
    path("<int:experiment_id>/", ExperimentDetailView.as_view(), name="experiment_detail"),
    path("<int:experiment_id>/stop/", ExperimentStopView.as_view(), name="experiment_stop"),
    path("<int:experiment_id>/promote/", ExperimentPromoteView.as_view(), name="experiment_promote"),
]
