"""The randomised access test: random users, groups, collections and grants, documents in each
collection, answers, cached, curated and precomputed answers, review items and feedback made by
different users; then over a thousand random reads through every read path, each checked for
text of a collection the reader may not read.

Every collection has a marker word that appears in its documents' titles and passages (and in
its name) and nowhere else; questions and usernames carry none. A response that contains the
marker of a collection its reader may not read is a leak. The seed is printed (and in every
failure message); ``VERITY_ACCESS_SEED=<n>`` replays a run.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from ingestion.models import Collection, Document, DocumentStatus
from ingestion.selectors.collections import collection_list_readable
from providers.llm.base import LLMProvider, LLMRequest, StreamStats
from qa.models import Answer, Conversation, FaqEntry, Feedback, ReusableAnswer, ReuseOrigin, ReviewItem
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.pipeline.precompute import precompute_run
from qa.reuse.curated import curated_create_from
from qa.review.feedback import feedback_submit
from qa.review.queue import review_item_open
from tests.factories import collection_create, document_ingest, document_with_vectors, user_create
from tests.helpers import Recorder

pytestmark = pytest.mark.django_db

SEED = int(os.environ.get("VERITY_ACCESS_SEED") or random.SystemRandom().randrange(1, 10**9))
QUERIES = 1100  # reads through the web paths, besides the pipeline runs
MARKERS = ["alphazq", "bravozq", "charliezq", "deltazq", "echozq", "foxtrotzq"]
GROUPS = ["everyone", "north", "south", "east", "west"]
QUESTIONS = [
    "How many vacation days do staff get per year?",
    "What is the hotel limit per night?",
    "How much are meals covered per day?",
    "Who approves travel expenses?",
    "How many vacation days do staff get per year",
    "hotel limit per night",
    "meals covered per day",
    "Which laptop do new staff receive?",
]
HANDBOOK = """# {title} handbook

## Vacation

Staff of the {m} office get {vacation} vacation days per year. Unused {m} days expire in March.

## Hotels

Hotel stays for the {m} team are covered up to {hotel} euros per night.

## Meals

Meals during {m} travel are covered up to {meals} euros per day. The {m} manager approves travel expenses.

## Equipment

