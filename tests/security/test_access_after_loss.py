"""Access is checked when a stored answer is read, not only when it was written: after a user
loses a collection, their own past answers drawn from it no longer show its text or quotes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from qa.pipeline.orchestrator import answer_create, answer_run
from tests.factories import collection_create, document_ingest, user_create
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db

MERGER = b"""# Project Kestrel

## Timeline

The Kestrel acquisition closes on 14 March. The purchase price is 48 million euros.
"""


def _asked_and_lost(client):
    user = user_create(groups=("deal-team",))
    collection = collection_create(name="Deals", groups=("deal-team",))
    document_ingest(collection, MERGER, "kestrel.md")
    answer = answer_create(user=user, question="When does the Kestrel acquisition close?")
    answer = answer_run(
        answer_id=answer.pk, emit=lambda *_: None,
        providers=[ScriptedProvider("The Kestrel acquisition closes on 14 March [1].")],
    )  # fmt: skip
    assert answer.status == "answered" and answer.citations.count() == 1
    client.force_login(user)
    before = client.get(f"/chat/c/{answer.conversation_id}/").content.decode()
    assert "14 March" in before
    user.groups.remove(Group.objects.get(name="deal-team"))
    return user, answer


def test_the_conversation_page_withholds_an_answer_from_a_collection_the_user_lost(client) -> None:
    _, answer = _asked_and_lost(client)
    page = client.get(f"/chat/c/{answer.conversation_id}/").content.decode()
    assert "14 March" not in page and "48 million" not in page and "kestrel.md" not in page
    assert "can no longer read" in page
    assert "When does the Kestrel acquisition close?" in page  # their own question stays


def test_the_conversation_api_withholds_it_too(client) -> None:
    _, answer = _asked_and_lost(client)
    body = client.get(f"/api/conversations/{answer.conversation_id}/").json()
    assert body[0]["status"] == "withheld"
    assert body[0]["answer"] == "" and body[0]["citations"] == []
    assert "14 March" not in str(body) and "Kestrel" not in str(body).replace("Kestrel acquisition close?", "")


def test_the_source_viewer_no_longer_quotes_the_passage(client) -> None:
    _, answer = _asked_and_lost(client)
    page = client.get(f"/chat/a/{answer.pk}/source/1/").content.decode()
    assert "no longer available to you" in page
    assert "14 March" not in page and "48 million" not in page and "kestrel.md" not in page


def test_an_answer_still_readable_is_shown_in_full(client) -> None:
    user = user_create(groups=("deal-team",))
    collection = collection_create(name="Deals", groups=("deal-team",))
    document_ingest(collection, MERGER, "kestrel.md")
    answer = answer_create(user=user, question="When does the Kestrel acquisition close?")
    answer_run(
        answer_id=answer.pk, emit=lambda *_: None,
        providers=[ScriptedProvider("The Kestrel acquisition closes on 14 March [1].")],
    )  # fmt: skip
    client.force_login(user)
    body = client.get(f"/api/conversations/{answer.conversation_id}/").json()
    assert body[0]["status"] == "answered" and "14 March" in body[0]["answer"]
