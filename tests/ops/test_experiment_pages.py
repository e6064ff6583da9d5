"""The experiment pages: who sees them (staff and prompt reviewers; a plain user gets 403, an
anonymous visitor the sign-in page), starting an experiment from the form (the proposal page's
link preselects the version; invalid arms are shown, not saved), the arms' table and verdicts,
and stopping and promoting by POST (promoting only by prompt reviewers)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from core.roles import PROMPT_REVIEWERS
from prompts.models import EventAction, Experiment, ExperimentState, PromptEvent, PromptLabel
from prompts.services.experiments import ArmSpec, experiment_create
from prompts.services.registry import version_create
from qa.models import Answer, AnswerStatus, Conversation
from tests.factories import PASSWORD, collection_create, user_create

pytestmark = pytest.mark.django_db


def _client(username: str, groups: tuple[str, ...] = (), staff: bool = False) -> Client:
    user_create(username=username, groups=groups, staff=staff)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.fixture
def v3():
    return version_create(
        prompt_id="answer",
        messages=[
            {"role": "system", "template": "Answer from the passages only; cite each sentence like [1]."},
            {"role": "user", "template": "<passages>\n${passages}\n</passages>\n\nQuestion: ${question}"},
        ],
        actor=None,
    )


@pytest.fixture
def running(v3) -> Experiment:
    return experiment_create(name="strict", arms=[ArmSpec("A", 50), ArmSpec("B", 50, version=3)], actor=None,
                             min_sample=30)  # fmt: skip


def _form(**overrides: str) -> dict[str, str]:
    data = {"prompt": "answer", "name": "wording", "min_sample": "50",
            "arm_name_0": "control", "arm_version_0": "", "arm_tier_0": "", "arm_share_0": "50",
            "arm_name_1": "strict", "arm_version_1": "3", "arm_tier_1": "", "arm_share_1": "50"}  # fmt: skip
    return {**data, **overrides}


def test_staff_and_prompt_reviewers_see_the_pages_a_plain_user_does_not(running) -> None:
    urls = [
        reverse("ops:experiment_list"),
        reverse("ops:experiment_create"),
        reverse("ops:experiment_detail", kwargs={"experiment_id": running.pk}),
    ]
    staff, reviewer, plain = _client("op", staff=True), _client("rev", groups=(PROMPT_REVIEWERS,)), _client("pat")
    for url in urls:
        assert staff.get(url).status_code == 200
        assert reviewer.get(url).status_code == 200
        assert plain.get(url).status_code == 403
        assert Client().get(url).status_code == 302  # to the sign-in page
    for name in ("ops:experiment_stop", "ops:experiment_promote"):
        url = reverse(name, kwargs={"experiment_id": running.pk})
        assert plain.post(url, {"arm": running.arms.first().pk}).status_code == 403
    running.refresh_from_db()
    assert running.state == ExperimentState.RUNNING
    # The navigation shows the link to those allowed only.
    assert 'href="/ops/experiments/"' in staff.get(reverse("qa:chat")).content.decode()
    assert 'href="/ops/experiments/"' not in plain.get(reverse("qa:chat")).content.decode()
    listing = staff.get(urls[0]).content.decode()
    assert "strict" in listing and "B: v3 · 50%" in listing


def test_the_proposal_page_s_link_preselects_the_version(v3) -> None:
    page = _client("op", staff=True).get(reverse("ops:experiment_create") + "?prompt=answer&version=3")
    html = page.content.decode()
    selects = re.findall(r'<select name="arm_version_(\d)".*?</select>', html, flags=re.S)
    assert selects == ["0", "1", "2", "3"]
    variant = re.search(r'<select name="arm_version_1".*?</select>', html, flags=re.S).group(0)
    assert '<option value="3" selected>' in variant
    control = re.search(r'<select name="arm_version_0".*?</select>', html, flags=re.S).group(0)
    assert "selected" not in control and "production (now v2)" in control


def test_starting_an_experiment_by_post(v3) -> None:
    handbook = collection_create(name="Handbook", groups=("ops",))
    secret = collection_create(name="Secret", groups=("board",))
    client = _client("op", groups=("ops", PROMPT_REVIEWERS), staff=True)
    # A collection the admin cannot read is not offered, and not accepted either.
    response = client.post(reverse("ops:experiment_create"), {**_form(), "collections": [str(secret.pk)]})
    assert response.status_code == 400 and "Choose collections from the list" in response.content.decode()
    response = client.post(reverse("ops:experiment_create"), {**_form(), "collections": [str(handbook.pk)]})
    experiment = Experiment.objects.get(name="wording")
    assert response.status_code == 302 and response.url == f"/ops/experiments/{experiment.pk}/"
    assert experiment.collection_ids == [handbook.pk] and experiment.min_sample == 50
    assert [(a.name, a.prompt_version and a.prompt_version.version, a.share) for a in experiment.arms.all()] == [
        ("control", None, 50),
        ("strict", 3, 50),
    ]
    assert PromptEvent.objects.get(action=EventAction.EXPERIMENT_STARTED).actor_name == "op"


def test_invalid_arms_are_shown_and_nothing_is_saved(v3) -> None:
    client = _client("op", staff=True, groups=(PROMPT_REVIEWERS,))
    response = client.post(reverse("ops:experiment_create"), _form(arm_share_1="40"))
    assert response.status_code == 400 and "shares must sum to 100" in response.content.decode()
    response = client.post(reverse("ops:experiment_create"), _form(arm_tier_1="enormous"))
    assert "no model tier" in response.content.decode()
    # What was typed is kept.
    assert 'value="wording"' in response.content.decode()
    assert not Experiment.objects.exists()


def test_the_detail_page_shows_the_arms_and_verdicts_in_words(running) -> None:
    conversation = Conversation.objects.create(user=user_create())
    arm_b = running.arms.get(name="B")
    Answer.objects.bulk_create(
        [Answer(conversation=conversation, question="q", experiment_arm=arm_b, status=AnswerStatus.DECLINED,
                timings_ms={"first_token": 500}) for _ in range(3)]
    )  # fmt: skip
    html = _client("op", staff=True).get(reverse("ops:experiment_detail", kwargs={"experiment_id": running.pk}))
    text = html.content.decode()
    assert 'data-arm="A"' in text and 'data-arm="B"' in text and "answer-v3" in text
    assert "3/3 = 1.000" in text  # B's decline rate
    assert 'data-outcome="too_few"' in text
    assert "Too few to tell: 3 here and 0 in A, at least 30 each needed (lower is better)" in text
    assert "promote-" not in text  # staff without the reviewers' permission


def test_stop_and_promote_by_post(running) -> None:
    url_stop = reverse("ops:experiment_stop", kwargs={"experiment_id": running.pk})
    url_promote = reverse("ops:experiment_promote", kwargs={"experiment_id": running.pk})
    arm_b = running.arms.get(name="B")
    staff = _client("op", staff=True)
    # Staff may stop but not promote: promoting moves production.
    response = staff.post(url_promote, {"arm": arm_b.pk}, follow=True)
    assert "Only prompt reviewers" in response.content.decode()
    assert PromptLabel.objects.get(prompt_id="answer", name="production").version.version == 2
    response = staff.post(url_stop, {"note": "seen enough"})
    assert response.status_code == 302
    running.refresh_from_db()
    assert running.state == ExperimentState.STOPPED
    assert PromptEvent.objects.get(action=EventAction.EXPERIMENT_STOPPED).note == "seen enough"

    reviewer = _client("rev", groups=(PROMPT_REVIEWERS,))
    page = reviewer.get(reverse("ops:experiment_detail", kwargs={"experiment_id": running.pk})).content.decode()
    assert f'id="promote-{arm_b.pk}"' in page and "experiment-stop" not in page
    response = reviewer.post(url_promote, {"arm": arm_b.pk}, follow=True)
    assert "the production label follows it" in response.content.decode()
    running.refresh_from_db()
    assert running.state == ExperimentState.PROMOTED and running.promoted_arm == arm_b
    assert PromptLabel.objects.get(prompt_id="answer", name="production").version.version == 3
    assert PromptEvent.objects.get(action=EventAction.ARM_PROMOTED).actor_name == "rev"
    # Without a CSRF token the POST is refused.
    strict = Client(enforce_csrf_checks=True)
    assert strict.login(username="rev", password=PASSWORD)
    assert strict.post(url_stop).status_code == 403


def test_staff_who_are_not_prompt_reviewers_cannot_start_an_experiment(v3) -> None:
    # An arm with a 100% share would put a version in front of everyone: a deployment.
    response = _client("op", staff=True).post(reverse("ops:experiment_create"), _form())
    assert response.status_code == 400 and "Only prompt reviewers can start an experiment" in response.content.decode()
    assert not Experiment.objects.exists()
