"""Stage 2, retrieve: the passages for the question, through ingestion's access-controlled
hybrid search, and the answer policy of the collections they come from (the strictest)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ingestion.contracts import RetrievedChunk
from ingestion.selectors.collections import AnswerPolicy, answer_policy_for
from qa.pipeline.deps import PipelineDeps
from qa.pipeline.load import Loaded
from qa.pipeline.retrieval import passages_retrieve


@dataclass(frozen=True)
class Retrieved:
    chunks: list[RetrievedChunk]
    # What was searched, stored with the answer (a decline shows it; the review queue reads
    # "collection_ids").
    searched: dict[str, Any]
    policy: AnswerPolicy
    retrieval_ms: float  # from the start of the load stage


def answer_retrieve(*, loaded: Loaded, deps: PipelineDeps, collection_ids: list[int] | None) -> Retrieved:
    chunks, trace = passages_retrieve(
        question=loaded.question, user=loaded.answer.conversation.user, k=deps.settings.retrieval_k,
        embedder=deps.embedder, collection_ids=collection_ids, query_embedding=loaded.prepared.vector,
    )  # fmt: skip
    retrieval_ms = round((time.perf_counter() - loaded.started) * 1000, 1)
    searched = {
        "question": loaded.question,
        "collections": trace.readable_collections,
        "chunks": trace.readable_chunks,
        "closest": list(dict.fromkeys(c.title for c in chunks))[:3],
        # The collections the passages came from: the review queue shows this answer only to
        # reviewers who may read all of them (``qa.selectors.answer_list_reviewable``).
        "collection_ids": sorted({c.collection_id for c in chunks}),
    }
    policy = answer_policy_for(collection_ids=list({c.collection_id for c in chunks}))
    return Retrieved(chunks=chunks, searched=searched, policy=policy, retrieval_ms=retrieval_ms)
