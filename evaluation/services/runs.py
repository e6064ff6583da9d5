"""Run the whole answer pipeline over a question set and measure it: correct answers, declines,
high-stakes flags, unsupported sentences that reached the user, citation precision, latency."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from core.text import normalise, strip_citations
from evaluation.models import EvalRun
from evaluation.services.scoring import (
    ANSWERABLE,
    answer_correct,
    delivered_sentences,
    path_normalise,
    sentence_grounded,
)
from ingestion.models import Collection
from ingestion.selectors.collections import chunk_texts, collections_read_by
from prompts.services.selection import PromptChoice
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMProvider
from qa.models import AnswerStatus
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.realtime import Event

EVAL_USERNAME = "verity-eval"


def items_load(path: Path) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        missing = {"id", "type", "question", "must_contain_any", "sources"} - set(item)
        if missing:
            raise ValueError(f"{path}:{number}: missing fields {sorted(missing)}")
        items.append(item)
    return items


@transaction.atomic
def eval_user_for(*, collections: list[Collection]) -> User:
    """A dedicated user who reads exactly the evaluated collections."""
    user, _ = User.objects.get_or_create(username=EVAL_USERNAME, defaults={"is_active": True})
    user.set_unusable_password()
    user.save()
    wanted = {c.pk for c in collections}
    for collection in collections_read_by(user=user):
        if collection.pk not in wanted:
            collection.reader_users.remove(user)
    for collection in collections:
        collection.reader_users.add(user)
    return user


@dataclass
class EvalReport:
    summary: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def eval_run(
    *,
    items: list[dict[str, Any]],
    collections: list[Collection],
    providers: list[LLMProvider] | None = None,
    embedder: EmbeddingProvider | None = None,
    invented_log: list[str] | None = None,
    name: str = "evaluation",
    question_set: str = "",
    provider_label: str = "default",
    progress: Any = None,
    prompts: PromptChoice | None = None,
) -> EvalReport:
    """Answer every item as the evaluation user and score it. ``prompts``: the prompt versions
    to answer with instead of the production labels' (a proposal before its approval)."""
    user = eval_user_for(collections=collections)
    collection_ids = [c.pk for c in collections]
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items, start=1):
        events: list[tuple[float, str]] = []
        began = time.perf_counter()

        def emit(
            event_type: str, payload: dict[str, Any], _began: float = began, _events: list[tuple[float, str]] = events
        ) -> None:
            _events.append(((time.perf_counter() - _began) * 1000, event_type))

        invented_before = len(invented_log) if invented_log is not None else 0
        answer = answer_create(user=user, question=item["question"])
        answer = answer_run(
            answer_id=answer.pk, emit=emit, embedder=embedder, providers=providers, collection_ids=collection_ids,
            prompts=prompts,
        )  # fmt: skip
        wall_ms = (time.perf_counter() - began) * 1000
        declined = answer.status in (AnswerStatus.DECLINED, AnswerStatus.FAILED)
        flagged = bool(answer.high_stakes) and answer.status in (AnswerStatus.HELD, AnswerStatus.ANSWERED)
        text = answer.text if not declined else ""
        citations = list(answer.citations.all())
        chunk_text = chunk_texts(chunk_ids=[c.chunk_id for c in citations])
        by_n = {c.n: chunk_text.get(c.chunk_id, c.quote) for c in citations}
        sentences = delivered_sentences(text)
        ungrounded = [s for s, ns in sentences if not sentence_grounded(s, [by_n[n] for n in ns if n in by_n])]
        invented_here = invented_log[invented_before:] if invented_log is not None else []
        invented_shown = [
            s for s in invented_here if normalise(strip_citations(s)).rstrip(".") in normalise(strip_citations(text))
        ]
        cited_pages = [path_normalise(c.source_name) for c in citations]
        first_text = next((ms for ms, kind in events if kind == Event.TOKEN), None)
        results.append(
            {
                "id": item["id"],
                "type": item["type"],
                "question": item["question"],
                "status": str(answer.status),
                "declined": declined,
                "flagged": flagged,
                "high_stakes": answer.high_stakes,
                "correct": answer_correct(item, text, declined, flagged),
                "answer": text,
                "decline_reason": answer.decline_reason,
                # The answering prompt's output failed its checks and its fallback version wrote this.
                "prompt_fallback_used": answer.prompt_fallback_used,
                "confidence": answer.confidence,
                "confidence_level": answer.confidence_level,
                "cited_pages": cited_pages,
                "citation_precision": _rate(sum(1 for p in cited_pages if p in item["sources"]), len(cited_pages))
                if item["sources"] and cited_pages
                else None,
                "sentences": len(sentences),
                "ungrounded_sentences": ungrounded,
                "verification": {k: v for k, v in (answer.verification or {}).items() if k != "sentences"},
                "removed_sentences": [
                    s for s in (answer.verification or {}).get("sentences", []) if s.get("action") == "removed"
                ],
                "invented": invented_here,
                "invented_shown": invented_shown,
                "first_text_ms": round(first_text, 1) if first_text is not None else None,
                "total_ms": round(wall_ms, 1),
            }
        )
        if progress is not None:
            last = results[-1]
            progress(f"[{index}/{len(items)}] {item['id']} {item['type']}: {last['status']}"
                     f"{' correct' if last['correct'] else ' WRONG'} ({last['total_ms']:.0f} ms)")  # fmt: skip
    summary = eval_summarise(results, invented_log_used=invented_log is not None)
    EvalRun.objects.create(
        name=name, question_set=question_set, provider=provider_label,
        config={"collections": [c.name for c in collections],
                **({"prompts": prompts.as_dict()["keys"]} if prompts is not None else {})},
        summary=summary, items=results,
    )  # fmt: skip
    return EvalReport(summary=summary, items=results)


