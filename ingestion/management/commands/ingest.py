from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.models import Document, DocumentStatus
from ingestion.services.batch import batch_ingest, batch_wait


class Command(BaseCommand):
    help = "Ingest files and folders (recursively) into a collection through the Celery pipeline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--collection", required=True, help="collection name (created if missing)")
        parser.add_argument("--wait", action="store_true", help="wait until every document is ready or failed")
        parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait at most (with --wait)")
        parser.add_argument("--user", help="record this username as the uploader")
        parser.add_argument(
            "--glob", default="*", help='only files matching this pattern inside folders, e.g. "*.html"'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        missing = [str(p) for p in options["paths"] if not p.exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user named {options['user']}")
        started = time.monotonic()
        seen = 0

        def on_file(path: Path, outcome: str) -> None:
            nonlocal seen
            seen += 1
            if outcome != "queued" or seen % 50 == 0:
                self.stdout.write(f"  [{seen}] {outcome:<9} {path}")

        report = batch_ingest(
            paths=[p.resolve() for p in options["paths"]],
            collection_name=options["collection"],
            uploaded_by=user,
            pattern=options["glob"],
            on_file=on_file,
        )
        self.stdout.write(
            f"Queued {len(report.queued)}, already present {len(report.duplicates)}, refused {len(report.refused)}."
        )
        for path, reason in report.refused:
            self.stdout.write(self.style.WARNING(f"  refused {path}: {reason}"))
        if not options["wait"] or not report.queued:
            return
        last = ""

        def on_progress(counts: dict[str, int]) -> None:
            nonlocal last
            line = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            if line != last:
                self.stdout.write(f"  {time.monotonic() - started:6.1f}s  {line}")
                last = line

        counts = batch_wait(document_ids=report.queued, timeout=options["timeout"], on_progress=on_progress)
        elapsed = time.monotonic() - started
        failed = Document.objects.filter(pk__in=report.queued, status=DocumentStatus.FAILED)
        for doc in failed.order_by("source_name")[:100]:
            # The operator at the shell is an admin: the details go with the reason.
            detail = f"\n    {doc.error_detail}" if doc.error_detail else ""
            self.stdout.write(self.style.WARNING(f"  failed {doc.source_name}: {doc.error}{detail}"))
        ready = counts.get(DocumentStatus.READY, 0)
        self.stdout.write(
            f"Done in {elapsed:.1f}s: {ready} ready, {failed.count()} failed, "
            f"{len(report.queued) - ready - failed.count()} unfinished."
        )
