"""Retention (issue #14, point 4): exactly what outlived its data class's period is deleted or
anonymised, per kind and class; nothing under a collection's or a user's legal hold; a dry run
changes nothing and counts the same; a real run leaves one audit event; the command, the
nightly beat entry, the legal hold services and their admin actions."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from core.errors import ApplicationError
from core.models import AuditAction, AuditEvent, UserLegalHold
from core.services.audit import audit_record, audit_verify
from core.services.legal_holds import user_legal_hold_release, user_legal_hold_set
from ingestion.models import Chunk, Collection, Document, DocumentStatus
from ingestion.services.documents import document_create_from_bytes
from ingestion.services.retention import collection_legal_hold_release, collection_legal_hold_set
from qa.models import Answer, CacheLookup, Citation, Conversation, Feedback, Interaction, ReviewItem
from qa.services.retention import EMPTY_CONVERSATIONS, retention_run
from tests.factories import collection_create, user_create

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _age(model: type, pk: int, days: float, *fields: str) -> None:
    when = NOW - timedelta(days=days)
    model.objects.filter(pk=pk).update(**dict.fromkeys(fields or ("created_at",), when))


def _answer(user, *, data_class: str = "internal", days: float, searched: tuple[int, ...] = (), cites=None) -> Answer:
    conversation = Conversation.objects.create(user=user, title="q")
    answer = Answer.objects.create(conversation=conversation, question=f"question {data_class} {days}",
                                   status="answered", text="answer", data_class=data_class,
                                   searched={"collection_ids": list(searched)})  # fmt: skip
    if cites is not None:
        Citation.objects.create(answer=answer, n=1, chunk_id=1, document_id=cites.pk, title="d", source_name="d",
                                quote="passage")  # fmt: skip
    _age(Answer, answer.pk, days)
    _age(Conversation, conversation.pk, days, "created_at", "updated_at")
    return answer


def _interaction(answer: Answer | None, *, data_class: str = "internal", days: float) -> Interaction:
    interaction = Interaction.objects.create(answer=answer, provider="p", model="m", data_class=data_class,
                                             prompt={"messages": [{"role": "user", "content": "secret"}]},
                                             response="said", tokens_in=11, tokens_out=7, cost=Decimal("0.25"))  # fmt: skip
    _age(Interaction, interaction.pk, days)
    return interaction


def _lookup(answer: Answer | None, *, days: float) -> CacheLookup:
    lookup = CacheLookup.objects.create(answer=answer, hit=False, reason="miss")
    _age(CacheLookup, lookup.pk, days)
    return lookup


def _feedback(answer: Answer, user, *, days: float) -> Feedback:
    feedback = Feedback.objects.create(answer=answer, user=user, helpful=False, comment="wrong")
    _age(Feedback, feedback.pk, days)
    return feedback


def _document(collection: Collection, *, days: float, name: str = "notes.md") -> Document:
    document = document_create_from_bytes(collection=collection, data=f"# {name}\n\nSome text.".encode(),
                                          source_name=name, enqueue=False).document  # fmt: skip
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.READY, created_at=NOW - timedelta(days=days))
    document.refresh_from_db()
    return document


def _exists(obj) -> bool:
    return type(obj).objects.filter(pk=obj.pk).exists()


# --------------------------------------------------------------------------- what expired, per kind and class


def test_exactly_what_expired_is_deleted_or_anonymised_per_kind_and_class() -> None:
    # Defaults (core.data_classes): answers 365/180/90 days (internal/confidential/restricted);
    # interaction texts, cache lookups 90/30/30; feedback 365/180/90.
    alice = user_create(username="alice")
    old_internal = _answer(alice, days=366)
    young_internal = _answer(alice, days=364)
    old_confidential = _answer(alice, data_class="confidential", days=181)
    young_confidential = _answer(alice, data_class="confidential", days=179)
    old_restricted = _answer(alice, data_class="restricted", days=91)
    review = ReviewItem.objects.create(answer=old_internal, question_text=old_internal.question,
                                       answer_text="answer", reason="high_stakes")  # fmt: skip
    # A second answer in the young answer's conversation keeps that conversation.
    Answer.objects.filter(pk=old_confidential.pk).update(conversation=young_internal.conversation)

    purged = _interaction(young_internal, days=91)
    kept_text = _interaction(young_internal, days=89)
    purged_confidential = _interaction(young_confidential, data_class="confidential", days=31)
    orphan_purged = _interaction(None, data_class="restricted", days=31)

    old_lookup, young_lookup, orphan_lookup = (_lookup(young_internal, days=91), _lookup(young_internal, days=89),
                                               _lookup(None, days=91))  # fmt: skip
    old_feedback = _feedback(young_internal, alice, days=366)
    young_feedback = _feedback(young_confidential, alice, days=100)

    report = retention_run(now=NOW, dry_run=False)

    assert not _exists(old_internal) and not _exists(old_confidential) and not _exists(old_restricted)
    assert _exists(young_internal) and _exists(young_confidential)
    assert report.done["conversations"] == {"internal": 1, "confidential": 1, "restricted": 1}
    # The review record keeps what it judged; the answer link is gone and dated.
    review.refresh_from_db()
    assert review.answer_id is None and review.answer_deleted_at is not None
    assert (review.question_text, review.answer_text) == (old_internal.question, "answer")
    # Conversations left without answers go; the one with a kept answer stays.
    assert not Conversation.objects.filter(
        pk__in=[old_internal.conversation_id, old_restricted.conversation_id]
    ).exists()
    assert _exists(young_internal.conversation) and report.done[EMPTY_CONVERSATIONS] == {"-": 3}

    for interaction in (purged, purged_confidential, orphan_purged):
        interaction.refresh_from_db()
        assert (interaction.prompt, interaction.response) == ({}, "") and interaction.texts_purged_at is not None
        assert (interaction.tokens_in, interaction.tokens_out, interaction.cost) == (11, 7, Decimal("0.25"))
    kept_text.refresh_from_db()
    assert kept_text.response == "said" and kept_text.texts_purged_at is None
    assert report.done["interaction_texts"] == {"internal": 1, "confidential": 1, "restricted": 1}

    assert not _exists(old_lookup) and not _exists(orphan_lookup) and _exists(young_lookup)
    assert report.done["cache_lookups"] == {"internal": 2}
    assert not _exists(old_feedback) and _exists(young_feedback)
    assert report.done["feedback"] == {"internal": 1}
    assert "original_files" not in report.done  # no class has a period for them by default

    # Idempotent: a second run finds nothing more.
    again = retention_run(now=NOW, dry_run=False)
    assert {k: v for k, v in again.done.items() if k != "audit_events"} == {}


def test_a_period_of_none_keeps_that_kind_forever(settings) -> None:
    settings.VERITY_DATA_CLASSES = {"internal": {"retention": {"conversations": None, "interaction_texts": 10}}}
    alice = user_create()
    ancient = _answer(alice, days=5000)
    interaction = _interaction(ancient, days=11)
    report = retention_run(now=NOW, dry_run=False)
    assert _exists(ancient) and "conversations" not in report.done
    interaction.refresh_from_db()
    assert interaction.texts_purged_at is not None and report.done["interaction_texts"] == {"internal": 1}


def test_original_files_go_after_their_period_and_the_document_says_so(
    settings, django_capture_on_commit_callbacks
) -> None:
    settings.VERITY_DATA_CLASSES = {"internal": {"retention": {"original_files": 30}}}
    reader = user_create(groups=("team",))
    team = collection_create(name="Team", groups=("team",))
    old, young = _document(team, days=31, name="old.md"), _document(team, days=29, name="young.md")
    Chunk.objects.create(document=old, collection=team, ordinal=0, text="Some text.", embedding=[0.0] * 384)
    name = old.file.name
    assert default_storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True):
        report = retention_run(now=NOW, dry_run=False)

    old.refresh_from_db()
    assert old.original_removed_at is not None and not old.file and not default_storage.exists(name)
    assert Chunk.objects.filter(document=old).count() == 1  # still searchable
    young.refresh_from_db()
    assert young.file and default_storage.exists(young.file.name)
    assert report.done["original_files"] == {"internal": 1}

    client = Client()
    client.force_login(reader)
    response = client.get(f"/documents/{old.pk}/file/")
    assert response.status_code == 410 and b"removed by retention" in response.content
    answer = _answer(reader, days=1, cites=old)
    page = client.get(f"/chat/a/{answer.pk}/source/1/")
    assert page.status_code == 200 and b"Original file removed by retention" in page.content


# --------------------------------------------------------------------------- legal hold


def test_nothing_of_a_collection_on_legal_hold_is_deleted_or_anonymised(settings) -> None:
    settings.VERITY_DATA_CLASSES = {"internal": {"retention": {"original_files": 30}}}
    admin = user_create(username="root", superuser=True)
    alice = user_create()
    held, free = collection_create(name="Litigation"), collection_create(name="Free")
    held_document = _document(held, days=400, name="contract.md")
    searched_held = _answer(alice, days=400, searched=(held.pk,))
    cites_held = _answer(alice, days=400, searched=(free.pk,), cites=held_document)
    free_answer = _answer(alice, days=400, searched=(free.pk,))
    held_interaction = _interaction(cites_held, days=400)
    held_lookup = _lookup(searched_held, days=400)
    held_feedback = _feedback(searched_held, alice, days=400)
    collection_legal_hold_set(collection=held, reason="Case 2026-17", actor=admin)

    report = retention_run(now=NOW, dry_run=False)

    assert _exists(searched_held) and _exists(cites_held) and not _exists(free_answer)
    held_interaction.refresh_from_db()
    assert held_interaction.texts_purged_at is None and held_interaction.response == "said"
    assert _exists(held_lookup) and _exists(held_feedback)
    held_document.refresh_from_db()
    assert held_document.file and held_document.original_removed_at is None
    assert report.held == {"conversations": 2, "interaction_texts": 1, "cache_lookups": 1, "feedback": 1,
                           "original_files": 1}  # fmt: skip

    # Released: the next run applies the periods again.
    assert collection_legal_hold_release(collection=held, actor=admin)
    retention_run(now=NOW, dry_run=False)
    assert not _exists(searched_held) and not _exists(cites_held)


def test_nothing_of_a_user_on_legal_hold_is_deleted_or_anonymised() -> None:
    admin = user_create(username="root", superuser=True)
    alice, bob = user_create(username="alice"), user_create(username="bob")
    alices, bobs = _answer(alice, days=400), _answer(bob, days=400)
    interaction = _interaction(alices, days=400)
    bobs_feedback_on_alices = _feedback(alices, bob, days=400)
    alices_feedback_on_bobs = _feedback(bobs, alice, days=400)
    empty = Conversation.objects.create(user=alice)
    _age(Conversation, empty.pk, 400, "created_at", "updated_at")
    user_legal_hold_set(user=alice, reason="HR investigation", actor=admin)

    retention_run(now=NOW, dry_run=False)

    assert _exists(alices) and _exists(empty) and not _exists(bobs)
    interaction.refresh_from_db()
    assert interaction.texts_purged_at is None
    assert _exists(bobs_feedback_on_alices)  # it is about the held user's answer
    assert not _exists(alices_feedback_on_bobs)  # went with bob's answer (not hers to hold)


# --------------------------------------------------------------------------- dry run, audit, command, beat


def _mixed_expired_records() -> None:
    alice = user_create()
    old = _answer(alice, days=400)
    _answer(alice, data_class="confidential", days=200)
    _interaction(_answer(alice, days=100), days=100)
    _lookup(None, days=100)
    _feedback(_answer(alice, days=300), alice, days=370)
    held_user = user_create()
    _answer(held_user, days=400)
    UserLegalHold.objects.create(user=held_user, reason="hold")
    assert old.pk


def test_a_dry_run_changes_nothing_and_counts_what_the_real_run_then_does() -> None:
    _mixed_expired_records()
    counts = {model: model.objects.count() for model in (Answer, Conversation, Feedback, CacheLookup)}
    events = AuditEvent.objects.count()

    dry = retention_run(now=NOW, dry_run=True)

    assert {model: model.objects.count() for model in counts} == counts
    assert not Interaction.objects.filter(texts_purged_at__isnull=False).exists()
    assert AuditEvent.objects.count() == events  # a dry run records nothing
    real = retention_run(now=NOW, dry_run=False)
    assert dry.done == real.done and dry.held == real.held
    assert real.done["conversations"] == {"internal": 1, "confidential": 1}
    assert real.held == {"conversations": 1}


def test_a_real_run_writes_one_audit_event_with_the_counts() -> None:
    _mixed_expired_records()
    report = retention_run(now=NOW, dry_run=False)
    [event] = AuditEvent.objects.filter(action=AuditAction.RETENTION_RUN)
    assert event.actor_name == "system" and event.detail["done"]["conversations"] == report.done["conversations"]
    assert event.detail["held"] == {"conversations": 1}
    assert audit_verify().ok


def test_audit_events_older_than_their_period_go_and_the_trail_still_verifies(settings) -> None:
    settings.RETENTION_AUDIT_DAYS = 30
    for n in range(4):
        audit_record(action=AuditAction.DOCUMENT_DELETED, actor=None, target_type="document", target_id=n)
    later = timezone.now() + timedelta(days=31)
    assert retention_run(now=later, dry_run=True).done["audit_events"] == {"all": 3}  # the newest row stays
    report = retention_run(now=later, dry_run=False, batch_size=2)
    assert report.done["audit_events"] == {"all": 3}
    run = AuditEvent.objects.get(action=AuditAction.RETENTION_RUN)
    assert run.detail["audit_cut"]["seq"] == 3 and list(AuditEvent.objects.values_list("seq", flat=True)) == [5, 4]
    verified = audit_verify()
    assert verified.ok and verified.start_seq == 4


def test_the_command_lists_what_would_go_and_what_went() -> None:
    _mixed_expired_records()
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "retention dry run" in text and "would go" in text
    assert any(line.split()[:3] == ["conversations", "confidential", "1"] for line in text.splitlines())
    assert "(legal hold)" in text
    assert Answer.objects.count() == 5
    out = io.StringIO()
    call_command("retention", stdout=out)
    assert "done" in out.getvalue() and Answer.objects.count() == 3


def test_the_nightly_beat_entry_runs_the_retention_task() -> None:
    from qa.tasks import retention_run as task

    entry = settings.CELERY_BEAT_SCHEDULE["qa-retention-run"]
    assert entry["task"] == task.name == "qa.retention_run"
    result = task.apply().get()
    assert result == {"done": {}, "held": {}}


# --------------------------------------------------------------------------- legal hold services and admin


def test_legal_holds_are_audited_and_need_a_reason() -> None:
    admin = user_create(username="root", superuser=True)
    alice = user_create(username="alice")
    collection = collection_create(name="Litigation")
    with pytest.raises(ApplicationError, match="reason"):
        collection_legal_hold_set(collection=collection, reason="  ", actor=admin)
    with pytest.raises(ApplicationError, match="reason"):
        user_legal_hold_set(user=alice, reason="", actor=admin)
    collection_legal_hold_set(collection=collection, reason="Case 17", actor=admin)
    user_legal_hold_set(user=alice, reason="HR", actor=admin)
    assert UserLegalHold.objects.get(user=alice).set_by_name == "root"
    assert user_legal_hold_release(user_id=alice.pk, actor=admin)
    assert not user_legal_hold_release(user_id=alice.pk, actor=admin)  # nothing to release: no event
    events = list(AuditEvent.objects.order_by("seq").values_list("action", "target_type", "after"))
    assert events == [
        (AuditAction.LEGAL_HOLD_SET, "collection", {"legal_hold": True, "reason": "Case 17"}),
        (AuditAction.LEGAL_HOLD_SET, "user", {"legal_hold": True, "reason": "HR"}),
        (AuditAction.LEGAL_HOLD_RELEASED, "user", {"legal_hold": False}),
    ]


def test_the_admin_sets_and_releases_legal_holds_through_the_services() -> None:
    admin = user_create(username="root", superuser=True)
    alice = user_create(username="alice")
    collection = collection_create(name="Litigation")
    client = Client()
    client.force_login(admin)
    changelist = "/admin/ingestion/collection/"
    response = client.post(changelist, {"action": "legal_hold_set", "_selected_action": [collection.pk],
                                        "reason": "Case 17"})  # fmt: skip
    assert response.status_code == 302
    collection.refresh_from_db()
    assert collection.legal_hold and collection.legal_hold_reason == "Case 17"
    client.post(changelist, {"action": "legal_hold_release", "_selected_action": [collection.pk], "reason": ""})
    collection.refresh_from_db()
    assert not collection.legal_hold

    response = client.post("/admin/core/userlegalhold/add/", {"user": alice.pk, "reason": "HR"})
    assert response.status_code == 302
    hold = UserLegalHold.objects.get(user=alice)
    client.post(f"/admin/core/userlegalhold/{hold.pk}/delete/", {"post": "yes"})
    assert not UserLegalHold.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="privacy.legal_hold")
        .order_by("seq")
        .values_list("action", "actor_id")
    )
    assert actions == [
        (AuditAction.LEGAL_HOLD_SET, admin.pk), (AuditAction.LEGAL_HOLD_RELEASED, admin.pk),
        (AuditAction.LEGAL_HOLD_SET, admin.pk), (AuditAction.LEGAL_HOLD_RELEASED, admin.pk),
    ]  # fmt: skip


def test_a_change_of_data_class_in_the_admin_is_audited_as_such() -> None:
    admin = user_create(username="root", superuser=True)
    collection = collection_create(name="Board")
    client = Client()
    client.force_login(admin)
    form = {
        "name": collection.name, "slug": collection.slug, "description": "", "classification": "confidential",
        "high_stakes_topics": "[]", "high_stakes_policy": collection.high_stakes_policy,
        "unsupported_policy": collection.unsupported_policy, "confidence_high": collection.confidence_high,
        "confidence_medium": collection.confidence_medium, "confidence_floor": collection.confidence_floor,
    }  # fmt: skip
    response = client.post(f"/admin/ingestion/collection/{collection.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:1000]
    event = AuditEvent.objects.get(action=AuditAction.COLLECTION_DATA_CLASS_CHANGED)
    assert (event.before, event.after, event.actor_id) == ({"data_class": "internal"}, {"data_class": "confidential"},
                                                           admin.pk)  # fmt: skip
