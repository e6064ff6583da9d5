"""The trust layer end to end: verification, citation repair, confidence, declines, high-stakes
holds, review, curated reuse and feedback. The embedding model is the real one; language
models are test doubles at the gateway (ScriptedProvider) or the built-in extractive provider."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.urls import reverse

from core.errors import ApplicationError
from ingestion.models import Collection
from ingestion.services.documents import document_delete
from qa.models import (
    AnswerStatus,
    Feedback,
    Interaction,
    ReusableAnswer,
    ReviewAction,
    ReviewItem,
    ReviewState,
)
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.presenters import answer_payload
from qa.realtime import user_group
from qa.review.feedback import feedback_submit
from qa.review.queue import review_approve, review_reject
from tests.factories import collection_create, document_ingest, user_create
from tests.qa.conftest import HANDBOOK
from tests.qa.fakes import ScriptedProvider

pytestmark = pytest.mark.django_db

BENEFITS = b"""# Benefits

## Bicycle allowance

Staff who cycle to work receive a bicycle allowance of 30 euros per month.

## Training budget

Each employee has a training budget of 1,200 euros per year for courses and conferences.
"""

WELLNESS = b"""# Pain relief at work

Employees who need pain relief at work, such as ibuprofen for back pain, should ask the company nurse
what dose to take. The nurse can be reached at extension 4410.
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def __call__(self, event_type: str, payload: dict) -> None:
        self.events.append((event_type, payload))

    def tokens(self) -> str:
        return "".join(p["text"] for t, p in self.events if t == "qa.token")


@pytest.fixture
def staff(db):  # noqa: ANN001, ANN201
    user = user_create(username="staffer", groups=("staff",))
    collection = collection_create(name="Staff handbook", groups=("staff",))
    docs = {
        "travel": document_ingest(collection, HANDBOOK, "travel.md"),
        "benefits": document_ingest(collection, BENEFITS, "benefits.md"),
        "wellness": document_ingest(collection, WELLNESS, "wellness.md"),
    }
    return user, collection, docs


def _ask(user, question: str, providers=None, recorder: Recorder | None = None):  # noqa: ANN001, ANN202
    answer = answer_create(user=user, question=question)
    return answer_run(answer_id=answer.pk, emit=recorder or Recorder(), providers=providers)


def _passage_number(answer, title: str) -> int:  # noqa: ANN001
    request = Interaction.objects.filter(answer=answer).first()
    assert request is not None
    content = request.prompt["messages"][-1]["content"]
    for number, passage_title in re.findall(r'<passage id="(\d+)" title="([^"]*)"', content):
        if title in passage_title:
            return int(number)
    raise AssertionError(f"no passage titled {title!r} in the prompt")


# ------------------------------------------------------------------ verification


