from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ops.services.bootstrap import bootstrap_run


class Command(BaseCommand):
    help = "Create roles, the admin account, demo users and the demo corpus (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="Only roles and the admin account.")

    def handle(self, *args: Any, **options: Any) -> None:
        result = bootstrap_run(with_demo=not options["no_demo"])
        if result.created_credentials:
            self.stdout.write("Accounts created (passwords are shown this once):")
            for username, password in result.created_credentials.items():
                self.stdout.write(f"  {username:<10} {password}")
        self.stdout.write(f"Demo corpus: {result.documents_loaded} document(s) in the demo collection.")
