"""Export and erasure of everything Verity holds about one person (the rights of access and
erasure, issue #14 point 5). qa assembles both because it holds most of it and may import the
other apps: each app's own part is in its ``person_data`` module (core: account, sign-ins,
admin log, audit trail; ingestion: documents uploaded; prompts: proposals and events).

What erasure does, in one transaction (all or nothing):
- deleted: the person's conversations, answers, citations, feedback (theirs, and others' on
  their answers), the model interactions and cache lookups of their answers, usage counters and
  budget alerts keyed by them, sessions and sign-in records, and the account row itself;
- deleted as copies of their words: cached and precomputed answers built from their questions
  (from one of their answers, or stored under one of their questions), and the precompute
  account's answers (with their conversations and model calls) that replayed one of them;
- anonymised: reviewer-curated answers made from their questions are withdrawn and their
  question replaced by a tombstone (the reviewer's decision stays on record); review records
  about their answers keep their decision, with the texts replaced by the tombstone; lookups
  that logged one of the deleted entries lose their reason; the admin log's and feedback's
  mentions of them; the audit trail names them by a pseudonym (``audit_redact_person``), after
  one PERSON_ERASED event that records who erased and the counts, with no name or id;
- unlinked (the record is the team's, not theirs): documents they uploaded, prompt proposals
  they wrote or reviewed, experiments they started;
- kept and reported: prompt lifecycle events and versions that carry their name (append-only
  in the database by design, see ``prompts.services.person_data``).

Refused while the person is under a legal hold (core.UserLegalHold)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q

from core.errors import ApplicationError
from core.models import AuditAction
from core.services.audit import AuditRequest, audit_record, audit_redact_person
from core.services.person_data import core_person_erase, core_person_export, legal_hold_of
from ingestion.services.person_data import ingestion_person_erase, ingestion_person_export
from prompts.services.person_data import prompts_person_erase, prompts_person_export
from qa.models import (
    Answer,
    BudgetAlert,
    CacheLookup,
    Conversation,
    Feedback,
    KillSwitch,
    ReusableAnswer,
    ReuseOrigin,
    ReviewAction,
    ReviewItem,
    UsageCounter,
)
from qa.reuse.cache import question_normalise
from qa.reuse.precompute import SYSTEM_USERNAME
from qa.services.conversations import answer_traces_delete

ERASED_TEXT = "[erased at the person's request]"
# A curated answer's vector was computed from the person's question (vectors can be inverted to
# approximate text): it gets a fixed unit vector instead. Unit, not zero: cosine distance to a
# zero vector is undefined for the index. The entry is withdrawn, so it is never matched anyway.
_NEUTRAL_EMBEDDING = [1.0] + [0.0] * 383

Actor = AbstractBaseUser | AnonymousUser | None


class PersonOnLegalHold(ApplicationError):
    """Erasure refused: a legal hold keeps everything of this person."""


@dataclass(frozen=True)
class ErasureReport:
    pseudonym: str  # how the audit trail names the person from now on
    audit_seq: int  # the PERSON_ERASED event
    counts: dict[str, int] = field(default_factory=dict)  # rows deleted, anonymised or unlinked, by kind
    kept: dict[str, int] = field(default_factory=dict)  # rows that still name them (append-only), by table


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _answer_export(answer: Answer) -> dict[str, Any]:
    review = getattr(answer, "review", None)
    return {
        "id": answer.pk, "created_at": answer.created_at, "question": answer.question,
        "standalone_question": answer.standalone_question, "status": answer.status, "text": answer.text,
        "decline_reason": answer.decline_reason, "notice": answer.notice, "model": answer.model,
        "confidence": answer.confidence, "confidence_level": answer.confidence_level,
        "review_state": answer.review_state, "data_class": answer.data_class, "cost": answer.cost,
        "tokens": {"in": answer.tokens_in, "out": answer.tokens_out},
        "citations": [
            {"n": c.n, "title": c.title, "source_name": c.source_name, "section": c.section, "page": c.page,
             "quote": c.quote}
            for c in answer.citations.all()
        ],
        "interactions": [
            {"id": i.pk, "created_at": i.created_at, "provider": i.provider, "model": i.model,
             "prompt_key": i.prompt_key, "prompt": i.prompt, "response": i.response, "outcome": i.outcome,
             "tokens": {"in": i.tokens_in, "out": i.tokens_out}, "pii_scrubbed": i.pii_scrubbed,
             "texts_purged_at": i.texts_purged_at}
            for i in answer.interactions.all()
        ],
        "review": {
            "reason": review.reason, "topics": review.topics, "state": review.state, "note": review.note,
            "decided_at": review.decided_at, "question_text": review.question_text,
            "answer_text": review.answer_text,
        } if review is not None else None,
    }  # fmt: skip


def person_export(*, user: User, actor: Actor = None, request: AuditRequest | None = None) -> dict[str, Any]:
    """Everything Verity holds about ``user`` as one JSON-serialisable dict: the account, legal
    hold and audit events about or by them (core), their conversations with each answer's
    citations, model interactions and review record, their feedback, usage counters, documents
    they uploaded, prompt work. Records a PERSON_EXPORTED audit event (``actor``: who asked;
    None is "system", an operator at the console)."""
    answers = (
        Answer.objects.filter(conversation__user=user)
        .select_related("review")
        .prefetch_related("citations", "interactions")
        .order_by("created_at")
    )
    by_conversation: dict[int, list[dict[str, Any]]] = {}
    for answer in answers:
        by_conversation.setdefault(answer.conversation_id, []).append(_answer_export(answer))
    conversations = [
        {"id": c.pk, "title": c.title, "created_at": c.created_at, "answers": by_conversation.get(c.pk, [])}
        for c in Conversation.objects.filter(user=user).order_by("created_at")
    ]
    feedback = [
        {"answer_id": f.answer_id, "created_at": f.created_at, "helpful": f.helpful, "reason": f.reason,
         "comment": f.comment, "triage_state": f.triage_state}
        for f in Feedback.objects.filter(user=user).order_by("created_at")
    ]  # fmt: skip
    usage = [
        {"scope": u.scope, "questions": u.questions, "tokens": u.tokens, "cost": u.cost}
        for u in UsageCounter.objects.filter(scope__startswith=f"user:{user.pk}:").order_by("scope")
    ]
    data = {
        **core_person_export(user=user),
        "conversations": conversations,
        "feedback": feedback,
        "usage": usage,
        **ingestion_person_export(user=user),
        **prompts_person_export(user=user),
    }
    with transaction.atomic():
        audit_record(
            action=AuditAction.PERSON_EXPORTED, actor=actor, target_type="user",
            target_id=user.pk, detail={"conversations": len(conversations), "feedback": len(feedback)},
            request=request,
        )  # fmt: skip
    return _jsonable(data)


def _questions_of(answer_ids: list[int]) -> set[str]:
    """Every form in which the person's questions are stored elsewhere: as asked, as the
    standalone question retrieval used, and normalised (the cache's and precompute's key)."""
    forms: set[str] = set()
    for question, standalone in Answer.objects.filter(pk__in=answer_ids).values_list("question", "standalone_question"):
        for text in (question, standalone):
            if text:
                forms |= {text, question_normalise(text)}
    return forms


def _admin_log_forget(*, models: list[type], ids: dict[type, list[int]]) -> int:
    """The admin's change log names each object by its ``str()``: an answer's is its question."""
    changed = 0
    for model in models:
        if ids.get(model):
            changed += LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_id__in=[str(i) for i in ids[model]]
            ).update(object_repr=ERASED_TEXT, change_message="")
    return changed


@transaction.atomic
def person_erase(*, user: User, actor: Actor, request: AuditRequest | None = None) -> ErasureReport:
    """Remove or anonymise everything Verity holds about ``user`` (module docstring), then the
    account itself, in one transaction. Raises PersonOnLegalHold when a legal hold is set."""
    # The row lock orders this against a legal hold being set at the same moment.
    user = User.objects.select_for_update().get(pk=user.pk)
    if legal_hold_of(user=user) is not None:
        raise PersonOnLegalHold(
            f"{user.get_username()} is under a legal hold: nothing of theirs may be erased until it is released."
        )
    pseudonym = f"erased-user-{secrets.token_hex(4)}"
    counts: dict[str, int] = {}
    own_ids = list(Answer.objects.filter(conversation__user=user).values_list("pk", flat=True))
    questions = _questions_of(own_ids)
    # The precompute account's replays of one of their questions are copies of their words.
    replay_ids = list(
        Answer.objects.filter(conversation__user__username=SYSTEM_USERNAME)
        .filter(Q(question__in=questions) | Q(standalone_question__in=questions))
        .values_list("pk", flat=True)
    )
    answer_ids = own_ids + replay_ids
    derived = ReusableAnswer.objects.filter(Q(source_answer_id__in=answer_ids) | Q(question__in=questions))

    # By answer, and by asker for records whose answer was deleted before (conversation deleted,
    # retention): their texts are still the person's words.
    reviews = ReviewItem.objects.filter(Q(answer_id__in=answer_ids) | Q(asked_by=user))
    review_ids = list(reviews.values_list("pk", flat=True))
    counts["review_items_anonymised"] = ReviewItem.objects.filter(pk__in=review_ids).update(
        question_text=ERASED_TEXT, answer_text=ERASED_TEXT
    )
    ReviewAction.objects.filter(item_id__in=review_ids).update(text_before=ERASED_TEXT, text_after=ERASED_TEXT)
    # An operator's name on a kill switch they last changed.
    KillSwitch.objects.filter(changed_by_name=user.get_username()).update(changed_by_name=pseudonym)
    counts["curated_answers_withdrawn"] = derived.filter(origin=ReuseOrigin.CURATED).update(
        question=ERASED_TEXT,
        embedding=_NEUTRAL_EMBEDDING,
        active=False,
        invalidated_reason="erased at a person's request",
    )
    copies = derived.exclude(origin=ReuseOrigin.CURATED)
    counts["lookups_anonymised"] = CacheLookup.objects.filter(entry__in=copies).update(reason="")
    counts["cached_answers_deleted"], _ = copies.delete()
    ReusableAnswer.objects.filter(invalidated_reason=f"marked incorrect by user {user.pk}").update(
        invalidated_reason="marked incorrect by a user"
    )
    feedback_ids = list(
        Feedback.objects.filter(Q(user=user) | Q(answer_id__in=answer_ids)).values_list("pk", flat=True)
    )
    conversation_ids = list(Answer.objects.filter(pk__in=answer_ids).values_list("conversation_id", flat=True))
    counts["admin_log_entries_anonymised"] = _admin_log_forget(
        models=[Answer, Conversation, Feedback, ReviewItem],
        ids={Answer: answer_ids, Conversation: conversation_ids, Feedback: feedback_ids,
             ReviewItem: review_ids},
    )  # fmt: skip
    traces = answer_traces_delete(answer_ids=answer_ids)
    counts["interactions_deleted"] = traces["interactions"]
    counts["cache_lookups_deleted"] = traces["cache_lookups"]
    counts["feedback_deleted"], _ = Feedback.objects.filter(pk__in=feedback_ids).delete()
    counts["answers_deleted"] = len(answer_ids)
    counts["replayed_answers_deleted"] = len(replay_ids)
    Answer.objects.filter(pk__in=replay_ids).delete()
    counts["conversations_deleted"], _ = Conversation.objects.filter(
        Q(user=user) | Q(pk__in=conversation_ids, answers__isnull=True)
    ).delete()
    counts["usage_counters_deleted"], _ = UsageCounter.objects.filter(scope__startswith=f"user:{user.pk}:").delete()
    BudgetAlert.objects.filter(scope__startswith=f"user:{user.pk}:").delete()
    counts.update(ingestion_person_erase(user=user))
    unlinked, kept = prompts_person_erase(user=user)
    counts.update(unlinked)
    counts.update(core_person_erase(user=user, replacement=pseudonym))
    # Recorded before the redaction (which must name the erasure's event), with no name or id:
    # the pseudonym is the only handle left, in the trail and in the report.
    event = audit_record(
        action=AuditAction.PERSON_ERASED, actor=actor, target_type="user", target_id=pseudonym,
        detail={"counts": counts, "kept": kept}, request=request,
    )  # fmt: skip
    counts["audit_events_anonymised"] = audit_redact_person(
        user_id=user.pk, username=user.get_username(), replacement=pseudonym, erasure_seq=event.seq
    )
    user.delete()
    return ErasureReport(pseudonym=pseudonym, audit_seq=event.seq, counts=counts, kept=kept)
