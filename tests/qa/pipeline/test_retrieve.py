"""The retrieve stage: readable passages, what was searched, and the collections' policy."""

from __future__ import annotations

import pytest

from ingestion.models import Collection, HighStakesPolicy, UnsupportedPolicy
from qa.pipeline.deps import pipeline_deps
from tests.factories import user_create

pytestmark = pytest.mark.django_db


def test_retrieval_records_what_was_searched_and_the_collections_policy(reader, stages) -> None:
    question = "What is the hotel limit in London?"
    _, retrieved, _ = stages.gate(reader, question, pipeline_deps(emit=lambda *_: None))
    handbook = Collection.objects.get(name="Handbook")
    assert "In London the limit is 260 euros per night." in retrieved.chunks[0].text
    assert retrieved.searched["question"] == question
    assert retrieved.searched["closest"] == ["Travel Policy"]
    assert retrieved.searched["collection_ids"] == [handbook.pk]
    assert retrieved.policy.high_stakes_policy == HighStakesPolicy.HOLD
    assert retrieved.policy.unsupported_policy == UnsupportedPolicy.REMOVE


def test_a_reader_of_no_collection_finds_nothing(reader, stages) -> None:
    outsider = user_create(username="outsider")
    _, retrieved, _ = stages.gate(outsider, "What is the hotel limit in London?", pipeline_deps(emit=lambda *_: None))
    assert retrieved.chunks == [] and retrieved.searched["collection_ids"] == []
