from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from ingestion.selectors.collections import document_list_readable


class DocumentListView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        documents = document_list_readable(user=request.user)[:500]
        return render(request, "ingestion/documents.html", {"documents": documents})
