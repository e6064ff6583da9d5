"""The CI quality gate: ingest the golden sets, answer them with the built-in model, fail (exit
status 1) when a measure is on the wrong side of its threshold (evaluation/golden/thresholds.json).

    python manage.py quality_gate
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from evaluation.services.quality_gate import MEASURES, THRESHOLDS, quality_gate_run, thresholds_load
from providers.registry import embedding_provider_default, llm_provider_build


class Command(BaseCommand):
    help = "Answer the golden sets with the built-in model and fail below the quality thresholds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--thresholds", default=str(THRESHOLDS), help="JSON thresholds per set")
        parser.add_argument("--quiet", action="store_true", help="no line per question")

    def handle(self, *args: Any, **options: Any) -> None:
        from pathlib import Path

        thresholds = thresholds_load(Path(options["thresholds"]))
        embedder = embedding_provider_default()
        result = quality_gate_run(
            providers=[llm_provider_build("extractive", embedder=embedder)], embedder=embedder, thresholds=thresholds,
            progress=None if options["quiet"] else self.stdout.write,
        )  # fmt: skip
        for key, summary in result.summaries.items():
            shown = {m: summary.get(m) for m in MEASURES}
            self.stdout.write(f"{key}: {json.dumps(shown)} thresholds {json.dumps(thresholds.get(key, {}))}")
        if not result.passed:
            for failure in result.failures:
                self.stderr.write(f"FAILED {failure}")
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("quality gate passed"))
