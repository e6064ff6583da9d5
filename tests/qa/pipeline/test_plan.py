"""The plan stage: the prompt, the model chain and its reservation, the verifier."""

from __future__ import annotations

import pytest

from ingestion.models import Classification, Collection
from qa.pipeline.deps import pipeline_deps
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db

LONDON = "What is the hotel limit in London?"


def test_explicit_providers_are_the_chain_without_routing_or_reservation(reader, stages) -> None:
    provider = ScriptedProvider("In London the limit is 260 euros per night [1].")
    planned = stages.plan(reader, LONDON, pipeline_deps(emit=lambda *_: None, providers=[provider]))
    assert planned.plan.chain == (provider,) and planned.plan.reservation is None
    assert planned.plan.route["tier"] == "explicit" and planned.plan.route["reason"] == "explicit providers"
    assert planned.plan.relevance is None  # no passage of the handbook is suspect
    assert "London" in planned.plan.request.messages[-1]["content"]


def test_a_restricted_collection_is_never_sent_to_an_external_model(reader, stages) -> None:
    Collection.objects.filter(name="Handbook").update(classification=Classification.RESTRICTED)
    external = ScriptedProvider("In London the limit is 260 euros per night [1].", name="cloud")
    external.external = True
    planned = stages.plan(reader, LONDON, pipeline_deps(emit=lambda *_: None, providers=[external]))
    assert [p.name for p in planned.plan.chain] == ["extractive"]
    assert planned.plan.route["reason"] == "explicit providers; 1 external provider(s) skipped: restricted"
