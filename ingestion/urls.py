from django.urls import path

from ingestion.views import (
    DocumentDeleteView,
    DocumentFileView,
    DocumentListView,
    DocumentUploadView,
    RetrievalTesterView,
)

app_name = "ingestion"
urlpatterns = [
    path("", DocumentListView.as_view(), name="documents"),
    path("upload/", DocumentUploadView.as_view(), name="upload"),
    path("<int:document_id>/delete/", DocumentDeleteView.as_view(), name="delete"),
    path("<int:document_id>/file/", DocumentFileView.as_view(), name="file"),
    path("retrieval/", RetrievalTesterView.as_view(), name="retrieval"),
]
