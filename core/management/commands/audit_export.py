"""Export the audit trail as JSON lines in an OCSF-like shape (see core.services.audit).

python manage.py audit_export --since 2026-11-01                 # to stdout
python manage.py audit_export --since 2026-11-01T08:00 --out audit.jsonl"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.services.audit import audit_export


def _since(text: str) -> dt.datetime:
    """A date (from its midnight) or a datetime; without a zone, in the server's time zone."""
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = dt.datetime.combine(day, dt.time.min) if day is not None else None
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"--since {text!r} is not a date (2026-11-01) or a datetime (2026-11-01T08:00)")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


class Command(BaseCommand):
    help = "Write the audit events since a date as JSON lines (OCSF-like)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="date or datetime, e.g. 2026-11-01")
        parser.add_argument("--out", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _since(options["since"])
        lines = (json.dumps(record, ensure_ascii=False, sort_keys=True) for record in audit_export(since=since))
        if not options["out"]:
            for line in lines:
                self.stdout.write(line)
            return
        path, count = Path(options["out"]), 0
        with path.open("w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
                count += 1
        self.stderr.write(f"wrote {count} events to {path}")
