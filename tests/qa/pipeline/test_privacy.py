"""Issue #14: the data class steers every model call. Personal data is replaced by placeholders
before any endpoint that leaves the machine (the answering model and the judge), the reader sees
the originals, the log keeps what was sent; a restricted collection's text never reaches an
external endpoint through any model call. Real embedding model, real Presidio + spaCy; the
language models are loopback OpenAI-compatible servers (the model boundary)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from core.data_classes import DataClass, RetentionKind, data_class_policy, data_class_strictest
from ingestion.models import Chunk, Collection
from providers.llm.base import ContextPassage, LLMRequest
from qa.models import AnswerStatus, Interaction, ModelTier
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.pipeline.privacy import RequestPrivacy
from qa.presenters import answer_payload
from qa.realtime import Event
from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import JudgeServer, routed_priced_tier

pytestmark = pytest.mark.django_db

# A contacts page: a name, an e-mail address and a card number, as in an HR or finance manual.
CONTACTS = b"""# Expense card contacts

## Lost expense cards

Anna Berg handles lost expense cards. Write to anna.berg@example.com and give the card number,
for example 4111 1111 1111 1111, so that the card is blocked the same day.
"""

QUESTION = "Who blocks the card 4111 1111 1111 1111 when Anna Berg is away? Reply to anna.berg@example.com"
ORIGINALS = ("Anna Berg", "anna.berg@example.com", "4111 1111 1111 1111")
# The external model only ever sees placeholders, so it answers with them.
MODEL_ANSWER = "<PERSON_1> handles lost expense cards; write to <EMAIL_1> to block card <CREDIT_CARD_1> [1]."


@pytest.fixture
def contacts(db):
    user = user_create(username="clerk", groups=("staff",))
    collection = collection_create(name="Finance", groups=("staff",))
    document_ingest(collection, CONTACTS, "cards.md")
    return user, collection


def _ask(user, question: str = QUESTION, emit=None):
    answer = answer_create(user=user, question=question)
    return answer_run(answer_id=answer.pk, emit=emit or (lambda *_: None))


def _sent_text(server) -> str:
    return json.dumps([r["body"] for r in server.requests])


def test_an_external_tier_gets_placeholders_and_the_reader_the_originals(contacts) -> None:
    user, _ = contacts
    events: list[tuple[str, dict]] = []
    with routed_priced_tier(MODEL_ANSWER) as server:
        answer = _ask(user, emit=lambda kind, payload: events.append((kind, payload)))
    assert len(server.requests) == 1, "the external tier answered"
    # The reader's stream has the originals as the words arrive, never a placeholder.
    streamed = "".join(p["text"] for kind, p in events if kind == Event.TOKEN)
    assert "Anna Berg" in streamed and "anna.berg@example.com" in streamed and "<" not in streamed
    sent = _sent_text(server)
    for original in ORIGINALS:
        assert original not in sent, f"{original!r} left the machine"
    for placeholder in ("<PERSON_1>", "<EMAIL_1>", "<CREDIT_CARD_1>"):
        assert placeholder in sent
    # Consistent within the request: the name in the question and in the passage is one person.
    assert "<PERSON_2>" not in sent and "<EMAIL_2>" not in sent

    assert answer.status == AnswerStatus.ANSWERED, answer.decline_reason
    assert "Anna Berg handles lost expense cards" in answer.text
    assert "anna.berg@example.com" in answer.text and "4111 1111 1111 1111" in answer.text
    assert "<PERSON_1>" not in answer.text
    assert answer.pii_masked >= 3 and answer.data_class == DataClass.INTERNAL
    assert answer_payload(answer)["privacy"] == {"data_class": "internal", "pii_masked": answer.pii_masked}

    # The log keeps what was sent and received: placeholders, never the originals.
    call = Interaction.objects.get(answer=answer, provider="openai_compatible")
    assert call.pii_scrubbed and call.data_class == "internal"
    logged = json.dumps(call.prompt) + call.response
    assert "<PERSON_1>" in logged and not any(original in logged for original in ORIGINALS)


def test_the_passage_detections_are_stored_for_the_next_question(contacts) -> None:
    user, _ = contacts
    assert not Chunk.objects.filter(pii_spans__isnull=False).exists()
    with routed_priced_tier(MODEL_ANSWER):
        _ask(user)
    stored = [c.pii_spans for c in Chunk.objects.filter(pii_spans__isnull=False)]
    assert stored, "the passage analysed for the question keeps its detections"
    types = {span[2] for data in stored for span in data["spans"]}
    assert {"PERSON", "EMAIL", "CREDIT_CARD"} <= types


def test_the_off_peak_scan_fills_in_passages_not_scanned_yet(contacts) -> None:
    from ingestion.tasks import pii_scan

    result = pii_scan.apply().get()
    assert result["scanned"] >= 1 and result["with_pii"] >= 1 and result["remaining"] == 0
    assert not Chunk.objects.filter(pii_spans__isnull=True).exists()


def test_an_external_judge_gets_the_answer_s_placeholders(contacts, settings) -> None:
    user, _ = contacts
    judge = JudgeServer('{"scores": [[0.95]]}')
    settings.QA_VERIFIER, settings.QA_JUDGE_URL, settings.QA_JUDGE_EXTERNAL = "judge", judge.url, True
    try:
        with routed_priced_tier(MODEL_ANSWER):
            answer = _ask(user)
    finally:
        judge.close()
    assert judge.prompts, "the judge was asked"
    judged = "\n".join(judge.prompts)
    assert not any(original in judged for original in ORIGINALS)
    assert "<PERSON_1>" in judged, "the same placeholder as the answering model's"
    logged = Interaction.objects.get(answer=answer, provider="judge")
    assert logged.pii_scrubbed and "Anna Berg" not in json.dumps(logged.prompt)


def test_a_restricted_collection_reaches_no_external_endpoint_through_any_model_call(contacts, settings) -> None:
    user, collection = contacts
    Collection.objects.filter(pk=collection.pk).update(classification=DataClass.RESTRICTED)
    judge = JudgeServer('{"scores": [[0.95]]}')
    settings.QA_VERIFIER, settings.QA_JUDGE_URL, settings.QA_JUDGE_EXTERNAL = "judge", judge.url, True
    try:
        with routed_priced_tier(MODEL_ANSWER) as server:
            answer = _ask(user)
    finally:
        judge.close()
    # Answering model and judge: the only model calls (question condensation is rule-based and
    # calls no model; there is no query rewriting by a model).
    assert server.requests == [] and judge.prompts == []
    assert answer.provider == "extractive" and answer.data_class == DataClass.RESTRICTED
    calls = list(Interaction.objects.filter(answer=answer))
    assert calls and all(c.provider == "extractive" for c in calls)
    # Restricted text is not logged in clear either, though it stayed on the machine.
    assert all(c.pii_scrubbed and c.data_class == "restricted" for c in calls)
    assert not any("Anna Berg" in json.dumps(c.prompt) + c.response for c in calls)
    assert "anna.berg@example.com" in answer.text, "the reader still sees the originals"


def test_a_confidential_collection_is_logged_scrubbed_even_on_the_machine(contacts) -> None:
    user, collection = contacts
    Collection.objects.filter(pk=collection.pk).update(classification=DataClass.CONFIDENTIAL)
    answer = _ask(user)
    assert answer.status == AnswerStatus.ANSWERED and answer.provider == "extractive"
    assert answer.pii_masked == 0, "nothing left the machine, nothing was masked in what was sent"
    call = Interaction.objects.get(answer=answer)
    assert call.pii_scrubbed and call.data_class == "confidential"
    assert not any(original in json.dumps(call.prompt) + call.response for original in ORIGINALS)


def test_a_public_answer_on_the_local_model_loads_no_analyzer(contacts) -> None:
    import core.pii

    user, collection = contacts
    Collection.objects.filter(pk=collection.pk).update(classification=DataClass.PUBLIC)
    core.pii.pii_cache_clear()
    answer = _ask(user)
    call = Interaction.objects.get(answer=answer)
    assert not call.pii_scrubbed and "Anna Berg" in json.dumps(call.prompt), "public, local: logged in clear"


def test_the_strictest_class_governs_a_mix() -> None:
    assert data_class_strictest(["public", "confidential", "internal"]) == DataClass.CONFIDENTIAL
    assert data_class_strictest([]) == DataClass.INTERNAL
    assert data_class_policy("restricted").restricted and not data_class_policy("internal").restricted


def test_an_installation_overrides_a_class_policy(settings) -> None:
    settings.VERITY_DATA_CLASSES = {"internal": {"log_text_clear": False, "retention": {"feedback": 30}}}
    policy = data_class_policy("internal")
    assert not policy.log_text_clear and policy.retention(RetentionKind.FEEDBACK) == 30
    assert policy.retention(RetentionKind.CONVERSATIONS) == 365
    settings.VERITY_DATA_CLASSES = {"internal": {"log_in_clear": False}}
    with pytest.raises(ValueError, match="unknown keys"):
        data_class_policy("internal")


def test_scrubbing_is_consistent_across_a_request_and_its_judge() -> None:
    privacy = RequestPrivacy.for_data_class("internal")
    passage = ContextPassage(
        n=1, chunk_id=0, document_id=0, title="Contacts", section="", page=None, source_name="c.md",
        text="Anna Berg approves leave. Her deputy is Tom Weller.",
    )  # fmt: skip
    request = LLMRequest(
        question="Does Anna Berg approve leave?", passages=[passage],
        messages=[{"role": "user", "content": "Q: Does Anna Berg approve leave?\n[1] Anna Berg approves leave. "
                   "Her deputy is Tom Weller."}],
    )  # fmt: skip
    local = privacy.outbound(request=request, external=False)
    assert local.request is request and local.placeholders is None
    out = privacy.outbound(request=request, external=True)
    assert out.request.question == "Does <PERSON_1> approve leave?"
    assert out.request.passages[0].text == "<PERSON_1> approves leave. Her deputy is <PERSON_2>."
    assert "Anna Berg" not in out.request.messages[0]["content"]
    judged, scrubbed = privacy.texts_outbound(texts=["Tom Weller and Anna Berg [1]"], external=True)
    assert scrubbed and judged == ["<PERSON_2> and <PERSON_1> [1]"]


def test_the_interaction_admin_is_read_only_and_shows_the_scrub_flag(admin_client, contacts) -> None:
    user, _ = contacts
    answer = _ask(user)
    call = Interaction.objects.get(answer=answer)
    page = admin_client.get(f"/admin/qa/interaction/{call.pk}/change/")
    assert page.status_code == 200 and b"Pii scrubbed" in page.content and b"Data class" in page.content


def test_the_pii_scan_command_reports(contacts, capsys) -> None:
    call_command("pii_scan", "--limit", "10")
    assert "scanned 1 passage(s), 1 with personal data; 0 not scanned yet" in capsys.readouterr().out


def test_workers_load_the_analyzer_at_start_only_when_text_can_leave(db) -> None:
    from qa.pipeline.privacy import pii_analyzer_warm_up

    assert pii_analyzer_warm_up() is False, "no external tier or judge: nothing to load"
    ModelTier.objects.create(name="hosted", rank=2, provider="openai_compatible", model="gpt-4o-2024-08-06",
                             base_url="http://127.0.0.1:9/v1", external=True)  # fmt: skip
    assert pii_analyzer_warm_up() is True
