"""Apply the retention periods now (the nightly job does it too), or list what would go.

python manage.py retention --dry-run
python manage.py retention"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from qa.services.retention import retention_run


class Command(BaseCommand):
    help = "Delete or anonymise what outlived its data class's retention period (--dry-run: only list it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would go; change nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        report = retention_run(dry_run=options["dry_run"], batch_size=options["batch_size"])
        self.stdout.write(f"retention {'dry run' if report.dry_run else 'run'} at {report.now.isoformat()}")
        for line in report.lines():
            self.stdout.write(line)
