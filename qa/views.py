from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from core.selectors.roles import user_roles
from ingestion.selectors.collections import collection_list_readable


class ChatView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        names = list(collection_list_readable(user=request.user).values_list("name", flat=True))
        return render(request, "qa/chat.html", {"readable_collections": names})


class ReviewQueueView(UserPassesTestMixin, View):
    def test_func(self) -> bool:
        return user_roles(user=self.request.user).is_reviewer

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "qa/review.html", {})
