"""The prompt stage: the answering prompt's version (``prompts/library/answer``) filled with the
question and the best-ranked passages that fit the token budget, each framed as untrusted data
(``qa.services.prompt_text``), with instructions addressed to the model withheld from the
passage text (``passage_redact``)."""

from __future__ import annotations

from ingestion.contracts import RetrievedChunk
from ingestion.services.injection_scan import label_clean, passage_redact
from prompts.contracts import PromptTemplate
from providers.llm.base import ContextPassage, LLMRequest, approx_tokens
from qa.services.prompt_text import passage_frame

# Per passage: the element and its attributes, a rough token count for the budget.
_FRAME_TOKENS = 30


def prompt_build(
    *, template: PromptTemplate, question: str, chunks: list[RetrievedChunk], context_tokens: int,
    max_output_tokens: int,
) -> LLMRequest:  # fmt: skip
    passages: list[ContextPassage] = []
    used = sum(approx_tokens(m.template) for m in template.messages) + approx_tokens(question)
    for chunk in chunks:
        cost = approx_tokens(chunk.text) + _FRAME_TOKENS
        if used + cost > context_tokens:
            continue  # a smaller, lower-ranked passage may still fit
        used += cost
        # Labels were cleaned at ingestion; cleaned again here for documents ingested before.
        title = label_clean(chunk.title) or "Untitled document"
        section = " > ".join(h for h in (label_clean(h) for h in chunk.heading_path) if h and h != title)
        redaction = passage_redact(text=chunk.text)
        passages.append(
            ContextPassage(
                n=len(passages) + 1, chunk_id=chunk.chunk_id, document_id=chunk.document_id, title=title,
                section=section, page=chunk.page, source_name=chunk.source_name, text=redaction.text,
                injection_flags=redaction.patterns, injection_suspect=redaction.suspect,
            )
        )  # fmt: skip
    context = "\n\n".join(passage_frame(p) for p in passages)
    messages = template.render(passages=context, question=question)
    return LLMRequest(
        question=question, messages=messages, passages=passages, max_output_tokens=max_output_tokens,
        prompt_key=template.key,
    )  # fmt: skip
