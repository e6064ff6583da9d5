"""Move a prompt's label from the command line: the engineer's deployment and rollback.

    python manage.py prompt_label answer production 3        # deploy answer-v3
    python manage.py prompt_label answer production --rollback

Audited like a move in the browser, with the actor ``cli:<operating-system user>``. Only an
approved version can carry a label: a library file's version (code review) or one created by an
approved proposal."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from prompts.services.proposals import label_move_operator


class Command(BaseCommand):
    help = "Point a prompt's label (production, staging, ...) at a version, or roll it back."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt", help="prompt id, e.g. answer")
        parser.add_argument("label", help="label name, e.g. production")
        parser.add_argument("version", nargs="?", type=int, help="version number (not with --rollback)")
        parser.add_argument("--rollback", action="store_true", help="move the label back to its previous version")
        parser.add_argument("--note", default="", help="why (kept in the audit record)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rollback"] == (options["version"] is not None):
            raise CommandError("give either a VERSION or --rollback")
        try:
            row = label_move_operator(
                operator=getpass.getuser(), prompt_id=options["prompt"], label=options["label"],
                version=options["version"], rollback=options["rollback"], note=options["note"],
            )  # fmt: skip
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{row.prompt_id}@{row.name} -> {row.version.key}")
