"""Cost and latency controls: the semantic cache (paraphrase hits, near-miss guard,
invalidation, access), routing (restricted data never leaves), budgets (hard limit, no
overspend under concurrency), token limits, cost accounting and precomputed answers.
The embedding model is the real one; language models are test doubles at the gateway."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from core.errors import ApplicationError
from ingestion.models import Collection
from ingestion.services.documents import document_delete
from qa.models import (
    AnswerStatus,
    BudgetAlert,
    BudgetPolicy,
    CacheLookup,
    FaqEntry,
    Interaction,
    ModelPrice,
    ReusableAnswer,
    RoutingPolicy,
    UsageCounter,
)
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.pipeline.precompute import precompute_run
from qa.pipeline.routing import EXTRACTIVE, TierSpec, question_features, route_choose
from qa.presenters import answer_payload
from qa.review.feedback import feedback_submit
from qa.services.budgets import budget_reserve, scope_global, scope_user
from qa.services.costs import cost_of
from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import HANDBOOK, routed_priced_tier
from tests.qa.fakes import FakeOpenAIServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def handbook(db):
    user = user_create(username="traveller", groups=("staff",))
    collection = collection_create(name="Handbook", groups=("staff",))
    document = document_ingest(collection, HANDBOOK, "travel.md")
    return user, collection, document


def _ask(user, question: str, providers=None):
    answer = answer_create(user=user, question=question)
    return answer_run(answer_id=answer.pk, emit=lambda *_: None, providers=providers)


# ------------------------------------------------------------------ semantic cache


def test_a_paraphrase_hits_the_cache_without_a_model_call(handbook) -> None:
    user, _, _ = handbook
    first = _ask(user, "What is the hotel limit in London?")
    assert first.status == AnswerStatus.ANSWERED and first.reused_from_id is None
    entry = ReusableAnswer.objects.get(origin="cached")
    assert entry.source_answer_id == first.pk and entry.expires_at > timezone.now()

    second = _ask(user, "what's the hotel limit in London")
    assert second.reused_from_id == entry.pk and second.text == first.text
    assert not Interaction.objects.filter(answer=second).exists()
    payload = answer_payload(second)
    assert payload["cache_hit"] is True and payload["citations"][0]["source"] == "travel.md"
    lookup = CacheLookup.objects.get(answer=second)
    assert lookup.hit and lookup.nearest_similarity > 0.84
    assert CacheLookup.objects.get(answer=first).hit is False


def test_a_near_miss_with_another_number_misses(handbook) -> None:
    user, _, _ = handbook
    _ask(user, "What is the hotel limit for 2 nights in London?")
    assert ReusableAnswer.objects.filter(origin="cached").exists()
    near = _ask(user, "What is the hotel limit for 3 nights in London?")
    assert near.reused_from_id is None
    lookup = CacheLookup.objects.get(answer=near)
    assert not lookup.hit and "numbers differ" in lookup.reason and lookup.nearest_similarity > 0.9


@pytest.mark.parametrize("change", ["replaced", "deleted"])
def test_a_cached_answer_goes_when_its_source_changes(handbook, change, django_capture_on_commit_callbacks) -> None:
    user, collection, document = handbook
    _ask(user, "What is the hotel limit in London?")
    entry = ReusableAnswer.objects.get(origin="cached")
    with django_capture_on_commit_callbacks(execute=True):
        if change == "deleted":
            document_delete(document=document)
        else:
            document_ingest(collection, HANDBOOK.replace(b"260 euros", b"280 euros"), "travel.md")
    entry.refresh_from_db()
    assert entry.active is False and change in entry.invalidated_reason
    again = _ask(user, "What is the hotel limit in London?")
    assert again.reused_from_id is None
    if change == "replaced":
        assert "280 euros" in again.text


def test_a_user_never_gets_a_cached_answer_from_a_collection_they_cannot_read(handbook) -> None:
    user, _, _ = handbook
    _ask(user, "What is the hotel limit in London?")
    outsider = user_create(username="contractor", groups=("contractors",))
    theirs = collection_create(name="Contractor handbook", groups=("contractors",))
    document_ingest(theirs, HANDBOOK.replace(b"260 euros", b"150 euros"), "contractor-travel.md")
    answer = _ask(outsider, "What is the hotel limit in London?")
    assert answer.reused_from_id is None and "150 euros" in answer.text and "260" not in answer.text
    assert "may read" in CacheLookup.objects.get(answer=answer).reason


def test_expired_entries_and_incorrect_answers_are_not_served(handbook) -> None:
    user, _, _ = handbook
    _ask(user, "What is the hotel limit in London?")
    ReusableAnswer.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _ask(user, "What is the hotel limit in London?").reused_from_id is None
    hit = _ask(user, "what is the hotel limit in london")  # the fresh entry from the previous ask
    assert hit.reused_from_id is not None
    feedback_submit(user=user, answer_id=hit.pk, helpful=False, reason="incorrect")
    assert not ReusableAnswer.objects.filter(pk=hit.reused_from_id, active=True).exists()


def test_unverified_answers_are_not_cached(handbook) -> None:
    from tests.qa.fakes import ScriptedProvider

    user, _, _ = handbook
    model = ScriptedProvider(
        "In London the limit is 260 euros per night [1]. In Paris the limit is 410 euros per night [1]."
    )
    answer = _ask(user, "What is the hotel limit in London?", providers=[model])
    assert answer.status == AnswerStatus.ANSWERED and answer.verification["removed"] == 1
    assert not ReusableAnswer.objects.exists()


# ------------------------------------------------------------------ routing


TIERS = [
    EXTRACTIVE,
    TierSpec("small", 1, "openai_compatible", "small-1", "http://x", "", external=True),
    TierSpec("large", 2, "openai_compatible", "large-1", "http://x", "", external=True),
]


@pytest.mark.parametrize(
    ("question", "similarity", "turns", "budget", "restricted", "tier", "reason"),
    [
        ("What is the hotel limit in London?", 0.8, 0, "ok", False, "extractive",
         "lookup with a strong retrieval match (0.80) -> extractive"),
        ("Why is alcohol never reimbursed?", 0.8, 0, "ok", False, "small", "asks for an explanation -> small"),
        ("What is the hotel limit? And how are meals covered?", 0.8, 0, "ok", False, "large",
         "multi-part question of 10 words -> large"),
        ("What is the hotel limit in London?", 0.3, 0, "ok", False, "small", "weak retrieval match (0.30) -> small"),
        ("and for meals?", 0.8, 5, "ok", False, "large", "follow-up 5 turns deep -> large"),
        ("Why is alcohol never reimbursed?", 0.8, 0, "soft", False, "extractive",
         "asks for an explanation -> small; soft budget limit: one tier down -> extractive"),
        ("What is the hotel limit? And how are meals covered?", 0.8, 0, "soft", False, "small",
         "multi-part question of 10 words -> large; soft budget limit: one tier down -> small"),
        ("What is the hotel limit? And how are meals covered?", 0.8, 0, "hard", False, "extractive",
         "multi-part question of 10 words -> large; hard budget limit: extractive only; "
         "large not available -> extractive"),
        ("What is the hotel limit? And how are meals covered?", 0.8, 0, "ok", True, "extractive",
         "multi-part question of 10 words -> large; restricted collection: internal tiers only; "
         "large not available -> extractive"),
    ],
)  # fmt: skip
def test_router_picks_a_tier_and_says_why(question, similarity, turns, budget, restricted, tier, reason) -> None:
    features = question_features(question=question, best_similarity=similarity, turns=turns)
    route = route_choose(features=features, restricted=restricted, budget_level=budget, tiers=TIERS,
                         policy=RoutingPolicy())  # fmt: skip
    assert route.tier.name == tier, route.reason
    assert route.chain[-1].name == "extractive" and all(t.rank <= route.tier.rank for t in route.chain)
    assert route.reason == reason


@pytest.fixture
def external_tier(db):
    with routed_priced_tier("In London the limit is 260 euros per night [1].") as server:
        yield server


def test_a_restricted_collection_never_reaches_an_external_provider(handbook, external_tier) -> None:
    user, collection, _ = handbook
    control = _ask(user, "What is the hotel limit in London?")
    assert control.model == "fake-small-1" and len(external_tier.requests) == 1, "the external tier is routed to"
    assert control.cost > 0 and control.tokens_in > 0

    Collection.objects.filter(pk=collection.pk).update(classification="restricted")
    ReusableAnswer.objects.all().delete()
    answer = _ask(user, "How much is the hotel limit in London?")
    assert len(external_tier.requests) == 1, "no request left the machine"
    assert answer.status == AnswerStatus.ANSWERED and answer.provider == "extractive"
    assert "restricted" in answer.route["reason"]
    assert not Interaction.objects.filter(answer=answer, provider="openai_compatible").exists()


def test_explicit_external_providers_are_also_skipped_for_restricted_data(handbook) -> None:
    from providers.llm.openai_compatible import OpenAICompatibleProvider

    user, collection, _ = handbook
    Collection.objects.filter(pk=collection.pk).update(classification="restricted")
    with FakeOpenAIServer() as server:
        external = OpenAICompatibleProvider(base_url=server.url, model_id="outside-1", external=True)
        answer = _ask(user, "What is the hotel limit in London?", providers=[external])
    assert server.requests == [] and answer.provider == "extractive"


# ------------------------------------------------------------------ budgets and cost


def test_the_hard_budget_switches_to_extractive_with_a_notice(handbook, external_tier) -> None:
    user, _, _ = handbook
    BudgetPolicy.objects.create(user_daily_cost_soft=Decimal("0.001"), user_daily_cost_hard=Decimal("0.002"))
    UsageCounter.objects.create(scope=scope_user(user.pk), cost=Decimal("0.0025"))
    answer = _ask(user, "What is the hotel limit in London?")
    assert answer.status == AnswerStatus.ANSWERED and answer.provider == "extractive"
    assert external_tier.requests == []
    assert "limit reached" in answer.notice.lower() and "extractive" in answer.notice
    assert "hard budget" in answer.route["reason"]
    assert BudgetAlert.objects.filter(kind="hard").exists()
    assert "limit reached" in answer_payload(answer)["notice"].lower()


def test_a_soft_budget_alerts_once_and_routes_cheaper(handbook, external_tier) -> None:
    user, _, _ = handbook
    BudgetPolicy.objects.create(user_daily_questions_soft=1, user_daily_questions_hard=100)
    _ask(user, "What is the hotel limit in London?")
    answer = _ask(user, "How are meals covered while travelling?")
    assert answer.provider == "extractive" and "soft budget" in answer.route["reason"]
    assert BudgetAlert.objects.filter(kind="soft").count() == 1


def test_a_reservation_that_would_pass_the_hard_limit_falls_back(handbook, external_tier) -> None:
    user, _, _ = handbook
    BudgetPolicy.objects.create(user_daily_cost_soft=0, user_daily_cost_hard=Decimal("0.0001"))
    answer = _ask(user, "What is the hotel limit in London?")
    assert external_tier.requests == [] and answer.provider == "extractive"
    assert "reservation would pass a hard limit" in answer.route["reason"]
    counter = UsageCounter.objects.get(scope=scope_user(user.pk))
    assert counter.reserved_cost == 0 and counter.cost == 0


def test_spend_is_settled_with_the_actual_cost(handbook, external_tier) -> None:
    user, _, _ = handbook
    answer = _ask(user, "What is the hotel limit in London?")
    interaction = Interaction.objects.get(answer=answer)
    expected = cost_of(model="fake-small-1", tokens_in=interaction.tokens_in, tokens_out=interaction.tokens_out)
    assert interaction.cost == expected == answer.cost > 0
    mine = UsageCounter.objects.get(scope=scope_user(user.pk))
    everyone = UsageCounter.objects.get(scope=scope_global())
    assert mine.cost == everyone.cost == expected and mine.reserved_cost == everyone.reserved_cost == 0
    assert mine.questions == 1 and mine.tokens == interaction.tokens_in + interaction.tokens_out


def test_prices_are_versioned(db) -> None:
    now = timezone.now()
    ModelPrice.objects.create(
        model="m-1", input_per_million=1, output_per_million=2, effective_from=now - timedelta(days=10)
    )
    ModelPrice.objects.create(
        model="m-1", input_per_million=3, output_per_million=6, effective_from=now - timedelta(days=1)
    )
    assert cost_of(model="m-1", tokens_in=1_000_000, tokens_out=0, at=now - timedelta(days=5)) == 1
    assert cost_of(model="m-1", tokens_in=1_000_000, tokens_out=1_000_000, at=now) == 9
    assert cost_of(model="unpriced", tokens_in=10, tokens_out=10) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_cannot_pass_the_hard_limit() -> None:
    user = user_create(username="racer")
    BudgetPolicy.objects.create(user_daily_cost_soft=0, user_daily_cost_hard=Decimal("0.05"),
                                monthly_cost_soft=0, monthly_cost_hard=Decimal("1"))  # fmt: skip
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def reserve() -> None:
        try:
            start.wait()
            taken = budget_reserve(user_id=user.pk, tokens=100, cost=Decimal("0.01")) is not None
            with lock:
                results.append(taken)
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 5 and results.count(False) == 7
    counter = UsageCounter.objects.get(scope=scope_user(user.pk))
    assert counter.reserved_cost == Decimal("0.05")
    assert UsageCounter.objects.get(scope=scope_global()).reserved_cost == Decimal("0.05")


# ------------------------------------------------------------------ token limits


def test_pasted_text_over_the_token_limit_is_refused_not_cut(handbook, settings) -> None:
    settings.QA_MAX_QUESTION_TOKENS = 100
    user, _, _ = handbook
    with pytest.raises(ApplicationError, match=r"about 249 tokens; the limit is 100.*does not cut"):
        answer_create(user=user, question="word " * 200)


def test_only_the_configured_number_of_turns_is_carried(handbook, settings) -> None:
    settings.QA_MAX_TURNS_CARRIED = 2
    user, _, _ = handbook
    first = answer_create(user=user, question="What is the hotel limit in London?")
    answer_run(answer_id=first.pk, emit=lambda *_: None)
    second = answer_create(user=user, question="and for meals?", conversation_id=first.conversation_id)
    answer_run(answer_id=second.pk, emit=lambda *_: None)
    third = answer_create(user=user, question="and alcohol?", conversation_id=first.conversation_id)
    assert second.standalone_question == "What is the hotel limit in London? and for meals?"
    assert third.standalone_question == "and for meals? and alcohol?"


# ------------------------------------------------------------------ precompute and projection


def test_precompute_answers_faq_and_frequent_questions_ahead_of_demand(handbook) -> None:
    user, collection, _ = handbook
    FaqEntry.objects.create(question="How are meals covered while travelling?", collection=collection)
    colleague = user_create(username="colleague", groups=("staff",))
    for asker in (user, user, colleague):  # a frequent question in the logs, asked by two people
        a = answer_create(user=asker, question="What is the hotel limit in most cities?")
        answer_run(answer_id=a.pk, emit=lambda *_: None)
    ReusableAnswer.objects.all().delete()
    report = precompute_run()
    assert report.considered == 2, report.details
    origins = set(ReusableAnswer.objects.values_list("origin", flat=True))
    assert origins == {"precomputed"}, report.details
    hit = _ask(user, "how are meals covered while travelling")
    assert hit.reused_from is not None and hit.reused_from.origin == "precomputed"
    assert FaqEntry.objects.get().last_result == "stored"


def test_cost_projection_shows_the_production_factor(handbook, external_tier, capsys) -> None:
    user, _, _ = handbook
    _ask(user, "What is the hotel limit in London?")
    _ask(user, "what is the hotel limit in london")  # a cache hit
    call_command("cost_projection", "--users", "1000", "--questions-per-user", "30")
    out = capsys.readouterr().out
    assert "cache hit rate 50.0%" in out and "30,000 questions" in out and "15,000 reach a model" in out
    assert "production (x3 .. x5)" in out and "fake-small-1" in out


def test_the_precompute_job_is_scheduled_off_peak(settings) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["qa-precompute-answers"]
    assert entry["task"] == "qa.precompute_answers"
    assert entry["schedule"].hour == {settings.QA_PRECOMPUTE_HOUR} and entry["schedule"].minute == {0}


def test_usage_page_shows_cost_per_day_model_and_user(handbook, external_tier, client) -> None:
    user, _, _ = handbook
    _ask(user, "What is the hotel limit in London?")
    client.force_login(user)
    assert client.get("/ops/usage/").status_code == 403
    staff = user_create(username="ops", staff=True)
    client.force_login(staff)
    page = client.get("/ops/usage/").content.decode()
    assert "fake-small-1" in page and "traveller" in page and "Per day" in page
