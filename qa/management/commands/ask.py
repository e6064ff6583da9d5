from __future__ import annotations

import json
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from ingestion.selectors.collections import collection_list_readable
from qa.pipeline.orchestrator import answer_create, answer_run
from qa.presenters import answer_payload
from qa.realtime import Event

STABLE_FIELDS = ("status", "answer", "citations", "model", "timings_ms", "cache_hit")


class Command(BaseCommand):
    help = "Ask Verity a question from the command line; prints the answer as it streams, then its sources."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("question")
        parser.add_argument("--collection", help="only this collection (name or slug)")
        parser.add_argument("--user", help="ask as this user (default: the admin account)")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        username = options["user"] or settings.VERITY_ADMIN_USERNAME
        user = users.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username}")
        collection_ids = None
        if options["collection"]:
            readable = collection_list_readable(user=user)
            match = readable.filter(name=options["collection"]) | readable.filter(slug=options["collection"])
            collection_ids = list(match.values_list("pk", flat=True))
            if not collection_ids:
                raise CommandError(f"{username} cannot read a collection named {options['collection']}")
        try:
            answer = answer_create(user=user, question=options["question"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        as_json = options["json"]

        streamed: list[str] = []

        def emit(event_type: str, payload: dict[str, Any]) -> None:
            if as_json:
                return
            if event_type == Event.TOKEN:
                streamed.append(payload["text"])
                sys.stdout.write(payload["text"])
                sys.stdout.flush()
            elif event_type == Event.RESET:
                streamed.clear()
                sys.stdout.write(f"\n[{payload['message']}]\n")

        answer = answer_run(answer_id=answer.pk, emit=emit, collection_ids=collection_ids)
        payload = answer_payload(answer)
        if as_json:
            out = {key: payload[key] for key in STABLE_FIELDS}
            out.update(
                {
                    "id": payload["id"],
                    "decline_reason": payload["decline_reason"],
                    "fallback_used": payload["fallback_used"],
                }
            )
            self.stdout.write(json.dumps(out, ensure_ascii=False))
            return
        if payload["status"] == "pending_review":
            self.stdout.write(f"\n{payload['notice']}")
            return
        if payload["status"] != "answered":
            self.stdout.write(f"{payload['decline_reason']}")
            searched = payload["searched"]
            if searched.get("closest"):
                self.stdout.write(f"Closest documents: {', '.join(searched['closest'])}")
            return
        if payload["reused"]:
            self.stdout.write(f"[{'cached' if payload['cache_hit'] else 'reviewer-approved'} answer to: "
                              f"{payload['reused']['question']}]")  # fmt: skip
        if "".join(streamed).strip() != payload["answer"].strip():
            # What was streamed was a draft; this is what passed verification.
            self.stdout.write(("\n\nVerified answer:\n" if streamed else "") + payload["answer"])
        if payload["notice"]:
            self.stdout.write(f"\nNote: {payload['notice']}")
        if payload["confidence"]:
            self.stdout.write(f"\nConfidence: {payload['confidence']['level']} ({payload['confidence']['reason']})")
        self.stdout.write("\n\nSources:")
        for c in payload["citations"]:
            where = " · ".join(str(x) for x in (c["section"], f"page {c['page']}" if c["page"] else "") if x)
            self.stdout.write(f"  [{c['n']}] {c['title']}{' · ' + where if where else ''} ({c['source']})")
        timings = payload["timings_ms"]
        self.stdout.write(
            f"\n{payload['model']} · first words {timings.get('first_token', 0):.0f} ms · total {timings.get('total', 0):.0f} ms"
        )
