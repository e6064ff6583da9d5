"""Benchmark 3 of issue #3: retrieval quality on the answerable items of the eval set.

    .venv/bin/python bench/retrieval_quality.py

hit@1, hit@3, hit@5 and MRR@10 of the source pages for Verity's vector-only, full-text-only
and hybrid retrieval, and, in the same run with the same embedding model, a plain llama-index
VectorStoreIndex with its default chunking (SentenceSplitter, 1024 tokens, overlap 200) over
the same pages as the baseline. Needs the corpus ingested (bench/ingest_python_docs.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import DOCS_COLLECTION, EVAL_SET, PYTHON_DOCS, django_setup, machine  # noqa: E402

ANSWERABLE = {"factoid", "procedural", "explanatory", "multi_hop", "paraphrase"}


def normalise(source: str) -> str:
    source = source.split("#")[0].split("?")[0]
    return source.split("html/", 1)[-1]


def score(ranked_sources: list[list[str]], gold: list[list[str]]) -> dict[str, float]:
    out = {"hit@1": 0.0, "hit@3": 0.0, "hit@5": 0.0, "mrr@10": 0.0}
    for ranked, wanted in zip(ranked_sources, gold, strict=True):
        first = next((i for i, s in enumerate(ranked[:10], start=1) if s in wanted), None)
        for k in (1, 3, 5):
            out[f"hit@{k}"] += 1.0 if first is not None and first <= k else 0.0
        out["mrr@10"] += 1.0 / first if first else 0.0
    return {name: round(value / len(gold), 3) for name, value in out.items()}


def llama_index_baseline(items: list[dict], embedder) -> tuple[list[list[str]], float]:  # noqa: ANN001
    """A plain VectorStoreIndex: whole-page text (BeautifulSoup get_text, no boilerplate
    removal), default SentenceSplitter, our embedding model wrapped as a BaseEmbedding."""
    from bs4 import BeautifulSoup
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from transformers import AutoTokenizer

    from providers.embeddings.sentence_transformers import packaged_model_path

    class VerityEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_query(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_query(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed_texts([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_texts(texts)

    # llama-index's default tokenizer (tiktoken) downloads its vocabulary at first use, which
    # this offline machine cannot do; the embedding model's own tokenizer stands in for it.
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_model_path()))
    Settings.tokenizer = tokenizer.tokenize
    Settings.embed_model = VerityEmbedding(embed_batch_size=64)
    documents = []
    for page in sorted(PYTHON_DOCS.rglob("*.html")):
        text = BeautifulSoup(page.read_bytes(), "lxml").get_text("\n")
        documents.append(Document(text=text, metadata={"source": str(page.relative_to(PYTHON_DOCS))}))
    started = time.perf_counter()
    index = VectorStoreIndex.from_documents(documents)
    build = time.perf_counter() - started
    retriever = index.as_retriever(similarity_top_k=10)
    ranked = [[n.node.metadata["source"] for n in retriever.retrieve(item["question"])] for item in items]
    return ranked, build


def main() -> None:
    django_setup()
    from django.contrib.auth import get_user_model

    from ingestion.models import Collection
    from ingestion.selectors.search import SearchMode, chunk_search
    from providers.registry import embedding_provider_default

    print(f"machine: {machine()}")
    collection = Collection.objects.get(name=DOCS_COLLECTION)
    user, _ = get_user_model().objects.get_or_create(username="bench-reader")
    collection.reader_users.add(user)
    items = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    items = [item for item in items if item["type"] in ANSWERABLE]
    gold = [[normalise(s) for s in item["sources"]] for item in items]
    embedder = embedding_provider_default()
    results: dict[str, dict[str, float]] = {}
    for mode in (SearchMode.VECTOR, SearchMode.FULLTEXT, SearchMode.HYBRID):
        ranked = [
            [
                normalise(r.source_name)
                for r in chunk_search(question=item["question"], user=user, k=10, mode=mode, embedder=embedder)
            ]
            for item in items
        ]
        results[f"verity {mode.value}"] = score(ranked, gold)
        misses = [item["id"] for item, r, g in zip(items, ranked, gold, strict=True) if not set(r[:5]) & set(g)]
        print(f"verity {mode.value:<8} {results[f'verity {mode.value}']}  misses@5: {', '.join(misses) or 'none'}")
    ranked, build = llama_index_baseline(items, embedder)
    results["llama-index baseline"] = score(ranked, gold)
    print(
        f"llama-index VectorStoreIndex (default chunking; index built in {build:.0f} s) {results['llama-index baseline']}"
    )
    hybrid, base = results["verity hybrid"], results["llama-index baseline"]
    print(
        f"items: {len(items)} answerable; hybrid/baseline hit@5 ratio {hybrid['hit@5'] / max(base['hit@5'], 1e-9):.2f}, "
        f"MRR ratio {hybrid['mrr@10'] / max(base['mrr@10'], 1e-9):.2f}"
    )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "retrieval_quality.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
