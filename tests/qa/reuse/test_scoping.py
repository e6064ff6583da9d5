"""Reused answers (cache, curated, precomputed) are scoped by the reader's access inside the
lookup's SQL; an entry without documents is never served; one user's "incorrect" does not
withdraw a reviewer's curated answer for everyone; a cache hit never shows another user's
question."""

from __future__ import annotations

import math
import random

import pytest
from django.urls import reverse

from core.errors import ApplicationError
from ingestion.models import Document, DocumentStatus
from qa.models import Answer, Citation, Conversation, Feedback, ReusableAnswer, ReuseOrigin
from qa.presenters import answer_payload
from qa.reuse.reusable import reusable_candidates, reusable_find
from qa.review.feedback import feedback_submit, feedback_triage
from tests.factories import collection_create, user_create

pytestmark = pytest.mark.django_db

QUESTION = "How many vacation days do new staff get"


def _unit(seed: int, *, near: list[float] | None = None, noise: float = 0.0) -> list[float]:
    rng = random.Random(seed)
    vector = [x + rng.gauss(0, noise) for x in near] if near else [rng.gauss(0, 1) for _ in range(384)]
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def _document(collection, name: str) -> Document:
    return Document.objects.create(
        collection=collection, title=name, source_name=f"{name}.md", content_hash=name.ljust(64, "0"),
        status=DocumentStatus.READY, is_current=True,
    )  # fmt: skip


def _entry(*, origin: str, embedding: list[float], documents: list[Document], text: str, question: str = QUESTION):
    return ReusableAnswer.objects.create(
        origin=origin, question=question, embedding=embedding, text=text,
        citations=[{"n": i + 1, "chunk_id": 0, "document_id": d.pk, "title": d.title, "source_name": d.source_name,
                    "section": "", "page": None, "quote": text} for i, d in enumerate(documents)],
        document_ids=[d.pk for d in documents], collection_ids=sorted({d.collection_id for d in documents}),
        model="m", confidence=0.9, confidence_level="high",
    )  # fmt: skip


def test_other_users_entries_do_not_crowd_out_a_readers_own_hit() -> None:
    """Ten entries of a restricted collection sit nearer the question than the reader's one;
    the lookup used to take the global top five and then drop the unreadable ones: a miss."""
    reader = user_create(username="reader", groups=("staff",))
    staff = collection_create(name="Staff", groups=("staff",))
    board = collection_create(name="Board", groups=("board",))
    mine, theirs = _document(staff, "staff-handbook"), _document(board, "board-minutes")
    query = _unit(1)
    for i in range(10):
        _entry(origin=ReuseOrigin.CACHED, embedding=_unit(100 + i, near=query, noise=0.001), documents=[theirs],
               text=f"boardsecret {i}")  # fmt: skip
    own = _entry(origin=ReuseOrigin.CACHED, embedding=_unit(2, near=query, noise=0.01), documents=[mine],
                 text="staff answer")  # fmt: skip
    match, _, why = reusable_find(user=reader, question=QUESTION, embedding=query, origins=[ReuseOrigin.CACHED],
                                  min_similarity=0.9)  # fmt: skip
    assert match is not None and match.entry.pk == own.pk, why
    candidates = reusable_candidates(user=reader, embedding=query, origins=[ReuseOrigin.CACHED], min_similarity=0.9)
    assert [entry.pk for entry, _ in candidates] == [own.pk]


def test_an_entry_that_cites_no_document_is_served_to_nobody() -> None:
    anyone = user_create(username="anyone")
    query = _unit(3)
    _entry(origin=ReuseOrigin.CURATED, embedding=query, documents=[], text="uncheckable")
    match, _, _ = reusable_find(user=anyone, question=QUESTION, embedding=query, origins=[ReuseOrigin.CURATED],
                                min_similarity=0.5)  # fmt: skip
    assert match is None
    assert reusable_candidates(user=anyone, embedding=query, origins=[ReuseOrigin.CURATED], min_similarity=0.5) == []


def test_an_entry_citing_a_document_moved_out_of_reach_is_not_served() -> None:
    """The check reads the documents' current collections, not the entry's stored snapshot."""
    reader = user_create(username="reader", groups=("staff",))
    staff = collection_create(name="Staff", groups=("staff",))
    hr = collection_create(name="HR", groups=("hr",))
    document = _document(staff, "salaries")
    query = _unit(4)
    _entry(origin=ReuseOrigin.CACHED, embedding=query, documents=[document], text="salary answer")
    assert reusable_find(user=reader, question=QUESTION, embedding=query, origins=["cached"], min_similarity=0.5)[0]
    Document.objects.filter(pk=document.pk).update(collection=hr)
    assert (
        reusable_find(user=reader, question=QUESTION, embedding=query, origins=["cached"], min_similarity=0.5)[0]
        is None
    )


