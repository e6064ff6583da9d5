"""REST API of qa: ask (JSON), ask with a stream (server-sent events), conversations."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

from django.db import close_old_connections
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.throttles import QuestionRateThrottle, throttles_with
from qa.pipeline.finish import CRASHED_REASON
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.presenters import answer_payload, answer_payloads_for_reader
from qa.realtime import Event
from qa.selectors import answer_list_for, conversation_get, conversation_list


class AskInputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "AskInput"

    question = serializers.CharField(allow_blank=True, trim_whitespace=False)
    conversation_id = serializers.IntegerField(required=False, allow_null=True)


class CitationSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    document_id = serializers.IntegerField()
    title = serializers.CharField()
    source = serializers.CharField()
    section = serializers.CharField(allow_blank=True)
    page = serializers.IntegerField(allow_null=True)
    quote = serializers.CharField()


class AnswerSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Answer"

    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    question = serializers.CharField()
    status = serializers.ChoiceField(
        # "withheld": the answer drew on documents this reader can no longer read.
        choices=["answered", "declined", "failed", "pending", "streaming", "pending_review", "withheld"]
    )
    answer = serializers.CharField(allow_blank=True)
    decline_reason = serializers.CharField(allow_blank=True)
    citations = CitationSerializer(many=True)
    model = serializers.CharField(allow_blank=True)
    fallback_used = serializers.BooleanField()
    timings_ms = serializers.DictField(child=serializers.FloatField())
    cache_hit = serializers.BooleanField()
    reused = serializers.JSONField(allow_null=True, help_text="origin (cached, precomputed, curated) and question")
    confidence = serializers.JSONField(allow_null=True, help_text="score, level (high/medium/low), reason")
    notice = serializers.CharField(allow_blank=True)
    high_stakes = serializers.ListField(child=serializers.CharField())
    review_state = serializers.CharField(allow_blank=True)
    verification = serializers.JSONField(allow_null=True, help_text="claims, supported, removed, recited, ...")
    route = serializers.JSONField(allow_null=True, help_text="tier, model and the router's reason")
    tokens = serializers.DictField(child=serializers.IntegerField())
    cost = serializers.CharField(help_text="USD, from the model price table")


def _noop(event_type: str, payload: dict[str, Any]) -> None:
    return None


class AskApi(APIView):
    """Ask a question; the answer (or an honest decline) with citations, status and timings."""

    # Throttles run before post(): a refused question is neither recorded nor embedded.
    throttle_classes = throttles_with(QuestionRateThrottle)

    @extend_schema(request=AskInputSerializer, responses={200: AnswerSerializer})
    def post(self, request: Request) -> Response:
        params = AskInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        answer = answer_create(
            user=request.user,
            question=params.validated_data["question"],
            conversation_id=params.validated_data.get("conversation_id"),
        )
        answer = answer_run(answer_id=answer.pk, emit=_noop)
        return Response(AnswerSerializer(answer_payload(answer)).data)


class AskStreamApi(APIView):
    """The same as ask, streamed as server-sent events: status, sources, token..., final."""

    throttle_classes = throttles_with(QuestionRateThrottle)

    @extend_schema(request=AskInputSerializer, responses={200: OpenApiResponse(description="text/event-stream")})
    def post(self, request: Request) -> StreamingHttpResponse:
        params = AskInputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        answer = answer_create(
            user=request.user,
            question=params.validated_data["question"],
            conversation_id=params.validated_data.get("conversation_id"),
        )
        response = StreamingHttpResponse(_events(answer.pk), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


def _events(answer_id: int) -> Iterator[str]:
    """Run the pipeline on a thread and relay its events as they happen."""
    events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()

    def run() -> None:
        try:
            # A failed answer sends its own failure event; this is for a failure that could not
            # even be recorded (the database gone).
            answer_run(answer_id=answer_id, emit=lambda t, p: events.put((t, p)))
        except Exception:  # noqa: BLE001 - the client must get an event, not a hang
            events.put((Event.FAILED, {"message": CRASHED_REASON}))
        finally:
            close_old_connections()
            events.put(None)

    threading.Thread(target=run, daemon=True).start()
    while (item := events.get()) is not None:
        event_type, payload = item
        yield f"event: {event_type}\ndata: {json.dumps(payload, default=str)}\n\n"


class ConversationListApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ConversationSummary"

        id = serializers.IntegerField()
        title = serializers.CharField()
        updated_at = serializers.DateTimeField()

    @extend_schema(operation_id="conversation_list", responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(conversation_list(user=request.user)[:200], many=True).data)


class ConversationDetailApi(APIView):
    @extend_schema(operation_id="conversation_detail", responses=AnswerSerializer(many=True))
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = conversation_get(user=request.user, conversation_id=conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        return Response(
            AnswerSerializer(
                answer_payloads_for_reader(answers=list(answer_list_for(conversation=conversation)), user=request.user),
                many=True,
            ).data
        )
