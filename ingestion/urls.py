from django.urls import path

from ingestion.views import DocumentListView

app_name = "ingestion"
urlpatterns = [
    path("", DocumentListView.as_view(), name="documents"),
]
