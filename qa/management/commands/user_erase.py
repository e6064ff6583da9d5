"""Erase everything Verity holds about one person (the right to erasure; what is deleted,
anonymised or kept: qa.services.person_data). Irreversible, so it needs --yes. Refused while
the person is under a legal hold.

python manage.py user_erase alice --yes"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from qa.services.person_data import person_erase


class Command(BaseCommand):
    help = "Erase everything Verity holds about a user (irreversible; needs --yes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        if not options["yes"]:
            raise CommandError(f"erasing {user.get_username()} cannot be undone: run again with --yes")
        try:
            report = person_erase(user=user, actor=None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"erased; the audit trail now calls them {report.pseudonym} (event #{report.audit_seq})")
        for kind, count in sorted(report.counts.items()):
            self.stdout.write(f"  {kind}: {count}")
        for table, count in sorted(report.kept.items()):
            if count:
                self.stdout.write(f"  kept (append-only) {table}: {count} still name them")