def eval_summarise(results: list[dict[str, Any]], *, invented_log_used: bool = False) -> dict[str, Any]:
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_type[r["type"]].append(r)
    answerable = [r for r in results if r["type"] in ANSWERABLE]
    unanswerable = by_type.get("unanswerable", [])
    stakes = by_type.get("high_stakes", [])
    sentences = sum(r["sentences"] for r in results)
    ungrounded = sum(len(r["ungrounded_sentences"]) for r in results)
    precisions = [r["citation_precision"] for r in answerable if r["citation_precision"] is not None]
    verified = [r["verification"] for r in results if r["verification"]]
    totals = [r["total_ms"] for r in results]
    firsts = [r["first_text_ms"] for r in results if r["first_text_ms"] is not None]

    def pct(values: list[float], p: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))], 1)

    summary: dict[str, Any] = {
        "items": len(results),
        "accuracy_by_type": {t: _rate(sum(r["correct"] for r in rs), len(rs)) for t, rs in sorted(by_type.items())},
        "answerable_correct": sum(r["correct"] for r in answerable),
        "answerable": len(answerable),
        "answerable_accuracy": _rate(sum(r["correct"] for r in answerable), len(answerable)),
        "false_declines": sum(r["declined"] for r in answerable),
        "false_decline_rate": _rate(sum(r["declined"] for r in answerable), len(answerable)),
        "unanswerable_declined": sum(r["declined"] for r in unanswerable),
        "unanswerable": len(unanswerable),
        "unanswerable_decline_rate": _rate(sum(r["declined"] for r in unanswerable), len(unanswerable)),
        "high_stakes_flagged_or_declined": sum(r["flagged"] or r["declined"] for r in stakes),
        "high_stakes": len(stakes),
        "non_high_stakes_flagged": sum(r["flagged"] for r in results if r["type"] != "high_stakes"),
        "delivered_sentences": sentences,
        "ungrounded_sentences": ungrounded,
        "hallucination_rate": _rate(ungrounded, sentences),
        "verifier_removed_sentences": sum(v.get("removed", 0) for v in verified),
        "verifier_recited_sentences": sum(v.get("recited", 0) for v in verified),
        "citation_precision": round(statistics.fmean(precisions), 3) if precisions else None,
        "confidence_levels": dict(Counter(r["confidence_level"] or "none" for r in results)),
        "latency_ms": {
            "first_text_p50": pct(firsts, 50),
            "first_text_p95": pct(firsts, 95),
            "total_p50": pct(totals, 50),
            "total_p95": pct(totals, 95),
        },  # fmt: skip
    }
    paraphrases = by_type.get("paraphrase", [])
    if paraphrases:
        summary["paraphrase_note"] = "paraphrase consistency needs the original items' results (see items)"
    if invented_log_used:
        invented = sum(len(r["invented"]) for r in results)
        shown = sum(len(r["invented_shown"]) for r in results)
        summary["invented_sentences_generated"] = invented
        summary["invented_sentences_shown"] = shown
    return summary


def paraphrase_consistency(results: list[dict[str, Any]], items: list[dict[str, Any]]) -> float | None:
    by_id = {r["id"]: r for r in results}
    pairs = [(i["id"], i.get("paraphrase_of")) for i in items if i.get("paraphrase_of")]
    pairs = [(a, b) for a, b in pairs if a in by_id and b in by_id]
    if not pairs:
        return None
    return round(sum(by_id[a]["correct"] == by_id[b]["correct"] for a, b in pairs) / len(pairs), 3)


def report_markdown(*, title: str, summary: dict[str, Any], items: list[dict[str, Any]]) -> str:
    lines = [f"# {title}", "", "| measure | value |", "|---|---|"]
    for key, value in summary.items():
        lines.append(f"| {key} | {json.dumps(value) if isinstance(value, dict) else value} |")
    lines += ["", "## Items", "", "| id | type | status | correct | flagged | confidence | first text ms | answer or reason |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in items:
        said = (r["answer"] or r["decline_reason"]).replace("\n", " ").replace("|", "\\|")[:160]
        lines.append(
            f"| {r['id']} | {r['type']} | {r['status']} | {'yes' if r['correct'] else 'NO'} | "
            f"{', '.join(r['high_stakes']) or ''} | {r['confidence_level'] or ''} "
            f"{'' if r['confidence'] is None else round(r['confidence'], 2)} | {r['first_text_ms'] or ''} | {said} |"
        )
    ungrounded = [(r["id"], s) for r in items for s in r["ungrounded_sentences"]]
    if ungrounded:
        lines += ["", "## Delivered sentences the independent check found unsupported", ""]
        lines += [f"- {i}: {s}" for i, s in ungrounded]
    shown = [(r["id"], s) for r in items for s in r["invented_shown"]]
    if any(r["invented"] for r in items):
        lines += ["", f"## Invented sentences that reached the user: {len(shown)}", ""]
        lines += [f"- {i}: {s}" for i, s in shown]
    return "\n".join(lines) + "\n"
