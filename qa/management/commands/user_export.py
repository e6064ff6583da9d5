"""Everything Verity holds about one person, as one JSON file (the right of access; see
qa.services.person_data). Recorded in the audit trail as a system action.

python manage.py user_export alice                      # to stdout
python manage.py user_export alice --output alice.json"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from qa.services.person_data import person_export


class Command(BaseCommand):
    help = "Write everything Verity holds about a user as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--output", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        # The operator at the console is "system" in the audit trail (no signed-in actor).
        text = json.dumps(person_export(user=user, actor=None), ensure_ascii=False, indent=2, sort_keys=True)
        if not options["output"]:
            self.stdout.write(text)
            return
        path = Path(options["output"])
        path.write_text(text + "\n", encoding="utf-8")
        self.stderr.write(f"wrote the data of {user.get_username()} to {path}")
