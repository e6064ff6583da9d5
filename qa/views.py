from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from core.errors import ApplicationError
from core.selectors.roles import user_roles
from ingestion.selectors.collections import collection_list_readable, document_chunks_readable, document_get_readable
from qa.models import Conversation
from qa.selectors import answer_get, answer_list_for, citation_get, conversation_get, conversation_list
from qa.services.answering import answer_payload
from qa.services.conversations import conversation_delete, conversation_rename


def _chat_page(request: HttpRequest, conversation: Conversation | None) -> HttpResponse:
    names = list(collection_list_readable(user=request.user).values_list("name", flat=True))
    exchanges = [answer_payload(a) for a in answer_list_for(conversation=conversation)] if conversation else []
    return render(
        request,
        "qa/chat.html",
        {
            "readable_collections": names,
            "conversations": conversation_list(user=request.user)[:100],
            "conversation": conversation,
            "exchanges": exchanges,
            "max_question_chars": settings.QA_MAX_QUESTION_CHARS,
        },
    )


class ChatView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return _chat_page(request, None)


class ConversationView(View):
    def get(self, request: HttpRequest, conversation_id: int) -> HttpResponse:
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        if conversation is None:
            raise Http404("No such conversation.")
        return _chat_page(request, conversation)


class ConversationRenameView(View):
    def post(self, request: HttpRequest, conversation_id: int) -> HttpResponse:
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        if conversation is None:
            raise Http404("No such conversation.")
        try:
            conversation_rename(conversation=conversation, title=request.POST.get("title", ""))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("qa:conversation", conversation_id)


class ConversationDeleteView(View):
    def post(self, request: HttpRequest, conversation_id: int) -> HttpResponse:
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        if conversation is None:
            raise Http404("No such conversation.")
        conversation_delete(conversation=conversation)
        return redirect("qa:chat")


class SourceView(View):
    """A citation's passage highlighted in its document, if the user may still read it."""

    def get(self, request: HttpRequest, answer_id: int, n: int) -> HttpResponse:
        answer = answer_get(user=request.user, answer_id=answer_id)
        citation = citation_get(user=request.user, answer_id=answer_id, n=n)
        if answer is None or citation is None:
            raise Http404("No such source.")
        readable = document_get_readable(user=cast(User, request.user), document_id=citation.document_id) is not None
        chunks = document_chunks_readable(user=request.user, document_id=citation.document_id) if readable else []
        found = any(chunk_id == citation.chunk_id for chunk_id, _, _ in chunks)
        return render(
            request,
            "qa/source.html",
            {"answer": answer, "citation": citation, "chunks": chunks, "readable": readable, "found": found},
        )


class ReviewQueueView(UserPassesTestMixin, View):
    def test_func(self) -> bool:
        return user_roles(user=self.request.user).is_reviewer

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "qa/review.html", {})
