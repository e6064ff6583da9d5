"""Kill switches: each takes effect at the next answer, without a restart, and is audited.
Real embedding model; the external tier and judge are loopback servers (the model boundary)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.models import AuditAction, AuditEvent
from qa.models import AnswerStatus, Interaction, KillSwitch, KillSwitchName, ReusableAnswer
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.pipeline.precompute import precompute_run
from qa.services.kill_switches import kill_switch_set, kill_switches_active
from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import HANDBOOK, JudgeServer, routed_priced_tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def traveller(db):
    user = user_create(username="traveller", groups=("staff",))
    collection = collection_create(name="Handbook", groups=("staff",))
    document_ingest(collection, HANDBOOK, "travel.md")
    return user


def _ask(user, question: str = "What is the hotel limit in London?"):
    answer = answer_create(user=user, question=question)
    return answer_run(answer_id=answer.pk, emit=lambda *_: None)


def test_external_models_off_keeps_every_call_on_the_machine(traveller, settings) -> None:
    judge = JudgeServer('{"scores": [[0.95]]}')
    settings.QA_VERIFIER, settings.QA_JUDGE_URL, settings.QA_JUDGE_EXTERNAL = "judge", judge.url, True
    try:
        with routed_priced_tier("In London the limit is 260 euros per night [1].") as server:
            before = _ask(traveller)
            assert before.model == "fake-small-1" and len(server.requests) == 1 and judge.prompts, "control"
            kill_switch_set(name=KillSwitchName.EXTERNAL_MODELS, active=True, reason="provider incident", actor=None)
            ReusableAnswer.objects.all().delete()
            calls_to_judge = len(judge.prompts)
            answer = _ask(traveller, "How much is the hotel limit in London?")
    finally:
        judge.close()
    assert len(server.requests) == 1 and len(judge.prompts) == calls_to_judge, "nothing left the machine"
    assert answer.status == AnswerStatus.ANSWERED and answer.provider == "extractive"
    assert answer.route["kill_switches"] == ["external_models"] and "kill switch on" in answer.route["reason"]
    assert not Interaction.objects.filter(answer=answer).exclude(provider="extractive").exists()


def test_model_answers_off_answers_with_the_extractive_model(traveller) -> None:
    kill_switch_set(name="model_answers", active=True, reason="a model writes nonsense", actor=None)
    with routed_priced_tier("Nonsense [1].") as server:
        answer = _ask(traveller)
    assert server.requests == [] and answer.provider == "extractive" and "260" in answer.text


def test_answer_cache_off_serves_and_stores_no_stored_answer(traveller) -> None:
    first = _ask(traveller)
    assert ReusableAnswer.objects.filter(source_answer=first).exists(), "control: verified answers are cached"
    kill_switch_set(name="answer_cache", active=True, reason="the cache answered another question", actor=None)
    second = _ask(traveller, "what's the hotel limit in London")
    assert second.reused_from_id is None and Interaction.objects.filter(answer=second).exists()
    assert not ReusableAnswer.objects.filter(source_answer=second).exists()
    assert precompute_run().details == ["kill switch on: nothing precomputed"]
    kill_switch_set(name="answer_cache", active=False, reason="", actor=None)
    third = _ask(traveller, "What's the hotel limit in London?")
    assert third.reused_from_id is not None, "off again: the next answer uses the cache"


def test_a_switch_needs_a_reason_and_every_change_is_audited() -> None:
    with pytest.raises(ValueError, match="Say why"):
        kill_switch_set(name="precompute", active=True, reason="  ", actor=None)
    kill_switch_set(name="precompute", active=True, reason="load test tonight", actor=None)
    kill_switch_set(name="precompute", active=False, reason="", actor=None)
    events = list(AuditEvent.objects.filter(action=AuditAction.KILL_SWITCH_CHANGED).order_by("seq"))
    assert [(e.before["active"], e.after["active"]) for e in events] == [(False, True), (True, False)]
    assert events[0].after["reason"] == "load test tonight" and events[0].target_id == "precompute"
    assert kill_switches_active() == frozenset()


def test_the_command_lists_and_turns_switches(capsys) -> None:
    call_command("kill_switch", "external_models", "on", "--reason", "drill")
    out = capsys.readouterr().out
    assert "ON  external_models" in out and "drill" in out and "off answer_cache" in out
    with pytest.raises(CommandError, match="Say why"):
        call_command("kill_switch", "precompute", "on")
    call_command("kill_switch", "external_models", "off")
    assert not KillSwitch.objects.get(name="external_models").active


def test_the_ops_page_shows_switches_to_staff_and_lets_admins_change_them(client) -> None:
    staff = user_create(username="operator", staff=True)
    admin = user_create(username="root", superuser=True)
    client.force_login(staff)
    page = client.get("/ops/kill-switches/")
    assert page.status_code == 200 and b"external_models" in page.content and b"Turn on" not in page.content
    refused = client.post("/ops/kill-switches/", {"name": "external_models", "state": "on", "reason": "x"})
    assert refused.status_code == 403 and not kill_switches_active()
    client.force_login(admin)
    assert (
        client.post("/ops/kill-switches/", {"name": "external_models", "state": "on", "reason": ""}).status_code == 400
    )
    done = client.post("/ops/kill-switches/", {"name": "external_models", "state": "on", "reason": "leak drill"})
    assert done.status_code == 302 and kill_switches_active() == {KillSwitchName.EXTERNAL_MODELS}
    event = AuditEvent.objects.get(action=AuditAction.KILL_SWITCH_CHANGED)
    assert event.actor_name == "root" and event.after == {"active": True, "reason": "leak drill"}
    anonymous = client.__class__()
    assert anonymous.get("/ops/kill-switches/").status_code == 302