New {m} staff receive a laptop of model {m}-{laptop}.
"""


class QuotingProvider(LLMProvider):
    """A test double at the model boundary: answers with the first sentence of the first passage
    it was given, cited, as a faithful model would."""

    name = "quoting"
    model_id = "quoting-1"

    def _stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]:
        stats.tokens_in = 100
        first = request.passages[0]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", first.text.strip()) if len(s.split()) > 3]
        text = f"{(sentences or [first.text.strip()])[0]} [{first.n}]"
        for index, word in enumerate(text.split(" ")):
            yield ("" if index == 0 else " ") + word
        stats.tokens_out = len(text.split())


def _synthetic_collection_chunks(collection: Collection, marker: str, n: int, rng: random.Random) -> None:
    """Many chunks with synthetic vectors, so that a reader of this collection reads nearly all of
    the index (the shape in which the vector leg once dropped its filter)."""
    content_hash = f"{rng.getrandbits(200):064x}"[:64]  # drawn before the vectors: the seed replays
    document_with_vectors(
        collection, title=f"{marker.title()} archive", source_name=f"{marker}-archive.txt", content_hash=content_hash,
        texts=[f"Archive note {i} of the {marker} office about vacation days, hotels and meals." for i in range(n)],
        vectors=[[rng.gauss(0, 1) for _ in range(384)] for _ in range(n)],
        batch_size=500,
    )  # fmt: skip


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_no_read_path_shows_a_collection_to_someone_who_may_not_read_it(settings) -> None:
    print(f"\naccess test seed: {SEED} (replay: VERITY_ACCESS_SEED={SEED})")
    began = time.perf_counter()
    rng = random.Random(SEED)
    settings.QA_CACHE_ENABLED = True
    # Readers of the large collection take the HNSW path (with its filter), the others exact scans.
    settings.RETRIEVAL_EXACT_SCAN_MAX_ROWS = 30

    # ------------------------------------------------------------------ people and grants
    for name in GROUPS:
        Group.objects.get_or_create(name=name)
    users = []
    for index in range(10):
        groups = ("everyone",) if rng.random() < 0.8 else ()
        groups += tuple(rng.sample(GROUPS[1:], k=rng.randint(0, 2)))
        roles = ("reviewers",) if rng.random() < 0.5 else ()
        users.append(user_create(username=f"person{index}", groups=groups + roles, staff=rng.random() < 0.3))
    users.append(user_create(username="person-admin", superuser=True))
    users.append(user_create(username="person-nobody", groups=("reviewers",), staff=True))  # reads nothing

    collections: dict[str, Collection] = {}
    for index, marker in enumerate(MARKERS):
        groups = ("everyone",) if index == 0 else tuple(rng.sample(GROUPS[1:], k=rng.randint(1, 2)))
        readers = tuple(rng.sample(users[:10], k=rng.randint(0, 2)))
        collections[marker] = collection_create(name=f"Collection {marker}", groups=groups, users=readers)

    # ------------------------------------------------------------------ documents
    documents: list[Document] = []
    for marker, collection in collections.items():
        for copy in range(2):
            text = HANDBOOK.format(
                title=marker.title(), m=marker, vacation=rng.randint(20, 30), hotel=rng.randint(100, 300),
                meals=rng.randint(30, 80), laptop=rng.randint(100, 999),
            )  # fmt: skip
            documents.append(document_ingest(collection, text.encode(), f"{marker}-handbook-{copy}.md"))
    _synthetic_collection_chunks(collections[MARKERS[0]], MARKERS[0], 400, rng)
    assert all(d.status == DocumentStatus.READY for d in documents)

    readable_markers = {
        user.pk: {m for m, c in collections.items() if collection_list_readable(user=user).filter(pk=c.pk).exists()}
        for user in users
    }
    forbidden = {user.pk: set(MARKERS) - readable_markers[user.pk] for user in users}
    assert any(forbidden.values()) and any(readable_markers.values())
    print("readable:", {u.username: sorted(readable_markers[u.pk]) for u in users})

    sightings: Counter[str] = Counter()  # path -> responses that showed a readable marker
    checks: Counter[str] = Counter()

    def check(user: Any, path: str, text: str) -> None:
        lowered = text.lower()
        leaked = sorted(m for m in forbidden[user.pk] if m in lowered)
        assert not leaked, f"seed {SEED}: {user.username} saw {leaked} through {path}"
        checks[path] += 1
        if any(m in lowered for m in readable_markers[user.pk]):
            sightings[path] += 1

    # ------------------------------------------------------------------ answers by different users
    def ask(user: Any, question: str, path: str = "pipeline") -> Answer:
        answer = answer_create(user=user, question=question)
        recorder = Recorder()
        providers = [QuotingProvider()] if rng.random() < 0.3 else None  # else the built-in extractive model
        answer = answer_run(answer_id=answer.pk, emit=recorder, providers=providers)
        check(user, path, json.dumps(recorder.events, default=str))
        return answer

    askers = [u for u in users if u.username != "person-nobody"]
    answers: list[Answer] = []
    for _ in range(30):
        answers.append(ask(rng.choice(askers), rng.choice(QUESTIONS)))
    cited = set(Answer.objects.filter(citations__isnull=False).values_list("pk", flat=True))
    answered = [a for a in answers if a.pk in cited]
    assert answered, f"seed {SEED}: no answer cited anything"
    for answer in rng.sample(answered, k=min(4, len(answered))):
        curated_create_from(answer=answer, reviewer=users[10])
    for marker in rng.sample(MARKERS, k=2):
        FaqEntry.objects.create(question=rng.choice(QUESTIONS[:4]), collection=collections[marker])
    precompute_run(providers=None)
    for answer in rng.sample(answered, k=min(8, len(answered))):
        review_item_open(answer_id=answer.pk, reason="low_support", topics=[], detail="random", held=False)
    for answer in rng.sample(answers, k=min(15, len(answers))):
        feedback_submit(user=answer.conversation.user, answer_id=answer.pk, helpful=False,
                        reason=rng.choice(["incorrect", "incomplete", "other"]), comment="not what I asked")  # fmt: skip
    stored = Counter(ReusableAnswer.objects.values_list("origin", flat=True))
    print("stored answers:", dict(stored), "review items:", ReviewItem.objects.count(),
          "feedback:", Feedback.objects.count())  # fmt: skip
    assert stored[ReuseOrigin.CURATED] and stored[ReuseOrigin.CACHED], f"seed {SEED}: {stored}"
    print(f"set up in {time.perf_counter() - began:.1f} s")

    # ------------------------------------------------------------------ random reads
    clients = {}
    for user in users:
        clients[user.pk] = Client()
        clients[user.pk].force_login(user)
    document_ids = list(Document.objects.values_list("pk", flat=True)) + [10**9]
    item_ids = list(ReviewItem.objects.values_list("pk", flat=True)) + [10**9]

    def ids_now() -> tuple[list[int], list[tuple[int, int]]]:
        conversations = list(Conversation.objects.values_list("pk", flat=True))
        citations = list(Answer.objects.filter(citations__isnull=False).values_list("pk", "citations__n"))
        return conversations, citations

    def own_or_any(user: Any) -> tuple[int, int]:
        """Half the time one of the reader's own citations (readable), else anyone's."""
        own = list(
            Answer.objects.filter(conversation__user=user, citations__isnull=False).values_list("pk", "citations__n")
        )
        return rng.choice(own) if own and rng.random() < 0.5 else rng.choice(citation_refs)

    conversation_ids, citation_refs = ids_now()
    user = users[0]
    paths: dict[str, Any] = {
        "search api": lambda: f"/api/search/?q={rng.choice(QUESTIONS)}&k={rng.randint(1, 12)}"
        f"&mode={rng.choice(['hybrid', 'vector', 'fulltext'])}",
        "retrieval tester": lambda: f"/documents/retrieval/?q={rng.choice(QUESTIONS)}&k={rng.randint(1, 20)}",
        "source viewer": lambda: "/chat/a/{}/source/{}/".format(*own_or_any(user)),
        "original file": lambda: f"/documents/{rng.choice(document_ids)}/file/",
        "review queue": lambda: f"/review/?state={rng.choice(['', 'pending', 'approved'])}",
        "review item": lambda: f"/review/{rng.choice(item_ids)}/",
        "triage": lambda: f"/review/triage/?state={rng.choice(['', 'open'])}",
        "curated export": lambda: "/review/curated.jsonl",
        "conversation api": lambda: f"/api/conversations/{rng.choice(conversation_ids)}/",
        "conversation list api": lambda: "/api/conversations/",
        "chat page": lambda: rng.choice(["/chat/", f"/chat/c/{rng.choice(conversation_ids)}/"]),
        "usage page": lambda: f"/ops/usage/?days={rng.randint(1, 30)}",
        "document list api": lambda: "/api/documents/",
        "document api": lambda: f"/api/documents/{rng.choice(document_ids)}/",
        "documents page": lambda: "/documents/",
    }
    names = list(paths)
    statuses: Counter[int] = Counter()
    for index in range(QUERIES):
        user = rng.choice(users)
        if index % 50 == 0:  # the REST ask path, then its answer through the other paths
            response = clients[user.pk].post("/api/ask/", {"question": rng.choice(QUESTIONS)},
                                             content_type="application/json")  # fmt: skip
            check(user, "ask api", _body(response))
            conversation_ids, citation_refs = ids_now()
            continue
        if index % 30 == 10 and user.username != "person-nobody":  # chat pipeline: cache hits, sources
            answers.append(ask(user, rng.choice(QUESTIONS), path="chat pipeline"))
            conversation_ids, citation_refs = ids_now()
            continue
        name = rng.choice(names)
        url = paths[name]()
        response = clients[user.pk].get(url)
        statuses[response.status_code] += 1
        assert response.status_code < 500, f"seed {SEED}: {url} gave {response.status_code}"
        check(user, name, _body(response))

    reused = Counter(Answer.objects.filter(reused_from__isnull=False).values_list("reused_from__origin", flat=True))
    elapsed = time.perf_counter() - began
    print(f"checked {sum(checks.values())} responses in {elapsed:.1f} s: {dict(checks)}")
    print(f"responses showing a readable marker: {dict(sightings)}; statuses {dict(statuses)}; reused {dict(reused)}")
    assert sum(checks.values()) >= 1000
    # Not vacuous: the paths did show readable collections' text, and stored answers were reused.
    for name in ("search api", "source viewer", "original file", "chat pipeline", "review item", "curated export"):
        assert sightings[name] > 0, f"seed {SEED}: {name} never showed anything readable"
    assert reused, f"seed {SEED}: no cached, curated or precomputed answer was served"
