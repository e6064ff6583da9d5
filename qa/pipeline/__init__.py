"""The answer pipeline. ``orchestrator`` runs the stages in this order:

1. ``validation``: the question itself (``answer_create`` records it as a pending answer).
2. Prepare (in ``orchestrator``): budget check, question embedding, a first high-stakes reading,
   then a reviewer-curated or cached answer when one fits (``qa.reuse``): answered at once.
3. ``retrieval``: passages through ingestion's access-controlled hybrid search; the collection's
   answer policy and the high-stakes check (``qa.checks.high_stakes``).
4. ``evidence``: the evidence gate: decline when the passages do not cover the question; then
   the semantic cache confirmed against these passages (``qa.reuse.cache``).
5. ``prompt``: the passages that fit the token budget, framed as untrusted data.
6. ``routing``: the model tier for this question, its cost reserved against the budgets.
7. ``gateway``: generation, streamed; ``stream_guard`` holds back what an injected instruction
   would make the model say (the sentence gate lives in ``orchestrator``).
8. Checks (``qa.checks``): verification of every sentence, the output guard, confidence.
9. Store: citations, review item, cache entry; the final payload (``qa.presenters``).

``precompute`` runs the whole pipeline off-peak on frequent questions (``qa.reuse.precompute``).
"""
