"""``manage.py pii_scan [--limit N]``: find personal data in passages not scanned yet now,
instead of waiting for the nightly job (``ingestion.services.pii_scan``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ingestion.services.pii_scan import chunks_pii_scan


class Command(BaseCommand):
    help = "Scan passages for personal data (names, e-mails, phones, cards, IBANs, IPs) ahead of questions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=20000, help="At most this many passages (default 20000).")

    def handle(self, *args: Any, **options: Any) -> None:
        result = chunks_pii_scan(limit=options["limit"])
        self.stdout.write(
            f"scanned {result['scanned']} passage(s), {result['with_pii']} with personal data; "
            f"{result['remaining']} not scanned yet"
        )
