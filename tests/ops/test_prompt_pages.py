"""The prompt pages: who sees them, proposing in the browser (variables listed, escaped diff,
broken templates refused, tests enqueued after commit), the results polled while the tests
run, the review (never by the author) and label moves (reviewers only)."""

from __future__ import annotations

import pytest
from django.test import Client

from core.roles import PROMPT_EDITORS, PROMPT_REVIEWERS
from prompts.models import EventAction, PromptEvent, PromptLabel, PromptProposal, ProposalState
from prompts.services.proposals import proposal_create, proposal_results_record
from prompts.services.registry import prompt_current
from tests.factories import PASSWORD, user_create

pytestmark = pytest.mark.django_db

ADDED = "Answer in the language of the question."


def _client(username: str, groups: tuple[str, ...] = (), staff: bool = False) -> Client:
    user_create(username=username, groups=groups, staff=staff)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def _production(prompt_id: str = "answer") -> list[dict[str, str]]:
    return [dict(m) for m in PromptLabel.objects.get(prompt_id=prompt_id, name="production").version.messages]


def _form(system: str, summary: str = "Reply in kind", action: str = "submit") -> dict[str, str]:
    messages = _production()
    return {"message-0": system, "message-1": messages[1]["template"], "summary": summary, "action": action}


@pytest.fixture
def tested(db: None) -> PromptProposal:
    editor = user_create(username="ed", groups=(PROMPT_EDITORS,))
    messages = _production()
    messages[0]["template"] += " " + ADDED
    proposal = proposal_create(prompt_id="answer", messages=messages, summary="Reply in kind", author=editor)
    suite = {
        "ok": True,
        "passed": 1,
        "failed": 0,
        "skipped": 0,
        "provider": "simulated",
        "model": "double",
        "cases": [{"name": "answers from one passage", "result": "passed", "passed": True, "checks": []}],
    }
    golden = {
        "ran": True,
        "set": "demo_qa.jsonl",
        "provider": "simulated-instructed",
        "summary": {
            "items": 14,
            "answerable": 12,
            "answered_with_fact": 11,
            "false_declines": 1,
            "unanswerable": 2,
            "unanswerable_declined": 2,
            "delivered_sentences": 20,
            "unsupported_delivered": 0,
            "verifier_removed": 0,
        },
    }
    item = {
        "id": "demo-005",
        "type": "factoid",
        "question": "How many days of leave?",
        "status": "answered",
        "correct": True,
        "declined": False,
        "answer": "28 days [1].",
        "unsupported": 0,
        "removed": 0,
    }
    same = {**item, "id": "demo-006", "question": "How far ahead?"}
    golden["items"] = [item, same]
    worse = {
        **golden,
        "summary": {**golden["summary"], "answered_with_fact": 10},
        "items": [{**item, "status": "declined", "correct": False, "answer": "The documents do not say."}, same],
    }
    return proposal_results_record(
        proposal_id=proposal.pk,
        results={"prompt_key": "answer-v0", "suite": suite, "golden": worse},
        baseline_results={"prompt_key": "answer-v2", "suite": suite, "golden": golden},
        ok=True,
    )


def test_only_staff_editors_and_reviewers_see_the_prompt_pages() -> None:
    reader = _client("reader")
    assert reader.get("/ops/prompts/").status_code == 403
    assert b'href="/ops/prompts/"' not in reader.get("/chat/").content
    for client in (_client("ed", (PROMPT_EDITORS,)), _client("rev", (PROMPT_REVIEWERS,)), _client("op", staff=True)):
        page = client.get("/ops/prompts/")
        assert page.status_code == 200
        assert b'href="/ops/prompts/"' in client.get("/chat/").content
        assert b"production \xe2\x86\x92 <a" in page.content and b'href="/ops/prompts/answer/v2/"' in page.content


