"""A prompt reviewer starts an A/B experiment in the browser from the link an approved version
gets, reads the arms' numbers and verdicts once answers come in, and promotes the better arm:
the production label moves. Chromium under the content-security policy (no violations)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission

from core.roles import PROMPT_REVIEWERS
from prompts.models import Experiment, ExperimentState, PromptLabel
from prompts.services.registry import version_create
from qa.models import Answer, AnswerStatus, Conversation, Feedback
from tests.factories import user_create
from tests.helpers import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _answers(arm, *, helpful: int, first_words: int) -> None:
    """40 rated answers of ``arm``, the first ``helpful`` of them rated helpful."""
    user = user_create()
    conversation = Conversation.objects.create(user=user)
    answers = Answer.objects.bulk_create(
        [Answer(conversation=conversation, question=f"q{i}", experiment_arm=arm, status=AnswerStatus.ANSWERED,
                timings_ms={"first_token": first_words + i}, verification={"removed": i % 2},
                cost=Decimal("0.0010")) for i in range(40)]
    )  # fmt: skip
    Feedback.objects.bulk_create([Feedback(answer=a, user=user, helpful=i < helpful) for i, a in enumerate(answers)])


def test_a_reviewer_starts_reads_and_promotes_an_experiment(
    daphne_server: str, browser_page, artifacts_dir: Path
) -> None:
    page = browser_page
    rita = user_create(username="rita", groups=(PROMPT_REVIEWERS,), staff=True)
    # A transactional test's flush drops the data migration's group permissions: granted here.
    rita.user_permissions.add(Permission.objects.get(codename="review_prompt"))
    version_create(
        prompt_id="answer",
        messages=[
            {"role": "system", "template": "Answer from the passages only; cite each sentence like [1]."},
            {"role": "user", "template": "<passages>\n${passages}\n</passages>\n\nQuestion: ${question}"},
        ],
        actor=None,
    )
    # The link an approved version's page gives (its query string escaped inside ?next=).
    sign_in(page, daphne_server, "rita", quote("/ops/experiments/new/?prompt=answer&version=3"))
    page.wait_for_selector("#experiment-form")
    assert page.locator("select[name=arm_version_1]").input_value() == "3"
    page.fill("input[name=name]", "cite every sentence")
    page.fill("input[name=min_sample]", "30")
    page.screenshot(path=str(artifacts_dir / "issue16-experiment-form.png"), full_page=True)
    page.click("#experiment-start")
    page.wait_for_selector("#experiment-arms")
    experiment = Experiment.objects.get(name="cite every sentence")
    assert experiment.state == ExperimentState.RUNNING

    _answers(experiment.arms.get(name="control"), helpful=20, first_words=900)
    _answers(experiment.arms.get(name="variant"), helpful=36, first_words=700)
    page.reload()
    helpful = page.locator("#verdicts-variant li[data-metric=helpful_rate]")
    assert helpful.get_attribute("data-outcome") == "better"
    assert "Better: 40.0 points higher than control" in helpful.inner_text()
    declines = page.locator("#verdicts-variant li[data-metric=decline_rate]").inner_text()
    assert "No significant difference (the same as control, p = 1.000)" in declines
    page.screenshot(path=str(artifacts_dir / "issue16-experiment-detail.png"), full_page=True)

    page.click(f"#promote-{experiment.arms.get(name='variant').pk}")
    page.wait_for_selector("text=the production label follows it")
    assert PromptLabel.objects.get(prompt_id="answer", name="production").version.version == 3
    assert page.locator("#experiment-state").inner_text() == "Stopped, an arm promoted"
    page.goto(f"{daphne_server}/ops/experiments/")
    assert "cite every sentence" in page.locator("#experiment-list").inner_text()
    page.screenshot(path=str(artifacts_dir / "issue16-experiment-list.png"), full_page=True)
