"""A model tier's change runs the prompt suites against the tier, as a prompt change does
(issue #16, point 2): after the change commits, one run per tier version, kept as an EvalRun."""

from __future__ import annotations

import pytest

from config.celery import app as celery_app
from evaluation.models import EvalRun
from evaluation.services.tier_suites import tier_suites_run
from prompts.models import EventAction, PromptEvent
from qa.models import ModelTier, TierProvider
from qa.pipeline.routing import tiers_configured
from qa.services.model_tiers import model_tier_save
from tests.factories import user_create
from tests.qa.fakes import FakeOpenAIServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def server():
    with FakeOpenAIServer(text="Hotel rooms are refunded up to 180 euros a night [1].") as fake:
        yield fake


def _tier_changed(server: FakeOpenAIServer) -> ModelTier:
    tier = model_tier_save(
        tier=ModelTier(name="small", rank=1, provider=TierProvider.OPENAI_COMPATIBLE, model="gpt-4o-mini-2024-07-18",
                       base_url=server.url, external=False),
        actor=user_create(username="ops", superuser=True),
    )  # fmt: skip
    tier.model = "gpt-4.1-mini-2025-04-14"
    return model_tier_save(tier=tier, actor=None)


def test_the_suites_run_against_the_new_model_once_per_tier_version(server) -> None:
    tier = _tier_changed(server)
    run = tier_suites_run(tier_name="small", version=tier.version)

    assert run is not None and run.provider == "tier:small"
    assert run.config == {"tier": "small", "tier_version": 2, "model": "gpt-4.1-mini-2025-04-14"}
    keys = [item["prompt_key"] for item in run.items]
    assert any(key.startswith("answer-v") for key in keys) and any(key.startswith("judge-v") for key in keys)
    assert server.requests and {r["body"]["model"] for r in server.requests} == {"gpt-4.1-mini-2025-04-14"}
    # The fake model's fixed reply is no judge's JSON: the judge suite fails, and says so.
    assert run.summary["ok"] is False and run.summary["failed"] > 0
    # The prompt history says so, beside the tier change it tests.
    event = PromptEvent.objects.get(action=EventAction.TIER_TESTED)
    assert event.version == 2 and event.detail["eval_run"] == run.pk and "FAILED" in event.note
    # A version that failed its suites serves no question until the tier changes again.
    assert "small" not in [t.name for t in tiers_configured()]

    sent = len(server.requests)
    assert tier_suites_run(tier_name="small", version=2) == run, "a tier version is run once"
    assert len(server.requests) == sent


def test_a_run_for_a_superseded_version_does_nothing(server) -> None:
    tier = _tier_changed(server)
    tier.model = "gpt-4.1-2025-04-14"
    model_tier_save(tier=tier, actor=None)  # version 3 queued its own run
    assert tier_suites_run(tier_name="small", version=2) is None
    assert server.requests == [] and not EvalRun.objects.exists()


def test_the_committed_change_queues_the_run(server, django_capture_on_commit_callbacks) -> None:
    # Celery's own inline mode (named with the settings' CELERY_ namespace): the queued task runs
    # here, through the real receiver and task.
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _tier_changed(server)
    finally:
        celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False
    names = sorted(EvalRun.objects.values_list("name", flat=True))
    # The creation (v1) and the change (v2) each committed in their own save: the v1 run finds
    # the tier already at v2 and does nothing; v2 runs.
    assert names == ["prompt suites on tier small v2"]
