"""Measure the answer pipeline over a question set (the format of ../shared/eval/).

    python manage.py evaluate --collection "Python 3.11 documentation" --provider extractive
    python manage.py evaluate --provider simulated-hallucinating   # a model that makes things up

Writes ``results.json`` and ``report.md`` to ``--out`` and prints the summary."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from evaluation.services.runs import eval_run, items_load, paraphrase_consistency, report_markdown
from ingestion.selectors.collections import collections_by_name
from providers.llm.base import LLMProvider
from providers.llm.openai_compatible import OpenAICompatibleProvider
from providers.registry import embedding_provider_default, llm_chain_default, llm_provider_build

DEFAULT_SET = Path(settings.BASE_DIR).parent / "shared" / "eval" / "python311_dev_qa.jsonl"


class Command(BaseCommand):
    help = "Run the whole answer pipeline over a question set and report quality, declines and latency."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--set", dest="question_set", default=str(DEFAULT_SET), help="JSON Lines question set")
        parser.add_argument("--collection", action="append", default=None,
                            help='collection name (repeatable); default "Python 3.11 documentation"')  # fmt: skip
        parser.add_argument(
            "--provider", default="extractive",
            choices=["default", "extractive", "simulated", "simulated-hallucinating"],
            help="default: the configured chain; simulated*: a local OpenAI-compatible test double",
        )  # fmt: skip
        parser.add_argument("--out", default="", help="output folder (default artifacts/eval/<time>-<provider>)")
        parser.add_argument("--limit", type=int, default=0)
        parser.add_argument("--ids", default="", help="comma-separated item ids to run")
        parser.add_argument(
            "--with-cache", action="store_true",
            help="let answers come from the semantic cache (off by default: each item is answered afresh)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["question_set"])
        if not path.is_file():
            raise CommandError(f"question set not found: {path}")
        try:
            items = items_load(path)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["ids"]:
            wanted = set(options["ids"].split(","))
            items = [i for i in items if i["id"] in wanted]
        if options["limit"]:
            items = items[: options["limit"]]
        names = options["collection"] or ["Python 3.11 documentation"]
        collections = collections_by_name(names=names)
        if len(collections) != len(set(names)):
            found = {c.name for c in collections}
            raise CommandError(f"no collection named {', '.join(repr(n) for n in names if n not in found)}")

        embedder = embedding_provider_default()
        provider = options["provider"]
        simulator = None
        providers: list[LLMProvider]
        if provider == "default":
            providers = llm_chain_default(embedder=embedder)
        elif provider == "extractive":
            providers = [llm_provider_build("extractive", embedder=embedder)]
        else:
            from evaluation.simulated_llm import Simulator

            simulator = Simulator(first_token_ms=0, tokens_per_second=0,
                                  hallucinate=provider == "simulated-hallucinating").start()  # fmt: skip
            providers = [OpenAICompatibleProvider(base_url=simulator.url, model_id="simulated-1", api_key="",
                                                  timeout_s=30)]  # fmt: skip
        out = Path(options["out"] or Path(settings.BASE_DIR) / "artifacts" / "eval" /
                   f"{datetime.now():%Y%m%d-%H%M%S}-{provider}")  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        # Without --with-cache each item is answered afresh, not from earlier runs' cached answers.
        cache = override_settings(QA_CACHE_ENABLED=settings.QA_CACHE_ENABLED and options["with_cache"])
        try:
            cache.enable()
            report = eval_run(
                items=items, collections=collections, providers=providers, embedder=embedder,
                invented_log=simulator.invented if simulator is not None and simulator.hallucinate else None,
                name=f"evaluate {provider}", question_set=str(path), provider_label=provider,
                progress=lambda line: self.stdout.write(line),
            )  # fmt: skip
        finally:
            cache.disable()
            if simulator is not None:
                simulator.stop()
        summary = dict(report.summary)
        summary["paraphrase_consistency"] = paraphrase_consistency(report.items, items)
        (out / "results.json").write_text(json.dumps({"summary": summary, "items": report.items}, indent=2))
        (out / "report.md").write_text(
            report_markdown(title=f"Evaluation: {path.name}, provider {provider}", summary=summary, items=report.items)
        )
        self.stdout.write(json.dumps(summary, indent=2))
        self.stdout.write(f"wrote {out / 'results.json'} and {out / 'report.md'}")
