"""The answer pipeline. ``orchestrator.answer_run`` runs the stages in this order, each a
function in its own module taking and returning frozen dataclasses:

1. ``load``: the prompt versions chosen (production or the asker's experiment arm), the
   pending answer counted against the budgets, its question embedded, and a
   reviewer-curated or cached answer when one fits (``qa.reuse``): final at once.
2. ``retrieve``: passages through ingestion's access-controlled hybrid search (``retrieval``),
   and the answer policy of their collections.
3. ``gate``: the evidence gate (``evidence``), the high-stakes check (``qa.checks.high_stakes``)
   and a cached answer the passages confirm (``qa.reuse.cache``).
4. ``plan``: the prompt (``prompt``), the model chain (``routing``) with its cost reserved
   against the budgets, and the verifier allowed to see the passages.
5. ``generate``: the model called through the gateway (``gateway``), its words relayed to the
   reader as they come (``relay``, with the stream guard of ``stream_guard``).
6. ``check``: every sentence verified, the output guard, the confidence (``qa.checks``). A
   model's draft that fails its format checks or collapses under verification is written once
   more with the prompt version's fallback (``fallback``), then checked again.
7. ``finish``: the only writer of an answer's final state; the final payload (``qa.presenters``).

``deps`` holds what the stages use (emit, embedder, models, verifier, settings); ``validation``
checks a question before it is recorded (``answer_create``); ``precompute`` runs the whole
pipeline off-peak on frequent questions (``qa.reuse.precompute``).
"""
