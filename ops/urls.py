from django.urls import path

from ops.views import UsageView

app_name = "ops"
urlpatterns = [
    path("usage/", UsageView.as_view(), name="usage"),
]
