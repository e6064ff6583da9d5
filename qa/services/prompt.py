"""Stage 4: the prompt, within a token budget: the best-ranked passages that fit."""

from __future__ import annotations

from ingestion.contracts import RetrievedChunk
from providers.llm.base import ContextPassage, LLMRequest, approx_tokens

PROMPT_VERSION = "answer-v1"
SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages provided. Cite every claim with the "
    "passage number in square brackets, like [1] or [2][3]. If the passages do not contain the "
    "answer, say that the documents do not cover it. Do not use outside knowledge. Be concise."
)


def prompt_build(
    *, question: str, chunks: list[RetrievedChunk], context_tokens: int, max_output_tokens: int
) -> LLMRequest:
    passages: list[ContextPassage] = []
    used = approx_tokens(SYSTEM_PROMPT) + approx_tokens(question)
    for chunk in chunks:
        cost = approx_tokens(chunk.text) + 20
        if used + cost > context_tokens:
            continue  # a smaller, lower-ranked passage may still fit
        used += cost
        passages.append(
            ContextPassage(
                n=len(passages) + 1, chunk_id=chunk.chunk_id, document_id=chunk.document_id, title=chunk.title,
                section=chunk.section, page=chunk.page, source_name=chunk.source_name, text=chunk.text,
            )
        )  # fmt: skip
    context = "\n\n".join(
        f"[{p.n}] {p.title}{' — ' + p.section if p.section else ''}{f' (page {p.page})' if p.page else ''}\n{p.text}"
        for p in passages
    )
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Passages:\n\n{context}\n\nQuestion: {question}"},
    ]
    return LLMRequest(question=question, messages=messages, passages=passages, max_output_tokens=max_output_tokens)
