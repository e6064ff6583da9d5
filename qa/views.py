from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from core.errors import ApplicationError
from core.http import HtmxHttpRequest
from core.params import id_param
from core.selectors.roles import user_roles
from ingestion.selectors.collections import collection_list_readable, document_chunks_readable, document_get_readable
from qa.checks.high_stakes import TOPICS as HIGH_STAKES_TOPICS
from qa.models import Conversation, FeedbackReason, ReviewReason, ReviewState
from qa.presenters import answer_payloads_for_reader
from qa.realtime import answer_dom_ids
from qa.review.export import curated_export_jsonl
from qa.review.feedback import feedback_submit, feedback_triage
from qa.review.queue import review_approve, review_reject
from qa.selectors import (
    answer_get,
    answer_list_for,
    citation_get,
    conversation_get,
    conversation_list,
    feedback_of,
    review_item_get,
    review_queue,
    triage_list,
)
from qa.services.conversations import conversation_delete, conversation_rename


def _after_post(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Where a form goes once its action is done: a plain POST (no JavaScript) is redirected;
    an htmx request is told to navigate (HX-Redirect), so htmx loads the whole page instead of
    swapping the redirected page into the form's target."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _chat_page(request: HttpRequest, conversation: Conversation | None) -> HttpResponse:
    names = list(collection_list_readable(user=request.user).values_list("name", flat=True))
    answers = list(answer_list_for(conversation=conversation)) if conversation else []
    given = feedback_of(user=request.user, answer_ids=[a.pk for a in answers])
    exchanges = [
        {**payload, "feedback": given.get(payload["id"]), "dom": answer_dom_ids(payload["id"])}
        for payload in answer_payloads_for_reader(answers=answers, user=request.user)
    ]
    return render(
        request,
        "qa/chat.html",
        {
            "readable_collections": names,
            "conversations": conversation_list(user=request.user)[:100],
            "conversation": conversation,
            "exchanges": exchanges,
            "max_question_chars": settings.QA_MAX_QUESTION_CHARS,
            "feedback_reasons": FeedbackReason.choices,
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
    def post(self, request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        if conversation is None:
            raise Http404("No such conversation.")
        try:
            conversation_rename(conversation=conversation, title=request.POST.get("title", ""))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return _after_post(request, reverse("qa:conversation", args=[conversation_id]))


class ConversationDeleteView(View):
    def post(self, request: HtmxHttpRequest, conversation_id: int) -> HttpResponse:
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        if conversation is None:
            raise Http404("No such conversation.")
        try:
            conversation_delete(conversation=conversation)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return _after_post(request, reverse("qa:conversation", args=[conversation_id]))
        return _after_post(request, reverse("qa:chat"))


class SourceView(View):
    """A citation's passage highlighted in its document, if the user may still read it."""

    def get(self, request: HttpRequest, answer_id: int, n: int) -> HttpResponse:
        answer = answer_get(user=request.user, answer_id=answer_id)
        citation = citation_get(user=request.user, answer_id=answer_id, n=n)
        if answer is None or citation is None:
            raise Http404("No such source.")
        document = document_get_readable(user=cast(User, request.user), document_id=citation.document_id)
        readable = document is not None
        chunks = document_chunks_readable(user=request.user, document_id=citation.document_id) if readable else []
        found = any(chunk_id == citation.chunk_id for chunk_id, _, _ in chunks)
        original_removed = document is not None and document.original_removed_at is not None
        return render(
            request,
            "qa/source.html",
            {"answer": answer, "citation": citation, "chunks": chunks, "readable": readable, "found": found,
             "original_removed": original_removed},
        )  # fmt: skip


class ReviewerRequiredMixin(UserPassesTestMixin):
    request: HttpRequest

    def test_func(self) -> bool:
        return user_roles(user=self.request.user).is_reviewer


class ReviewQueueView(ReviewerRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        filters = {
            "state": request.GET.get("state", "pending"),
            "topic": request.GET.get("topic", ""),
            "reason": request.GET.get("reason", ""),
            "held": request.GET.get("held", ""),
        }
        items = list(review_queue(user=request.user, **filters)[:200])
        return render(
            request, "qa/review.html",
            {"items": items, "filters": filters, "states": ReviewState.choices[1:], "reasons": ReviewReason.choices,
             "topics": list(HIGH_STAKES_TOPICS), "open_triage": triage_list(user=request.user).count()},
        )  # fmt: skip


class ReviewItemView(ReviewerRequiredMixin, View):
    def get(self, request: HttpRequest, item_id: int) -> HttpResponse:
        item = review_item_get(user=request.user, item_id=item_id)
        if item is None:
            raise Http404("No such review item.")
        # The answer is None once its conversation was deleted: the record shows the kept texts.
        sentences = item.answer.verification.get("sentences", []) if item.answer is not None else []
        return render(request, "qa/review_item.html", {"item": item, "answer": item.answer, "sentences": sentences})

    def post(self, request: HtmxHttpRequest, item_id: int) -> HttpResponse:
        action = request.POST.get("action", "")
        reviewer = cast(User, request.user)
        note = request.POST.get("note", "")
        try:
            if action == "approve":
                review_approve(item_id=item_id, reviewer=reviewer, note=note, request=request)
            elif action == "edit":
                review_approve(
                    item_id=item_id, reviewer=reviewer, text=request.POST.get("text", ""), note=note, request=request
                )
            elif action == "reject":
                review_reject(item_id=item_id, reviewer=reviewer, note=note, request=request)
            else:
                raise ApplicationError("Unknown action.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return _after_post(request, reverse("qa:review-item", args=[item_id]))
        messages.success(request, "Decision recorded; the user's page was updated.")
        return _after_post(request, reverse("qa:review"))


class TriageView(ReviewerRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        state = request.GET.get("state", "open")
        reason = request.GET.get("reason", "")
        return render(
            request, "qa/triage.html",
            {"items": list(triage_list(user=request.user, state=state, reason=reason)[:200]), "state": state,
             "reason": reason, "reasons": FeedbackReason.choices},
        )  # fmt: skip

    def post(self, request: HtmxHttpRequest) -> HttpResponse:
        try:
            feedback_triage(
                feedback_id=id_param(request.POST.get("feedback_id"), name="feedback_id"),
                reviewer=cast(User, request.user),
                state=request.POST.get("state", ""), note=request.POST.get("note", ""),
                withdraw=request.POST.get("withdraw") == "yes", request=request,
            )  # fmt: skip
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return _after_post(request, reverse("qa:triage"))


class CuratedExportView(ReviewerRequiredMixin, View):
    """Curated answers as test cases, in the evaluation set's JSON Lines format."""

    def get(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(curated_export_jsonl(user=request.user), content_type="application/x-ndjson")
        # Built by Django (quoted, or percent-encoded), like every file name Verity sends.
        response["Content-Disposition"] = content_disposition_header(True, "verity-curated-cases.jsonl") or "attachment"
        return response


class FeedbackView(View):
    """Thumbs up/down from the chat page: the feedback fragment for htmx; without JavaScript, the
    conversation page again, at the answer, with the thanks or the error as a message."""

    def post(self, request: HtmxHttpRequest, answer_id: int) -> HttpResponse:
        error = ""
        feedback = None
        try:
            feedback = feedback_submit(
                user=cast(User, request.user), answer_id=answer_id, helpful=request.POST.get("helpful") == "yes",
                reason=request.POST.get("reason", ""), comment=request.POST.get("comment", ""),
            )  # fmt: skip
        except ApplicationError as exc:
            if answer_get(user=request.user, answer_id=answer_id) is None:
                raise Http404("No such answer.") from exc
            error = exc.message
        if not request.htmx:
            answer = answer_get(user=request.user, answer_id=answer_id)
            if answer is None:
                raise Http404("No such answer.")
            if error:
                messages.error(request, error)
            else:
                messages.success(request, "Thanks for the feedback.")
            page = reverse("qa:conversation", args=[answer.conversation_id])
            return redirect(f"{page}#{answer_dom_ids(answer_id).answer}")
        return render(
            request, "qa/_feedback.html",
            {"answer_id": answer_id, "feedback": feedback, "error": error, "reasons": FeedbackReason.choices},
        )  # fmt: skip