def test_the_propose_page_lists_the_variables_and_is_prefilled_with_production() -> None:
    page = _client("ed", (PROMPT_EDITORS,)).get("/ops/prompts/answer/propose/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<code>${passages}</code>" in html and "framed as untrusted data" in html
    assert "<code>${question}</code>" in html
    assert "Cite every claim with the passage number" in html  # the system message, in its text area
    assert 'name="message-1"' in html


def test_the_preview_is_a_word_diff_with_every_piece_escaped() -> None:
    client = _client("ed", (PROMPT_EDITORS,))
    system = _production()[0]["template"] + " <script>alert(1)</script> " + ADDED
    partial = client.post("/ops/prompts/answer/propose/", _form(system, action="preview"), HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert f"<ins> &lt;script&gt;alert(1)&lt;/script&gt; {ADDED}</ins>" in html
    assert "(+8 / −0 words)" in html  # the script tag is one word, the sentence seven
    assert not PromptProposal.objects.exists()  # a preview proposes nothing


def test_a_broken_template_is_refused_on_the_page() -> None:
    client = _client("ed", (PROMPT_EDITORS,))
    page = client.post("/ops/prompts/answer/propose/", _form(_production()[0]["template"] + " ${audience}"))
    assert page.status_code == 200
    assert "unknown variable ${audience}" in page.content.decode()
    assert not PromptProposal.objects.exists()


def test_submitting_records_the_proposal_and_starts_its_tests_after_commit(django_capture_on_commit_callbacks) -> None:
    client = _client("ed", (PROMPT_EDITORS,))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/ops/prompts/answer/propose/", _form(_production()[0]["template"] + " " + ADDED))
    proposal = PromptProposal.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/ops/prompts/proposals/{proposal.pk}/"
    assert len(callbacks) == 1  # the Celery task, enqueued once the row is committed
    assert proposal.messages[0]["template"].endswith(ADDED) and "\r" not in proposal.messages[0]["template"]

    page = client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 2s"' in page and "Being tested" in page  # the results are polled
    partial = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('\n<div id="proposal-status"') or partial.lstrip().startswith('<div id="proposal-status"')
    assert "<html" not in partial


def test_a_non_editor_cannot_submit() -> None:
    client = _client("rev", (PROMPT_REVIEWERS,))
    page = client.post("/ops/prompts/answer/propose/", _form(_production()[0]["template"] + " " + ADDED))
    assert "may not propose" in page.content.decode()
    assert not PromptProposal.objects.exists()


def test_results_are_shown_beside_production_and_polling_stops(tested: PromptProposal) -> None:
    page = _client("rev", (PROMPT_REVIEWERS,)).get(f"/ops/prompts/proposals/{tested.pk}/").content.decode()
    assert "hx-trigger" not in page
    assert 'id="suite-results"' in page and "answers from one passage" in page
    assert 'data-measure="answered_with_fact"' in page
    assert "10 of 12" in page and "11 of 12" in page and "worse" in page
    changed = page[page.index('id="golden-changed"') :]
    assert "How many days of leave?" in changed and "How far ahead?" not in changed  # only what differs
    assert "The documents do not say." in changed and "28 days [1]." in changed
    assert 'id="approve"' in page and 'id="reject"' in page


def test_the_author_sees_no_approve_button_and_cannot_approve(tested: PromptProposal) -> None:
    client = Client()
    client.login(username="ed", password=PASSWORD)
    page = client.get(f"/ops/prompts/proposals/{tested.pk}/").content.decode()
    assert 'id="approve"' not in page
    response = client.post(f"/ops/prompts/proposals/{tested.pk}/decide/", {"action": "approve"}, follow=True)
    assert "Only prompt reviewers" in response.content.decode()
    tested.refresh_from_db()
    assert tested.state == ProposalState.TESTED


def test_a_reviewer_approves_deploys_and_rolls_back(tested: PromptProposal) -> None:
    reviewer = _client("rev", (PROMPT_REVIEWERS,))
    page = reviewer.post(
        f"/ops/prompts/proposals/{tested.pk}/decide/", {"action": "approve", "note": "ok"}, follow=True
    )
    html = page.content.decode()
    assert "Approved: version 3 created. No label moved yet." in html
    assert 'id="deploy-production"' in html and 'id="move-staging"' in html
    assert 'href="/ops/experiments/new/?prompt=answer&amp;version=3"' in html
    assert prompt_current(prompt_id="answer").version == 2

    back = f"/ops/prompts/proposals/{tested.pk}/"
    moved = reviewer.post("/ops/prompts/answer/labels/", {"action": "move", "label": "production", "version": "3",
                                                         "note": "ship it", "next": back})  # fmt: skip
    assert moved.status_code == 302 and moved["Location"] == back
    assert prompt_current(prompt_id="answer").version == 3
    assert 'id="rollback-production"' in reviewer.get(back).content.decode()

    reviewer.post("/ops/prompts/answer/labels/", {"action": "rollback", "label": "production"})
    assert prompt_current(prompt_id="answer").version == 2
    history = reviewer.get("/ops/prompts/answer/").content.decode()
    assert "v3 → v2" in history and "v2 → v3" in history and "ship it" in history
    moves = PromptEvent.objects.filter(action=EventAction.LABEL_MOVED, label="production", actor_name="rev")
    assert moves.count() == 2


def test_an_editor_or_staff_member_cannot_move_a_label(tested: PromptProposal) -> None:
    for client in (_client("ed2", (PROMPT_EDITORS,)), _client("op", staff=True)):
        response = client.post("/ops/prompts/answer/labels/", {"action": "move", "label": "production",
                                                                "version": "1"}, follow=True)  # fmt: skip
        assert "Only prompt reviewers can move a label." in response.content.decode()
        response = client.post("/ops/prompts/answer/labels/", {"action": "rollback", "label": "production"},
                               follow=True)  # fmt: skip
        assert "Only prompt reviewers can roll a label back." in response.content.decode()
    assert prompt_current(prompt_id="answer").version == 2


def test_a_version_page_shows_its_content_and_the_diff_against_production(tested: PromptProposal) -> None:
    reviewer = _client("rev", (PROMPT_REVIEWERS,))
    reviewer.post(f"/ops/prompts/proposals/{tested.pk}/decide/", {"action": "approve"})
    html = reviewer.get("/ops/prompts/answer/v3/").content.decode()
    assert f"<ins> {ADDED}</ins>" in html
    assert 'from <a href="/ops/prompts/proposals/' in html and "approved by rev" in html
    assert reviewer.get("/ops/prompts/answer/v99/").status_code == 404
    assert reviewer.get("/ops/prompts/nosuch/").status_code == 404
