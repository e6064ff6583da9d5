from django.urls import path

from ingestion.apis import ChunkSearchApi, DocumentDeleteApi, DocumentDetailApi, DocumentListApi, DocumentUploadApi

urlpatterns = [
    path("documents/", DocumentListApi.as_view(), name="api-document-list"),
    path("documents/upload/", DocumentUploadApi.as_view(), name="api-document-upload"),
    path("documents/<int:document_id>/", DocumentDetailApi.as_view(), name="api-document-detail"),
    path("documents/<int:document_id>/delete/", DocumentDeleteApi.as_view(), name="api-document-delete"),
    path("search/", ChunkSearchApi.as_view(), name="api-search"),
]
