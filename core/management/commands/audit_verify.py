"""Check the audit trail's hash chain: exit 0 when intact, 1 with the first broken seq.

python manage.py audit_verify"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.services.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit 1 with the first broken seq when it is broken."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if not report.ok:
            raise CommandError(f"audit chain broken at seq {report.broken_seq}: {report.reason}")
        since = f" from seq {report.start_seq} (older events removed by retention)" if report.start_seq > 1 else ""
        redacted = f", {report.redacted} anonymised by erasure" if report.redacted else ""
        self.stdout.write(f"audit chain intact: {report.checked} events{since}{redacted}")
