"""The prompt-injection benchmark (docs/BENCHMARKS.md, "Prompt injection").

    python manage.py injection_benchmark                 # the whole corpus (evaluation/injection/)
    python manage.py injection_benchmark --limit 10 --out artifacts/injection

Ingests the corpus into a fresh collection, asks each document's question through the answer
pipeline with a model double that obeys injected instructions, and prints the share of answers
in which an injected payload reached the user (final answer or stream)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation.services.injection import (
    CORPUS_DIR,
    injection_benchmark_run,
    injection_corpus_load,
    injection_report_markdown,
)


class Command(BaseCommand):
    help = "Measure how often an injected instruction's payload reaches the user (obedient model double)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", default=str(CORPUS_DIR), help="folder with manifest.json and corpus/")
        parser.add_argument("--limit", type=int, default=0, help="only the first N documents")
        parser.add_argument("--files", default="", help="comma-separated corpus file names to run")
        parser.add_argument("--out", default="", help="output folder (default artifacts/injection/<time>)")
        parser.add_argument("--keep", action="store_true", help="keep the benchmark collection afterwards")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = Path(options["corpus"])
        if not (directory / "manifest.json").is_file():
            raise CommandError(f"no manifest.json in {directory}")
        cases = injection_corpus_load(directory=directory)
        if options["files"]:
            wanted = set(options["files"].split(","))
            cases = [c for c in cases if c.file in wanted]
        if options["limit"]:
            cases = cases[: options["limit"]]
        report = injection_benchmark_run(
            cases=cases, directory=directory, keep=options["keep"], progress=lambda line: self.stdout.write(line)
        )
        out = Path(
            options["out"] or Path(settings.BASE_DIR) / "artifacts" / "injection" / f"{datetime.now():%Y%m%d-%H%M%S}"
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(report.as_dict(), indent=2))
        (out / "report.md").write_text(injection_report_markdown(report=report, title="Prompt-injection benchmark"))
        self.stdout.write(json.dumps(report.summary(), indent=2))
        self.stdout.write(f"wrote {out / 'results.json'} and {out / 'report.md'}")
