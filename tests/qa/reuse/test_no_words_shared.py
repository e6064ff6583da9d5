"""No user's words shown to another (issue #14, point 6): a cache hit or near miss shows and logs
none of the first asker's words; precompute replays only a wording several people used.
The embedding model is the real one."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from providers.registry import embedding_provider_default
from qa.models import CacheLookup, ReusableAnswer
from qa.presenters import answer_payload
from qa.reuse.precompute import frequent_questions
from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import HANDBOOK, ask

pytestmark = pytest.mark.django_db


@pytest.fixture
def handbook(db):
    collection = collection_create(name="Handbook", groups=("staff",))
    document_ingest(collection, HANDBOOK, "travel.md")
    first = user_create(username="first-asker", groups=("staff",))
    second = user_create(username="second-asker", groups=("staff",))
    return first, second


def test_a_second_users_cache_hit_shows_and_logs_none_of_the_first_users_words(handbook, client, caplog) -> None:
    first, second = handbook
    ask(first, "What is the hotel limit in London?")
    assert ReusableAnswer.objects.filter(origin="cached").exists()
    with caplog.at_level(logging.DEBUG):
        hit = ask(second, "what's the hotel limit in London")
    assert hit.reused_from_id is not None

    payload = answer_payload(hit)
    assert payload["reused"] == {"origin": "cached", "question": "what's the hotel limit in London"}
    client.force_login(second)
    page = client.get(reverse("qa:conversation", args=[hit.conversation_id])).content.decode()
    lookup = CacheLookup.objects.get(answer=hit)
    for shown in (str(payload), page, lookup.reason, caplog.text):
        assert "What is the hotel limit" not in shown
        assert "first-asker" not in shown


def test_a_near_miss_logs_the_kind_of_difference_not_the_other_question(handbook, caplog) -> None:
    first, second = handbook
    ask(first, "What is the hotel limit for 2 nights in London?")
    with caplog.at_level(logging.DEBUG):
        near = ask(second, "What is the hotel limit for 3 nights in London?")
    assert near.reused_from_id is None
    lookup = CacheLookup.objects.get(answer=near)
    assert lookup.reason.startswith("near-miss guard: numbers differ"), lookup.reason
    # The stored question's number (the first user's words) is in neither the log row nor the logs.
    assert "2" not in lookup.reason.replace("0.", "") and "2 nights" not in caplog.text


def _asked(user, question: str, times: int = 1) -> None:
    for _ in range(times):
        ask(user, question)


def test_precompute_never_replays_a_question_only_one_person_asked(handbook, settings) -> None:
    first, second = handbook
    settings.QA_PRECOMPUTE_MIN_USERS = 2
    embedder = embedding_provider_default()

    _asked(first, "What is the hotel limit in most cities?", times=4)
    found = frequent_questions(days=7, min_asks=3, limit=10, embedder=embedder)
    assert found == [], "asked four times, but by one person: their words stay theirs"

    # Two people asking in their own words: still no wording that two people used.
    _asked(second, "What's the hotel limit in most cities?")
    assert frequent_questions(days=7, min_asks=3, limit=10, embedder=embedder) == []

    # The same wording from a second person: replayed, in that shared wording.
    _asked(second, "What is the hotel limit in most cities?")
    found = frequent_questions(days=7, min_asks=3, limit=10, embedder=embedder)
    assert [(c.question, c.asks) for c in found] == [("What is the hotel limit in most cities", 6)]

    # The threshold is the setting's.
    assert frequent_questions(days=7, min_asks=3, limit=10, embedder=embedder, min_users=3) == []