def _reused_answer(user, entry: ReusableAnswer, question: str) -> Answer:
    conversation = Conversation.objects.create(user=user, title=question[:80])
    return Answer.objects.create(conversation=conversation, question=question, status="answered", text=entry.text,
                                 reused_from=entry)  # fmt: skip


def test_one_users_incorrect_leaves_a_curated_answer_to_the_reviewers() -> None:
    staff = collection_create(name="Staff", groups=("staff",))
    document = _document(staff, "handbook")
    curated = _entry(origin=ReuseOrigin.CURATED, embedding=_unit(5), documents=[document], text="25 days [1]")
    user = user_create(username="user", groups=("staff",))
    answer = _reused_answer(user, curated, "How many vacation days do I get?")
    feedback = feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="incorrect")
    curated.refresh_from_db()
    assert curated.active, "one user's click no longer withdraws a reviewer's answer for everyone"
    assert feedback.triage_state == "open"
    # A reviewer who reads the collection sees it in triage and may withdraw it.
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    feedback_triage(feedback_id=feedback.pk, reviewer=reviewer, state="resolved", withdraw=True)
    curated.refresh_from_db()
    assert not curated.active and "marked incorrect" in curated.invalidated_reason


def test_a_reviewers_own_incorrect_still_withdraws_a_curated_answer() -> None:
    staff = collection_create(name="Staff", groups=("staff",))
    curated = _entry(origin=ReuseOrigin.CURATED, embedding=_unit(6), documents=[_document(staff, "h")], text="x [1]")
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = _reused_answer(reviewer, curated, "How many vacation days do I get?")
    feedback_submit(user=reviewer, answer_id=answer.pk, helpful=False, reason="incorrect")
    curated.refresh_from_db()
    assert not curated.active


def test_a_users_incorrect_still_forgets_a_cached_answer() -> None:
    staff = collection_create(name="Staff", groups=("staff",))
    cached = _entry(origin=ReuseOrigin.CACHED, embedding=_unit(7), documents=[_document(staff, "h")], text="x [1]")
    user = user_create(username="user", groups=("staff",))
    answer = _reused_answer(user, cached, "How many vacation days do I get?")
    feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="incorrect")
    cached.refresh_from_db()
    assert not cached.active


def test_a_cache_hit_never_shows_another_users_question(client) -> None:
    staff = collection_create(name="Staff", groups=("staff",))
    entry = _entry(origin=ReuseOrigin.CACHED, embedding=_unit(8), documents=[_document(staff, "h")],
                   text="25 days [1]", question="Alice Zebrafinch asks how many vacation days she has left")  # fmt: skip
    bob = user_create(username="bob", groups=("staff",))
    answer = _reused_answer(bob, entry, "how many vacation days are left for me")
    payload = answer_payload(answer)
    assert payload["reused"]["origin"] == "cached" and "Zebrafinch" not in str(payload)
    client.force_login(bob)
    page = client.get(reverse("qa:conversation", args=[answer.conversation_id]))
    assert page.status_code == 200 and b"Cached answer" in page.content
    assert b"Zebrafinch" not in page.content


def test_feedback_triage_is_only_for_reviewers_who_may_read_the_answer() -> None:
    hr = collection_create(name="HR", groups=("hr",))
    curated = _entry(origin=ReuseOrigin.CURATED, embedding=_unit(9), documents=[_document(hr, "pay")], text="x [1]")
    user = user_create(username="user", groups=("hr",))
    answer = _reused_answer(user, curated, "What is my pay band?")
    Citation.objects.create(answer=answer, n=1, chunk_id=0, document_id=curated.document_ids[0], title="pay",
                            source_name="pay.md", quote="band 4")  # fmt: skip
    feedback = feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="incorrect")
    outsider = user_create(username="rev", groups=("reviewers",))
    with pytest.raises(ApplicationError, match="does not exist"):
        feedback_triage(feedback_id=feedback.pk, reviewer=outsider, state="resolved", withdraw=True)
    curated.refresh_from_db()
    assert curated.active and Feedback.objects.get(pk=feedback.pk).triage_state == "open"
