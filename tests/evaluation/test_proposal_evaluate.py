"""Testing a proposed prompt change: the suite and the golden evaluation run for the proposal
and for production, stored side by side; a proposal that loses an instruction fails its suite
and cannot be approved."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import OperationalError

from core.errors import ApplicationError
from core.roles import PROMPT_EDITORS, PROMPT_REVIEWERS
from evaluation.models import EvalRun
from evaluation.services.golden import GOLDEN_SET, golden_run
from evaluation.services.proposals import proposal_evaluate
from evaluation.services.runs import items_load
from evaluation.tasks import MAX_RETRIES, proposal_evaluate_task
from ingestion.services.demo import demo_corpus_load
from ingestion.services.pipeline import document_process
from prompts.models import EventAction, PromptEvent, PromptLabel, ProposalState
from prompts.services.proposals import proposal_approve, proposal_create
from qa.models import Answer
from tests.factories import user_create

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CITE_RULE = "Cite every claim with the passage number in square brackets, like [1] or [2][3]. "


def _messages(edit: Any) -> list[dict[str, str]]:
    row = PromptLabel.objects.select_related("version").get(prompt_id="answer", name="production").version
    messages = [dict(m) for m in row.messages]
    edit(messages)
    return messages


@pytest.fixture
def demo_corpus(db: None) -> None:
    for document in demo_corpus_load(readers=Group.objects.get_or_create(name="demo_readers")[0]):
        document_process(document_id=document.pk)


@pytest.fixture
def editor() -> Any:
    return user_create(username="ed", groups=(PROMPT_EDITORS,))


def test_the_golden_set_is_well_formed_and_about_the_demo_corpus() -> None:
    items = items_load(GOLDEN_SET)
    assert 10 <= len(items) <= 14
    assert sum(1 for i in items if i["type"] == "unanswerable") in (2, 3)
    assert {s for i in items for s in i["sources"]} == {"expenses.md", "leave.md", "onboarding.md", "security.md"}


def test_a_proposal_and_production_are_tested_side_by_side(demo_corpus: None, editor: Any) -> None:
    proposal = proposal_create(
        prompt_id="answer", summary="Answer in the reader's language", author=editor,
        messages=_messages(lambda m: m[0].update(template=m[0]["template"] + " Answer in the language of the question.")),
    )  # fmt: skip
    proposal_evaluate_task.apply(args=[proposal.pk])  # the task, run here
    proposal.refresh_from_db()

    assert proposal.state == ProposalState.TESTED
    mine, production = proposal.results, proposal.baseline_results
    assert (mine["prompt_key"], production["prompt_key"]) == ("answer-v0", "answer-v2")
    for side in (mine, production):
        assert side["suite"]["ok"] and side["suite"]["failed"] == 0 and side["suite"]["passed"] >= 3
        assert side["golden"]["ran"] and side["golden"]["summary"]["items"] == len(items_load(GOLDEN_SET))
        assert side["golden"]["summary"]["answered_with_fact"] >= 8
        assert side["golden"]["summary"]["unanswerable_declined"] == 2
    assert mine["golden"]["prompts"]["answer"] == "answer-v0"
    assert production["golden"]["prompts"]["answer"] == "answer-v2"
    # The golden answers were written with the draft and with production, and say so.
    keys = set(Answer.objects.values_list("prompt_key", flat=True))
    assert keys == {"answer-v0", "answer-v2"}
    assert EvalRun.objects.filter(name="golden answer-v0").count() == 1
    tested = PromptEvent.objects.get(action=EventAction.PROPOSAL_TESTED)
    assert tested.detail == {"proposal": proposal.pk, "ok": True}

    # Running the task again (a redelivered message) changes nothing.
    runs = EvalRun.objects.count()
    proposal_evaluate(proposal_id=proposal.pk)
    assert EvalRun.objects.count() == runs


def test_a_proposal_that_drops_the_citation_rule_fails_its_suite(demo_corpus: None, editor: Any) -> None:
    proposal = proposal_create(
        prompt_id="answer", summary="Shorter rules", author=editor,
        messages=_messages(lambda m: m[0].update(template=m[0]["template"].replace(CITE_RULE, ""))),
    )  # fmt: skip
    assert CITE_RULE not in proposal.messages[0]["template"]
    proposal_evaluate(proposal_id=proposal.pk)
    proposal.refresh_from_db()

    assert proposal.state == ProposalState.FAILED
    suite = proposal.results["suite"]
    assert not suite["ok"] and suite["failed"] >= 1
    failing = [c for c in suite["cases"] if c["result"] == "FAILED"]
    assert any(
        check["name"] == "cites_every_sentence" and not check["passed"] for c in failing for check in c["checks"]
    )
    assert proposal.baseline_results["suite"]["ok"]  # production still passes
    # In the golden run the pipeline's safety net hides the loss (the fallback prompt rewrites
    # the uncited answers): the page counts how often it had to.
    fallbacks = proposal.results["golden"]["summary"]["prompt_fallbacks"]
    assert fallbacks > proposal.baseline_results["golden"]["summary"]["prompt_fallbacks"]
    reviewer = user_create(username="rev", groups=(PROMPT_REVIEWERS,))
    with pytest.raises(ApplicationError, match="Only a tested proposal"):
        proposal_approve(proposal=proposal, reviewer=reviewer)


def test_without_the_demo_collection_the_golden_run_says_so(editor: Any) -> None:
    result = golden_run(prompts=None)
    assert result["ran"] is False and "manage.py bootstrap" in result["error"]


def test_a_missing_proposal_is_reported_not_raised() -> None:
    assert proposal_evaluate_task.apply(args=[987654]).get() == {"proposal_id": 987654, "state": "missing"}


def test_retries_exhausted_leave_the_reason_on_the_proposal(editor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    proposal = proposal_create(
        prompt_id="answer", summary="x", author=editor,
        messages=_messages(lambda m: m[0].update(template=m[0]["template"] + " Be brief.")),
    )  # fmt: skip
    attempts: list[int] = []

    def database_down(*, proposal_id: int) -> None:
        attempts.append(proposal_id)
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("evaluation.tasks.proposal_evaluate", database_down)
    assert proposal_evaluate_task.apply(args=[proposal.pk]).get()["state"] == "failed"
    proposal.refresh_from_db()
    assert len(attempts) == MAX_RETRIES + 1
    assert proposal.state == ProposalState.FAILED
    assert proposal.results["error"].startswith(f"the tests could not run after {MAX_RETRIES + 1} attempts")
    assert "could not connect to server" in proposal.results["error"]


def test_a_bug_in_the_tests_fails_the_proposal_with_the_error(editor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    proposal = proposal_create(
        prompt_id="answer", summary="x", author=editor,
        messages=_messages(lambda m: m[0].update(template=m[0]["template"] + " Be brief.")),
    )  # fmt: skip

    def broken(*, proposal_id: int) -> None:
        raise KeyError("suite")

    monkeypatch.setattr("evaluation.tasks.proposal_evaluate", broken)
    proposal_evaluate_task.apply(args=[proposal.pk])
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.FAILED
    assert proposal.results == {"error": "the tests stopped with an error: KeyError: 'suite'"}
