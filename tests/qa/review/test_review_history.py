"""Review history survives the deletion of the conversation it concerns: the record keeps the
texts it judged, its actions stay, the pages and the admin show "conversation deleted"; a
re-submitted rating keeps the reviewer's triage, a changed one reopens it with the old triage
kept in the audit trail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditAction, AuditEvent
from qa.models import CacheLookup, Feedback, Interaction, ReusableAnswer, ReviewAction, ReviewItem, TriageState
from qa.review.feedback import feedback_submit, feedback_triage
from qa.review.queue import review_reject
from qa.services.conversations import conversation_delete
from tests.factories import user_create
from tests.helpers import ask

pytestmark = pytest.mark.django_db

QUESTION = "What dose of ibuprofen should I take for my back pain at work?"


def test_a_decided_review_outlives_its_conversation_on_the_pages_and_in_the_admin(staff, client) -> None:
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    other_reviewer = user_create(username="rev2", groups=("reviewers", "staff"))
    admin = user_create(username="boss", superuser=True)
    answer = ask(user, QUESTION)
    item = ReviewItem.objects.get(answer=answer)
    answer_text = answer.text
    review_reject(item_id=item.pk, reviewer=reviewer, note="Ask a pharmacist.")

    conversation_delete(conversation=answer.conversation)

    item.refresh_from_db()
    assert item.answer_id is None and item.answer_deleted_at is not None
    assert (item.question_text, item.answer_text, item.state) == (QUESTION, answer_text, "rejected")
    assert ReviewAction.objects.filter(item=item, action="rejected", reviewer=reviewer).exists()

    client.force_login(reviewer)
    queue = client.get(reverse("qa:review"), {"state": ""}).content.decode()
    assert "ibuprofen" in queue and "conversation deleted" in queue
    page = client.get(reverse("qa:review-item", args=[item.pk])).content.decode()
    assert "Conversation deleted" in page and "ibuprofen" in page and "Ask a pharmacist." in page
    assert "Rejected" in page and 'name="action"' not in page, "nothing to decide on a deleted answer"

    # Whose documents the deleted answer drew on can no longer be checked: another reviewer
    # does not see it; the superuser (who reads everything) does, in the admin too.
    client.force_login(other_reviewer)
    assert "ibuprofen" not in client.get(reverse("qa:review"), {"state": ""}).content.decode()
    assert client.get(reverse("qa:review-item", args=[item.pk])).status_code == 404
    client.force_login(admin)
    changelist = client.get(reverse("admin:qa_reviewitem_changelist")).content.decode()
    assert "conversation deleted" in changelist and "ibuprofen" in changelist
    change = client.get(reverse("admin:qa_reviewitem_change", args=[item.pk]))
    assert change.status_code == 200 and "conversation deleted" in change.content.decode()


def test_a_pending_review_of_a_deleted_answer_leaves_the_queue(staff, client) -> None:
    user, _, _ = staff
    admin = user_create(username="boss", superuser=True)
    answer = ask(user, QUESTION)
    item = ReviewItem.objects.get(answer=answer)
    client.force_login(admin)
    assert "ibuprofen" in client.get(reverse("qa:review")).content.decode()
    user.delete()  # a cascade, not the service: the receiver still dates the record
    item.refresh_from_db()
    assert item.answer_id is None and item.answer_deleted_at is not None and item.state == "pending"
    assert "ibuprofen" not in client.get(reverse("qa:review")).content.decode()
    page = client.get(reverse("qa:review-item", args=[item.pk])).content.decode()
    assert "No decision is needed any more" in page


def test_deleting_a_conversation_deletes_its_model_calls_lookups_and_cached_answers(staff) -> None:
    user, _, _ = staff
    answer = ask(user, "What is the hotel limit in London?")
    assert Interaction.objects.filter(answer=answer).exists() or CacheLookup.objects.filter(answer=answer).exists()
    assert ReusableAnswer.objects.filter(source_answer=answer, origin="cached").exists()
    conversation_delete(conversation=answer.conversation)
    assert not Interaction.objects.filter(answer__isnull=True).exists()
    assert not CacheLookup.objects.exists()
    assert not ReusableAnswer.objects.filter(question__icontains="hotel limit").exists()


def test_the_same_rating_again_keeps_the_triage_and_a_new_one_reopens_it(staff) -> None:
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = ask(user, "What is the hotel limit in London?")
    feedback = feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="incomplete")
    feedback_triage(feedback_id=feedback.pk, reviewer=reviewer, state="dismissed", note="it is complete")

    again = feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="incomplete", comment="still")
    assert (again.triage_state, again.triaged_by, again.triage_note) == ("dismissed", reviewer, "it is complete")
    assert again.comment == "still"

    changed = feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="incorrect")
    assert (changed.triage_state, changed.triaged_by, changed.triage_note) == (TriageState.OPEN, None, "")
    # The reviewer's earlier triage is still on record.
    [event] = AuditEvent.objects.filter(action=AuditAction.FEEDBACK_TRIAGED, target_id=str(feedback.pk))
    assert event.after == {"triage_state": "dismissed", "note": "it is complete"}
    assert Feedback.objects.count() == 1


def test_erasure_finds_a_review_record_whose_conversation_was_deleted_before(staff) -> None:
    from qa.services.person_data import ERASED_TEXT, person_erase

    user, _, _ = staff
    answer = ask(user, QUESTION)
    item = ReviewItem.objects.get(answer=answer)
    assert item.asked_by_id == user.pk
    conversation_delete(conversation=answer.conversation)
    person_erase(user=user, actor=None)
    item.refresh_from_db()
    assert (item.question_text, item.answer_text, item.asked_by_id) == (ERASED_TEXT, ERASED_TEXT, None)


def test_an_answer_deleted_any_way_leaves_no_model_call_texts(staff) -> None:
    user, _, _ = staff
    answer = ask(user, "Who do I ask about pain relief at work?")
    calls = list(Interaction.objects.filter(answer=answer).values_list("pk", flat=True))
    assert calls and Interaction.objects.get(pk=calls[0]).prompt
    answer.delete()  # a cascade or an admin deletion, not the conversation service
    for call in Interaction.objects.filter(pk__in=calls):
        assert call.prompt == {} and call.response == "" and call.texts_purged_at is not None
        assert call.total_ms > 0, "the metrics stay"


def test_a_conversation_under_legal_hold_cannot_be_deleted(staff, client) -> None:
    from core.services.legal_holds import user_legal_hold_release, user_legal_hold_set
    from ingestion.services.retention import collection_legal_hold_release, collection_legal_hold_set
    from qa.services.conversations import ConversationOnLegalHold

    user, collection, _ = staff
    answer = ask(user, QUESTION)
    conversation = answer.conversation
    user_legal_hold_set(user=user, reason="litigation 2026-17", actor=None)
    with pytest.raises(ConversationOnLegalHold):
        conversation_delete(conversation=conversation)
    client.force_login(user)
    response = client.post(reverse("qa:conversation-delete", args=[conversation.pk]), follow=True)
    assert "legal hold" in response.content.decode() and conversation.answers.exists()
    user_legal_hold_release(user_id=user.pk, actor=None)

    collection_legal_hold_set(collection=collection, reason="audit of the wellness policy", actor=None)
    with pytest.raises(ConversationOnLegalHold):
        conversation_delete(conversation=conversation)
    collection_legal_hold_release(collection=collection, actor=None)
    conversation_delete(conversation=conversation)
    assert not type(conversation).objects.filter(pk=conversation.pk).exists()
