"""Write a registry version into the library as a file, so that a version approved in the
browser becomes code like the others (reviewed in a pull request, loaded by migrate everywhere).

    python manage.py prompt_export answer 3            # writes prompts/library/answer/v3.toml
    python manage.py prompt_export answer 3 --stdout   # prints it instead"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from prompts.services.registry import LIBRARY_DIR, version_file_text


class Command(BaseCommand):
    help = "Write a prompt version from the registry into prompts/library/<prompt>/v<N>.toml."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt", help="prompt id, e.g. answer")
        parser.add_argument("number", type=int, help="the version number")
        parser.add_argument("--stdout", action="store_true", help="print the file instead of writing it")

    def handle(self, *args: Any, **options: Any) -> None:
        prompt_id, number = options["prompt"], options["number"]
        try:
            text = version_file_text(prompt_id=prompt_id, version=number)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if options["stdout"]:
            self.stdout.write(text, ending="")
            return
        path = LIBRARY_DIR / prompt_id / f"v{number}.toml"
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent} is not a prompt of the library")
        if path.exists():
            raise CommandError(f"{path} exists already: a released version file never changes")
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {path}; commit it (migrate recognises it as the version already loaded)")