def test_an_invented_number_is_removed_before_the_user_sees_the_answer(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    model = ScriptedProvider(
        "In London the hotel limit is 260 euros per night [1]. In Paris the hotel limit is 410 euros per night [1]."
    )
    answer = _ask(user, "What is the hotel limit in London?", providers=[model])
    assert answer.status == AnswerStatus.ANSWERED
    assert "260 euros" in answer.text and "410" not in answer.text
    removed = [s for s in answer.verification["sentences"] if s["action"] == "removed"]
    assert len(removed) == 1 and "410" in removed[0]["text"]
    assert any("number 410" in issue for issue in removed[0]["issues"])
    payload = answer_payload(answer)
    assert payload["verification"]["removed"] == 1 and "410" not in payload["html"]
    assert payload["confidence"]["level"] in {"high", "medium", "low"}
    assert "removed" in payload["confidence"]["reason"]


def test_an_answer_with_nothing_supported_is_declined(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    model = ScriptedProvider("The hotel limit in London is 999 euros per night, set by Margarethe Quillfeather [1].")
    answer = _ask(user, "What is the hotel limit in London?", providers=[model])
    assert answer.status == AnswerStatus.DECLINED
    assert "could not verify" in answer.decline_reason
    assert answer.text == "" and not answer.citations.exists()


def test_a_negated_copy_of_the_source_is_caught(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    model = ScriptedProvider(
        "Meals are covered up to 55 euros per day while travelling [1]. Alcohol is reimbursed [1]."
    )
    answer = _ask(user, "Are meals and alcohol covered when travelling?", providers=[model])
    assert answer.status == AnswerStatus.ANSWERED
    assert "55 euros" in answer.text
    assert "Alcohol is reimbursed" not in answer.text


def test_a_citation_to_a_passage_not_given_is_removed(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    model = ScriptedProvider("In London the hotel limit is 260 euros per night [7].")
    answer = _ask(user, "What is the hotel limit in London?", providers=[model])
    given = len(model.requests[0].passages)
    assert given >= 3, "the test needs at least three passages in the prompt"
    assert "[7]" not in answer.text
    assert answer.verification["dropped_citations"] == [7]
    # The sentence is supported, so it gets the passage that supports it.
    cited = list(answer.citations.values_list("title", flat=True))
    assert cited == ["Travel Policy"]
    assert answer.verification["sentences"][0]["action"] == "cited"


def test_a_sentence_citing_the_wrong_passage_is_recited(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    probe = ScriptedProvider("probe")
    first = _ask(user, "What is the bicycle allowance and the hotel limit in London?", providers=[probe])
    hotel_n = _passage_number(first, "Travel Policy")
    bike_n = _passage_number(first, "Benefits")
    model = ScriptedProvider(
        f"Staff who cycle to work receive a bicycle allowance of 30 euros per month [{hotel_n}]. "
        f"In London the hotel limit is 260 euros per night [{hotel_n}]."
    )
    answer = _ask(user, "What is the bicycle allowance and the hotel limit in London?", providers=[model])
    sentences = answer.verification["sentences"]
    assert sentences[0]["action"] == "recited" and sentences[0]["citations"] == [bike_n]
    assert sentences[1]["action"] == "kept" and sentences[1]["citations"] == [hotel_n]
    assert f"30 euros per month [{bike_n}]" in answer.text
    assert {c.title for c in answer.citations.all()} == {"Benefits", "Travel Policy"}


def test_mark_policy_keeps_unsupported_sentences_visibly_marked(staff) -> None:  # noqa: ANN001
    user, collection, _ = staff
    Collection.objects.filter(pk=collection.pk).update(unsupported_policy="mark")
    model = ScriptedProvider(
        "In London the hotel limit is 260 euros per night [1]. In Paris the hotel limit is 410 euros per night [1]."
    )
    answer = _ask(user, "What is the hotel limit in London?", providers=[model])
    assert "410 euros per night [1]. *(not supported by the sources)*" in answer.text


def test_sentence_stream_mode_never_streams_an_unsupported_sentence(staff, settings) -> None:  # noqa: ANN001
    settings.QA_STREAM_MODE = "sentence"
    user, _, _ = staff
    model = ScriptedProvider(
        "In London the hotel limit is 260 euros per night [1]. In Paris the hotel limit is 410 euros per night [1]. "
        "Meals are covered up to 55 euros per day [1]."
    )
    recorder = Recorder()
    answer = _ask(user, "What are the hotel and meal limits?", providers=[model], recorder=recorder)
    streamed = recorder.tokens()
    assert "260 euros" in streamed and "55 euros" in streamed
    assert "410" not in streamed and "410" not in answer.text


# ------------------------------------------------------------------ declines and confidence


def test_a_question_about_a_name_the_documents_never_mention_is_declined(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    answer = _ask(user, "What is the hotel limit set by travel_policy.fetch_limits() for London?")
    assert answer.status == AnswerStatus.DECLINED
    assert "never mention `travel_policy.fetch_limits`" in answer.decline_reason
    assert answer.searched["closest"][0] == "Travel Policy"
    assert not Interaction.objects.filter(answer=answer).exists()


def test_a_question_outside_the_documents_lists_the_closest_documents(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    answer = _ask(user, "Which country won the 2018 football world cup?")
    payload = answer_payload(answer)
    assert payload["status"] == "declined"
    assert payload["searched"]["closest"], "the closest documents are listed"
    assert payload["searched"]["collections"] == 1 and payload["searched"]["chunks"] >= 3


def test_confidence_below_the_collection_floor_declines(staff) -> None:  # noqa: ANN001
    user, collection, _ = staff
    answer = _ask(user, "What is the hotel limit in London?")
    assert answer.status == AnswerStatus.ANSWERED and answer.confidence_level in {"high", "medium"}
    Collection.objects.filter(pk=collection.pk).update(confidence_floor=0.999)
    again = _ask(user, "What is the hotel limit in London?")
    assert again.status == AnswerStatus.DECLINED
    assert "below this collection's threshold" in again.decline_reason


# ------------------------------------------------------------------ high stakes and review


def _receive(layer, channel: str) -> dict:  # noqa: ANN001
    async def within() -> dict:
        return await asyncio.wait_for(layer.receive(channel), timeout=10)

    return async_to_sync(within)()


def _listen(group: str) -> tuple[object, str]:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return layer, channel


def test_a_medical_question_is_held_then_approved_and_the_user_is_told_live(
    staff, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    recorder = Recorder()
    answer = _ask(user, "What dose of ibuprofen should I take for my back pain at work?", recorder=recorder)
    assert answer.status == AnswerStatus.HELD and answer.high_stakes == ["medical"]
    assert recorder.tokens() == "", "nobody sees a held answer's words before a reviewer"
    payload = answer_payload(answer)
    assert payload["answer"] == "" and payload["citations"] == [] and "reviewer" in payload["notice"]
    item = ReviewItem.objects.get(answer=answer)
    assert item.held and item.state == ReviewState.PENDING and item.topics == ["medical"]

    layer, channel = _listen(user_group(user.pk))
    with django_capture_on_commit_callbacks(execute=True):
        review_approve(item_id=item.pk, reviewer=reviewer, note="fine: it points to the nurse")
    message = _receive(layer, channel)
    assert message["type"] == "qa.final" and message["answer_id"] == answer.pk
    assert message["status"] == "answered" and "nurse" in message["answer"]
    assert message["review_state"] == "approved"
    action = ReviewAction.objects.get(item=item)
    assert action.reviewer == reviewer and action.action == "approved" and action.note.startswith("fine")
    with pytest.raises(ApplicationError, match="already"):
        review_reject(item_id=item.pk, reviewer=reviewer, note="too late")


def test_notice_policy_answers_at_once_and_queues_for_review_afterwards(staff) -> None:  # noqa: ANN001
    user, collection, _ = staff
    Collection.objects.filter(pk=collection.pk).update(high_stakes_policy="notice")
    answer = _ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    assert answer.status == AnswerStatus.ANSWERED and "not professional advice" in answer.notice
    assert ReviewItem.objects.get(answer=answer).held is False


def test_rejecting_tells_the_user_why(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = _ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    item = ReviewItem.objects.get(answer=answer)
    with pytest.raises(ApplicationError, match="Say why"):
        review_reject(item_id=item.pk, reviewer=reviewer, note=" ")
    review_reject(item_id=item.pk, reviewer=reviewer, note="Ask a doctor or pharmacist, not the handbook.")
    answer.refresh_from_db()
    assert answer.status == AnswerStatus.DECLINED and "pharmacist" in answer.decline_reason
    assert ReviewAction.objects.filter(item=item, action="rejected").count() == 1
    assert not ReusableAnswer.objects.exists()


def test_an_edit_must_keep_citations_to_real_sources(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = _ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    item = ReviewItem.objects.get(answer=answer)
    with pytest.raises(ApplicationError, match=r"\[9\]"):
        review_approve(item_id=item.pk, reviewer=reviewer, text="Ask the nurse [9].")
    review_approve(item_id=item.pk, reviewer=reviewer, text="Ask the company nurse what dose to take [1].")
    answer.refresh_from_db()
    assert answer.review_state == ReviewState.EDITED and answer.text.startswith("Ask the company nurse")
    action = ReviewAction.objects.get(item=item)
    assert action.text_before != action.text_after


def test_an_approved_answer_is_reused_for_a_similar_question_only_by_readers(
    staff, django_capture_on_commit_callbacks
) -> None:  # noqa: ANN001
    user, collection, docs = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    answer = _ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    review_approve(item_id=ReviewItem.objects.get(answer=answer).pk, reviewer=reviewer)
    curated = ReusableAnswer.objects.get(origin="curated")
    assert curated.document_ids == [docs["wellness"].pk]

    colleague = user_create(username="colleague", groups=("staff",))
    model = ScriptedProvider("should not be called")
    reused = _ask(colleague, "What dose of ibuprofen should I take for back pain at work?", providers=[model])
    assert reused.status == AnswerStatus.ANSWERED and reused.reused_from_id == curated.pk
    assert not model.requests and reused.text == answer.text
    assert answer_payload(reused)["reused"]["origin"] == "curated"

    outsider = user_create(username="outsider", groups=("elsewhere",))
    other = collection_create(name="Elsewhere", groups=("elsewhere",))
    document_ingest(other, WELLNESS.replace(b"company nurse", b"site doctor"), "wellness-copy.md")
    theirs = _ask(outsider, "What dose of ibuprofen should I take for my back pain at work?")
    assert theirs.reused_from_id is None, "a user who cannot read the cited document never gets the curated answer"

    # A near miss (another number) is not reused either.
    near = _ask(colleague, "What dose of ibuprofen should I take for my back pain after 3 days at work?")
    assert near.reused_from_id is None

    with django_capture_on_commit_callbacks(execute=True):
        document_delete(document=docs["wellness"])  # document_changed fires after commit
    curated.refresh_from_db()
    assert curated.active is False and "deleted" in curated.invalidated_reason


# ------------------------------------------------------------------ feedback


def test_thumbs_down_with_a_reason_enters_triage_and_incorrect_purges_reuse(staff, client) -> None:  # noqa: ANN001
    user, _, _ = staff
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    held = _ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    review_approve(item_id=ReviewItem.objects.get(answer=held).pk, reviewer=reviewer)
    reused = _ask(user, "What dose of ibuprofen should I take for back pain at work?")
    assert reused.reused_from_id is not None

    client.force_login(user)
    response = client.post(
        reverse("qa:feedback", args=[reused.pk]),
        {"helpful": "no", "reason": "incorrect", "comment": "The nurse left last year."},
    )
    assert response.status_code == 200 and b"A reviewer will look at it" in response.content
    feedback = Feedback.objects.get(answer=reused)
    assert feedback.triage_state == "open" and feedback.reason == "incorrect"
    # One user's "incorrect" does not withdraw a reviewer's decision for everyone: it waits in triage.
    assert ReusableAnswer.objects.filter(active=True, origin="curated").exists()

    client.force_login(reviewer)
    page = client.get(reverse("qa:triage"))
    assert b"The nurse left last year." in page.content and b"Incorrect" in page.content
    client.post(
        reverse("qa:triage"),
        {"feedback_id": feedback.pk, "state": "resolved", "note": "updated the doc", "withdraw": "yes"},
    )
    feedback.refresh_from_db()
    assert feedback.triage_state == "resolved" and feedback.triaged_by == reviewer
    assert not ReusableAnswer.objects.filter(active=True).exists(), "withdrawn by the reviewer: never served again"


def test_feedback_rejects_unknown_reasons_and_other_users_answers(staff) -> None:  # noqa: ANN001
    user, _, _ = staff
    answer = _ask(user, "What is the hotel limit in London?")
    with pytest.raises(ApplicationError, match="Unknown reason"):
        feedback_submit(user=user, answer_id=answer.pk, helpful=False, reason="because")
    stranger = user_create(username="stranger")
    with pytest.raises(ApplicationError, match="does not exist"):
        feedback_submit(user=stranger, answer_id=answer.pk, helpful=True)
    with pytest.raises(ApplicationError, match="longer than"):
        feedback_submit(user=user, answer_id=answer.pk, helpful=False, comment="x" * 2001)


def test_review_pages_are_for_reviewers_and_filter_the_queue(staff, client) -> None:  # noqa: ANN001
    user, _, _ = staff
    _ask(user, "What dose of ibuprofen should I take for my back pain at work?")
    client.force_login(user)
    assert client.get(reverse("qa:review")).status_code == 403
    assert client.get(reverse("qa:triage")).status_code == 403
    reviewer = user_create(username="rev", groups=("reviewers", "staff"))
    client.force_login(reviewer)
    page = client.get(reverse("qa:review"))
    assert b"ibuprofen" in page.content
    assert b"ibuprofen" not in client.get(reverse("qa:review") + "?topic=legal").content
    item = ReviewItem.objects.get()
    detail = client.get(reverse("qa:review-item", args=[item.pk]))
    assert b"Verification, sentence by sentence" in detail.content and b"company nurse" in detail.content
    client.post(reverse("qa:review-item", args=[item.pk]), {"action": "approve"})
    export = client.get(reverse("qa:curated-export"))
    case = json.loads(export.content.decode().splitlines()[0])
    assert case["type"] == "curated" and "ibuprofen" in case["question"] and case["sources"] == ["wellness.md"]


# ------------------------------------------------------------------ measurement


def test_evaluate_command_measures_a_question_set(staff, tmp_path) -> None:  # noqa: ANN001
    _, collection, _ = staff
    rows = [
        {"id": "t-1", "type": "factoid", "question": "What is the hotel limit in London?", "answer": "260 euros",
         "must_contain_any": [["260"]], "sources": ["travel.md"], "paraphrase_of": None},
        {"id": "t-2", "type": "unanswerable", "question": "Which country won the 2018 football world cup?",
         "answer": "", "must_contain_any": [], "sources": [], "paraphrase_of": None},
        {"id": "t-3", "type": "high_stakes", "question": "What dose of ibuprofen should I take for my back pain?",
         "answer": "", "must_contain_any": [], "sources": [], "paraphrase_of": None},
    ]  # fmt: skip
    question_set = tmp_path / "set.jsonl"
    question_set.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / f"out-{uuid.uuid4().hex[:6]}"
    call_command("evaluate", "--set", str(question_set), "--collection", collection.name, "--out", str(out))
    result = json.loads((out / "results.json").read_text())
    summary = result["summary"]
    assert summary["answerable_correct"] == 1 and summary["unanswerable_declined"] == 1
    assert summary["high_stakes_flagged_or_declined"] == 1 and summary["ungrounded_sentences"] == 0
    assert summary["latency_ms"]["total_p95"] > 0
    assert "| t-1 | factoid | answered | yes |" in (out / "report.md").read_text()


def test_evaluate_counts_invented_sentences_of_a_hallucinating_model(staff, tmp_path) -> None:  # noqa: ANN001
    _, collection, _ = staff
    row = {"id": "t-1", "type": "factoid", "question": "What are the hotel limits in London and elsewhere?",
           "answer": "", "must_contain_any": [["260"]], "sources": ["travel.md"], "paraphrase_of": None}  # fmt: skip
    question_set = tmp_path / "set.jsonl"
    question_set.write_text(json.dumps(row) + "\n")
    out = tmp_path / "out"
    call_command(
        "evaluate", "--set", str(question_set), "--collection", collection.name, "--out", str(out),
        "--provider", "simulated-hallucinating",
    )  # fmt: skip
    summary = json.loads((out / "results.json").read_text())["summary"]
    assert summary["invented_sentences_generated"] == 2
    assert summary["invented_sentences_shown"] == 0


# ------------------------------------------------------------------ judge verifier


class _JudgeServer:
    """A loopback OpenAI-compatible endpoint that answers a judge prompt with fixed JSON."""

    def __init__(self, content: str, status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        server = self
        self.prompts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.prompts.append(body["messages"][0]["content"])
                data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _three_passages() -> list:
    from providers.llm.base import ContextPassage

    texts = ["Alpha ships on Mondays.", "Beta ships on Tuesdays.", "Gamma ships on Fridays."]
    return [ContextPassage(n, n, 1, "T", "", None, "s.md", t) for n, t in enumerate(texts, start=1)]


def test_a_configured_judge_model_decides_support() -> None:
    from providers.registry import embedding_provider_default
    from qa.checks.verification import EvidenceVerifier, JudgeVerifier, answer_verify

    judge = _JudgeServer('{"scores": [[0.9, 0.0, 0.0], [0.0, 0.1, 0.0]]}')
    try:
        verifier = JudgeVerifier(
            url=judge.url, model="judge-1", api_key="", fallback=EvidenceVerifier(embedder=embedding_provider_default())
        )
        result = answer_verify(
            text="Alpha ships on Mondays [1]. Beta ships on Sundays [2].", passages=_three_passages(), verifier=verifier
        )
    finally:
        judge.close()
    assert "Beta ships on Sundays" in judge.prompts[0]
    assert result.text == "Alpha ships on Mondays [1]." and result.verifier == "judge-v1"


def test_a_failing_judge_falls_back_to_the_evidence_verifier() -> None:
    from providers.registry import embedding_provider_default
    from qa.checks.verification import EvidenceVerifier, JudgeVerifier, answer_verify

    judge = _JudgeServer("not json at all")
    try:
        verifier = JudgeVerifier(
            url=judge.url, model="judge-1", api_key="", fallback=EvidenceVerifier(embedder=embedding_provider_default())
        )
        result = answer_verify(
            text="Alpha ships on Mondays [1]. Gamma ships on Fridays [1].",
            passages=_three_passages(),
            verifier=verifier,
        )
    finally:
        judge.close()
    assert result.text == "Alpha ships on Mondays [1]. Gamma ships on Fridays [3]."
