"""Curated answers exported as regression test cases (the evaluation set's JSON Lines format):
each key number or code name of the approved answer becomes a ``must_contain_any`` group."""

from __future__ import annotations

import json

from django.contrib.auth.models import AnonymousUser, User

from core.text import Facts, strip_citations
from qa.models import ReuseOrigin
from qa.selectors import reusable_list_readable


def curated_cases(*, user: User | AnonymousUser) -> list[dict[str, object]]:
    """The active curated answers whose every cited document ``user`` may read, as test cases."""
    cases: list[dict[str, object]] = []
    for entry in reusable_list_readable(user=user).filter(origin=ReuseOrigin.CURATED, active=True).order_by("pk"):
        text = strip_citations(entry.text)
        facts = Facts.of(text)
        groups = [[n] for n in sorted(facts.numbers)][:3] + [[i] for i in sorted(facts.identifiers)][:3]
        cases.append({
            "id": f"curated-{entry.pk}",
            "type": "curated",
            "question": entry.question,
            "answer": text,
            "must_contain_any": groups,
            "sources": sorted({str(c.get("source_name", "")) for c in entry.citations}),
            "paraphrase_of": None,
        })  # fmt: skip
    return cases


def curated_export_jsonl(*, user: User | AnonymousUser) -> str:
    return "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in curated_cases(user=user))
