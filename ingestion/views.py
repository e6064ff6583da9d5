from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseGone
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from core.errors import ApplicationError
from core.http import HtmxHttpRequest
from core.params import id_param, int_param
from core.selectors.roles import user_roles
from core.services.rate_limits import RateLimited, RateScope, rate_limit_consume
from ingestion.models import Document
from ingestion.selectors.collections import collection_list_uploadable, document_get_readable, document_list_readable
from ingestion.selectors.search import SearchMode, SearchTrace, chunk_search
from ingestion.services.documents import document_delete, documents_upload
from ingestion.services.status import document_status_payload


class DocumentListView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        documents = [document_status_payload(d) for d in document_list_readable(user=request.user)[:500]]
        collections = list(collection_list_uploadable(user=request.user))
        return render(
            request,
            "ingestion/documents.html",
            {
                "documents": documents,
                "collections": collections,
                "can_manage": bool(collections),
                "max_upload_mb": settings.INGESTION_MAX_UPLOAD_BYTES // 1_048_576,
            },
        )


class DocumentUploadView(View):
    """Several files at once into one collection; answers the new rows (htmx) or redirects."""

    def post(self, request: HtmxHttpRequest) -> HttpResponse:
        try:
            collection_id: int | None = id_param(request.POST.get("collection"), name="collection")
        except ApplicationError:
            collection_id = None
        collection = (
            collection_list_uploadable(user=request.user).filter(pk=collection_id).first()
            if collection_id is not None
            else None
        )
        rows: list[Document] = []
        errors: list[str] = []
        status = 200
        retry_after: int | None = None
        files = request.FILES.getlist("files")
        if collection is None:
            errors.append("Choose a collection you may add documents to.")
        elif not files:
            errors.append("Choose at least one file.")
        else:
            try:
                batch = documents_upload(
                    collection=collection, uploaded_files=files, user=cast(User, request.user), request=request
                )
                rows, errors = batch.documents, batch.refused + batch.duplicates
            except RateLimited as exc:
                errors, status, retry_after = [exc.message], 429, exc.retry_after
        if request.htmx:
            payloads = [document_status_payload(d) for d in rows]
            response = render(
                request, "ingestion/_upload_result.html", {"rows": payloads, "errors": errors}, status=status
            )
            if retry_after is not None:
                response["Retry-After"] = str(retry_after)
            return response
        for error in errors:
            messages.error(request, error)
        return redirect("ingestion:documents")


class DocumentDeleteView(View):
    """Removes the row for htmx; without JavaScript, back to the documents page."""

    def post(self, request: HtmxHttpRequest, document_id: int) -> HttpResponse:
        document = get_object_or_404(
            Document.objects.filter(collection__in=collection_list_uploadable(user=request.user)), pk=document_id
        )
        document_delete(document=document, actor=request.user, request=request)
        if request.htmx:
            return HttpResponse("")
        return redirect("ingestion:documents")


class RetrievalTesterView(UserPassesTestMixin, View):
    """Staff see the ranked chunks and each score component for any query."""

    def test_func(self) -> bool:
        return user_roles(user=self.request.user).is_staff

    def get(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("q", "").strip()[:4000]
        mode = request.GET.get("mode", SearchMode.HYBRID.value)
        mode = mode if mode in {m.value for m in SearchMode} else SearchMode.HYBRID.value
        try:
            k = int_param(request.GET.get("k"), name="k", default=10, minimum=1, maximum=50)
        except ApplicationError as exc:
            return HttpResponseBadRequest(exc.message, content_type="text/plain; charset=utf-8")
        if query:
            # The same per-user search budget as /api/search/, before the query is embedded.
            limit = rate_limit_consume(scope=RateScope.SEARCHES, identity=str(request.user.pk))
            if not limit.allowed:
                response = HttpResponse(limit.message, status=429, content_type="text/plain; charset=utf-8")
                response["Retry-After"] = str(limit.retry_after)
                return response
        trace = SearchTrace()
        results = (
            chunk_search(question=query, user=request.user, k=k, mode=SearchMode(mode), trace=trace) if query else []
        )
        return render(
            request,
            "ingestion/retrieval.html",
            {
                "query": query,
                "k": k,
                "mode": mode,
                "modes": [m.value for m in SearchMode],
                "results": results,
                "trace": trace,
            },
        )


class DocumentFileView(View):
    """The original file, for readers of its collection only."""

    def get(self, request: HttpRequest, document_id: int) -> HttpResponse | FileResponse:
        document = document_get_readable(user=request.user, document_id=document_id)
        if document is not None and document.original_removed_at is not None:
            # 410, not 404: the document exists and stays searchable; its file expired.
            return HttpResponseGone("The original file was removed by retention; its passages remain searchable.")
        if document is None or not document.file:
            raise Http404("No such document.")
        content_type = {
            "pdf": "application/pdf",
            "html": "text/plain; charset=utf-8",
            "markdown": "text/plain; charset=utf-8",
            "text": "text/plain; charset=utf-8",
        }.get(document.file_format, "application/octet-stream")
        # HTML is served as text: an uploaded page must never run script on Verity's origin.
        # Django builds Content-Disposition from the uploader-chosen name: quotes escaped, anything
        # else (newlines, non-ASCII) percent-encoded as filename*, so the name cannot break the header.
        response = FileResponse(
            document.file.open("rb"), content_type=content_type, filename=document.source_name.rsplit("/", 1)[-1]
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "sandbox"
        return response
