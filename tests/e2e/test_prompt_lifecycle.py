"""The prompt lifecycle in a real browser, with a real Celery worker: an editor proposes a change
to the answering prompt and sees its suite and golden evaluation beside production's; a
reviewer approves it and deploys it; the next answer records the new version (and sends its
words to the model); the reviewer rolls back and the next answer records the old one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from core.roles import PROMPT_EDITORS, PROMPT_REVIEWERS
from ingestion.services.demo import demo_corpus_load
from ingestion.services.pipeline import document_process
from prompts.models import EventAction, PromptEvent, PromptProposal, ProposalState
from qa.models import Answer, Interaction
from tests.factories import user_create
from tests.helpers import database_url_for, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ADDED = "Answer in the language of the question."
CITE_RULE = "Cite every claim with the passage number in square brackets, like [1] or [2][3]. "
# The worker loads the embedding model, then answers 28 golden questions and runs two suites.
TESTS_TIMEOUT_MS = 240_000


def _ask(page, question: str, count: int) -> Answer:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.fill("#question", question)
    page.keyboard.press("Enter")
    expect(page.locator(".bubble.answer.final")).to_have_count(count, timeout=90_000)
    return Answer.objects.filter(question=question).latest("pk")


@pytest.fixture
def demo_handbook(transactional_db: None) -> None:
    """The demo corpus, ingested here before the browser's event loop starts (the golden set
    asks about it)."""
    readers = Group.objects.get_or_create(name="demo_readers")[0]
    for document in demo_corpus_load(readers=readers):
        document_process(document_id=document.pk)


def test_an_editor_proposes_a_reviewer_deploys_and_rolls_back(
    demo_handbook: None, daphne_server: str, celery_worker_for, two_browser_pages, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    celery_worker_for(settings.REDIS_URL, database_url_for(settings.DATABASES["default"]["NAME"]))
    user_create(username="editor", groups=(PROMPT_EDITORS, "demo_readers"))
    user_create(username="approver", groups=(PROMPT_REVIEWERS,))
    editor, reviewer = two_browser_pages

    # The editor drafts a change in the browser and previews the diff against production.
    sign_in(editor, daphne_server, "editor", "/ops/prompts/")
    expect(editor.locator("tr.prompt-row[data-prompt=answer]")).to_contain_text("production → v2")
    editor.click("tr.prompt-row[data-prompt=answer] a >> nth=0")
    editor.click("#propose-link")
    expect(editor.locator("#prompt-variables")).to_contain_text("${passages}")
    system = editor.locator("#message-0")
    system.fill(system.input_value() + " " + ADDED)
    editor.fill("#summary", "Answer in the reader's language")
    editor.click("#preview")
    expect(editor.locator("#diff pre ins")).to_have_text(f" {ADDED}")
    editor.screenshot(path=str(artifacts_dir / "issue16-propose.png"), full_page=True)

    # Submitting starts the tests; the page shows them when the worker is done (polling).
    editor.click("#submit-proposal")
    expect(editor.locator("#proposal-state")).to_have_text("Being tested")
    editor.screenshot(path=str(artifacts_dir / "issue16-testing.png"), full_page=True)
    proposal_id = int(re.search(r"/proposals/(\d+)/", editor.url).group(1))  # type: ignore[union-attr]
    expect(editor.locator("#proposal-state")).to_have_text("Tested, waiting for review", timeout=TESTS_TIMEOUT_MS)
    expect(editor.locator("#suite-summary")).to_contain_text("0 failed")
    expect(editor.locator("#suite-results tr.suite-case").first).to_be_visible()
    golden = editor.locator("#golden-results")
    expect(golden.locator("tr[data-measure=answered_with_fact]")).to_contain_text("of 12")
    expect(golden.locator("tr[data-measure=unanswerable_declined]")).to_be_visible()
    expect(editor.locator("#approve")).to_have_count(0)  # the author cannot approve
    editor.screenshot(path=str(artifacts_dir / "issue16-results.png"), full_page=True)
    proposal = PromptProposal.objects.get(pk=proposal_id)
    assert proposal.results["prompt_key"] == "answer-v0" and proposal.baseline_results["prompt_key"] == "answer-v2"
    assert proposal.results["golden"]["ran"] and proposal.baseline_results["golden"]["ran"]

    # A reviewer approves (a new version, no label moved), then deploys it to production.
    sign_in(reviewer, daphne_server, "approver", f"/ops/prompts/proposals/{proposal_id}/")
    expect(reviewer.locator("#golden-results")).to_be_visible()
    reviewer.fill("form:has(#approve) input[name=note]", "Reads well; suite and golden set unchanged.")
    reviewer.click("#approve")
    expect(reviewer.locator("ul.messages")).to_contain_text("Approved: version 3 created. No label moved yet.")
    expect(reviewer.locator("#start-experiment")).to_have_attribute(
        "href", re.compile(r"/ops/experiments/.*\?prompt=answer&version=3")
    )
    reviewer.fill("form:has(#deploy-production) input[name=note]", "Deploying proposal")
    reviewer.click("#deploy-production")
    expect(reviewer.locator("ul.messages")).to_contain_text("production now points at version 3")
    reviewer.screenshot(path=str(artifacts_dir / "issue16-approved-deployed.png"), full_page=True)

    # The next answer is written with version 3, and the model was sent its words.
    editor.goto(f"{daphne_server}/chat/")
    expect(editor.locator("#connection")).to_have_text("live", timeout=10_000)
    answer = _ask(editor, "How many days of paid annual leave do full-time employees receive?", 1)
    assert answer.prompt_key == "answer-v3"
    sent = Interaction.objects.filter(answer=answer).first()
    assert sent is not None and sent.prompt_key == "answer-v3"
    assert ADDED in sent.prompt["messages"][0]["content"]
    editor.screenshot(path=str(artifacts_dir / "issue16-answer-v3.png"), full_page=True)

    # The reviewer rolls back; the next answer is written with version 2 again.
    reviewer.click("#rollback-production")
    expect(reviewer.locator("ul.messages")).to_contain_text("production rolled back to version 2")
    # A new conversation. In this browser session Chromium had put an empty style="" on the chat's
    # form fields by now (seen in the DOM, not set by Verity's code), and htmx copying it while it
    # swaps #conversation-id for a follow-up is reported as a CSP violation: not this test's subject.
    editor.goto(f"{daphne_server}/chat/")
    expect(editor.locator("#connection")).to_have_text("live", timeout=10_000)
    answer = _ask(editor, "How far ahead must leave longer than three days be booked?", 1)
    assert answer.prompt_key == "answer-v2"
    sent = Interaction.objects.filter(answer=answer).first()
    assert sent is not None and sent.prompt_key == "answer-v2" and ADDED not in sent.prompt["messages"][0]["content"]

    reviewer.goto(f"{daphne_server}/ops/prompts/answer/")
    history = reviewer.locator("#prompt-history")
    expect(history).to_contain_text("v3 → v2")
    expect(history).to_contain_text("v2 → v3")
    reviewer.screenshot(path=str(artifacts_dir / "issue16-history.png"), full_page=True)
    steps = list(PromptEvent.objects.filter(prompt_id="answer").order_by("pk").values_list("action", "actor_name"))
    assert steps[-6:] == [
        (EventAction.PROPOSAL_SUBMITTED, "editor"),
        (EventAction.PROPOSAL_TESTED, "system"),
        (EventAction.VERSION_CREATED, "editor"),
        (EventAction.PROPOSAL_APPROVED, "approver"),
        (EventAction.LABEL_MOVED, "approver"),
        (EventAction.LABEL_MOVED, "approver"),
    ]
    assert PromptProposal.objects.get(pk=proposal_id).state == ProposalState.APPROVED

    # A draft that loses the citation rule fails its suite, shown case by case; nobody can approve it.
    editor.goto(f"{daphne_server}/ops/prompts/answer/propose/")
    system = editor.locator("#message-0")
    system.fill(system.input_value().replace(CITE_RULE, ""))
    editor.fill("#summary", "Shorter rules")
    editor.click("#submit-proposal")
    expect(editor.locator("#proposal-state")).to_have_text("Failed its tests", timeout=TESTS_TIMEOUT_MS)
    failed = editor.locator("#suite-results tr.result-failed")
    expect(failed.first).to_contain_text("cites_every_sentence")
    expect(editor.locator("#suite-summary")).to_contain_text(re.compile(r"production \(v2\): \d+ passed, 0 failed"))
    editor.screenshot(path=str(artifacts_dir / "issue16-failed-suite.png"), full_page=True)
    reviewer.goto(editor.url)
    expect(reviewer.locator("#approve")).to_have_count(0)
    expect(reviewer.locator("#reject")).to_be_visible()
