"""``manage.py kill_switch``: list the kill switches; ``kill_switch NAME on --reason "..."`` or
``kill_switch NAME off`` turns one on or off (audited; see ``qa.services.kill_switches``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from qa.models import KillSwitchName
from qa.services.kill_switches import kill_switch_set, kill_switch_states


class Command(BaseCommand):
    help = "List kill switches, or turn one on or off."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", choices=KillSwitchName.values)
        parser.add_argument("state", nargs="?", choices=["on", "off"])
        parser.add_argument("--reason", default="", help="Why (required to turn a switch on).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["name"]:
            if not options["state"]:
                raise CommandError("Say on or off.")
            try:
                kill_switch_set(
                    name=options["name"], active=options["state"] == "on", reason=options["reason"], actor=None
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
        for name, row in kill_switch_states():
            state = "ON " if row is not None and row.active else "off"
            detail = (
                f"  ({row.reason}; {row.changed_by_name}, {row.changed_at:%Y-%m-%d %H:%M})"
                if row and row.reason
                else ""
            )
            self.stdout.write(f"{state} {name.value:16} {name.label}{detail}")
