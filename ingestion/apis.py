"""REST API of ingestion: one class per operation."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.params import AsciiIntegerField, id_param
from core.selectors.roles import user_roles
from core.throttles import SearchRateThrottle, UploadRateThrottle, throttles_with
from ingestion.models import Collection, Document
from ingestion.selectors.collections import collection_list_uploadable, document_get_readable, document_list_readable
from ingestion.selectors.search import SearchMode, SearchTrace, chunk_search
from ingestion.services.documents import document_delete, document_upload


class DocumentOutputSerializer(serializers.ModelSerializer):
    collection = serializers.CharField(source="collection.name")
    status_url = serializers.SerializerMethodField()
    error_detail = serializers.SerializerMethodField(
        help_text="technical details of a failure; empty unless the caller is staff or a document admin"
    )

    class Meta:
        model = Document
        fields = [
            "id", "title", "source_name", "collection", "status", "progress", "error", "error_detail",
            "file_format", "version", "page_count", "chunk_count", "size_bytes", "created_at", "finished_at",
            "status_url",
        ]  # fmt: skip

    def get_error_detail(self, obj: Document) -> str:
        # Exception text can name paths, hosts and library internals: not for every reader.
        request = self.context.get("request")
        roles = user_roles(user=request.user) if request is not None else None
        return obj.error_detail if roles is not None and (roles.is_staff or roles.is_document_admin) else ""

    def get_status_url(self, obj: Document) -> str:
        return reverse("api-document-detail", args=[obj.pk])


class DocumentUploadApi(APIView):
    """Upload one file (multipart) into a collection; processing runs in the background."""

    parser_classes = [MultiPartParser, FormParser]
    throttle_classes = throttles_with(UploadRateThrottle)

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DocumentUploadInput"

        file = serializers.FileField()
        collection = serializers.CharField(help_text="collection id, slug or name")

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DocumentUploadOutput"

        id = serializers.IntegerField()
        status = serializers.CharField()
        status_url = serializers.CharField()
        created = serializers.BooleanField(help_text="false when the same content was already in the collection")

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer, 200: OutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        collection = _uploadable_collection(request, serializer.validated_data["collection"])
        result = document_upload(
            collection=collection, uploaded_file=serializer.validated_data["file"], user=request.user, request=request
        )
        body = {
            "id": result.document.pk,
            "status": result.document.status,
            "status_url": request.build_absolute_uri(reverse("api-document-detail", args=[result.document.pk])),
            "created": result.created,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_202_ACCEPTED if result.created else 200)


def _uploadable_collection(request: Request, ref: str) -> Collection:
    allowed = collection_list_uploadable(user=request.user)
    if ref.lstrip("+-").isdigit():
        # Meant as an id (in any script's digits): it must be a valid one, else 400 with a message.
        collection = allowed.filter(pk=id_param(ref, name="collection")).first()
    else:
        collection = allowed.filter(slug=ref).first() or allowed.filter(name=ref).first()
    if collection is None:
        raise PermissionDenied("you cannot add documents to that collection (or it does not exist)")
    return collection


class DocumentListApi(APIView):
    @extend_schema(responses=DocumentOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        documents = document_list_readable(user=request.user)[:1000]
        return Response(DocumentOutputSerializer(documents, many=True, context={"request": request}).data)


class DocumentDetailApi(APIView):
    @extend_schema(responses=DocumentOutputSerializer)
    def get(self, request: Request, document_id: int) -> Response:
        document = document_get_readable(user=request.user, document_id=document_id)
        if document is None:
            raise NotFound("no such document")
        return Response(DocumentOutputSerializer(document, context={"request": request}).data)


class DocumentDeleteApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, document_id: int) -> Response:
        document = get_object_or_404(
            Document.objects.filter(collection__in=collection_list_uploadable(user=request.user)), pk=document_id
        )
        document_delete(document=document, actor=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChunkSearchApi(APIView):
    """Hybrid retrieval over the collections the caller may read."""

    throttle_classes = throttles_with(SearchRateThrottle)  # each search embeds the query

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ChunkSearchInput"

        q = serializers.CharField(max_length=4000)
        k = AsciiIntegerField(min_value=1, max_value=50, default=8)
        mode = serializers.ChoiceField(choices=[m.value for m in SearchMode], default=SearchMode.HYBRID.value)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RetrievedChunk"

        chunk_id = serializers.IntegerField()
        document_id = serializers.IntegerField()
        title = serializers.CharField()
        source_name = serializers.CharField()
        heading_path = serializers.ListField(child=serializers.CharField())
        page = serializers.IntegerField(allow_null=True)
        text = serializers.CharField()
        score = serializers.FloatField()
        vector_rank = serializers.IntegerField(allow_null=True)
        vector_distance = serializers.FloatField(allow_null=True)
        text_rank = serializers.IntegerField(allow_null=True)
        text_score = serializers.FloatField(allow_null=True)

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        trace = SearchTrace()
        results = chunk_search(
            question=params.validated_data["q"],
            user=request.user,
            k=params.validated_data["k"],
            mode=SearchMode(params.validated_data["mode"]),
            trace=trace,
        )
        data = self.OutputSerializer([r.__dict__ for r in results], many=True).data
        return Response(data, headers={"Server-Timing": f"total;dur={trace.timings_ms.get('total', 0)}"})
