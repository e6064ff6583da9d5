"""Run prompts' test suites (``prompts/library/<id>/suite.toml``) and print a table per prompt.

    python manage.py prompt_test answer                      # production's version, simulated model
    python manage.py prompt_test answer --version 3          # or --key answer-v3, --label staging
    python manage.py prompt_test answer --file prompts/library/answer/v3.toml   # before it is loaded
    python manage.py prompt_test --all --provider tier:small # every suite against a model tier

Exits with status 1 when any case fails (or a template cannot be used)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import ApplicationError
from evaluation.services.prompt_suites import (
    SUITE_FILE,
    ProviderChoice,
    SuiteError,
    provider_check,
    suite_run,
    version_file_read,
)
from prompts.contracts import PromptTemplate, key_of, key_parse
from prompts.services.registry import PRODUCTION, LibraryError, library_default, prompt_by_key, prompt_current


class Command(BaseCommand):
    help = "Run prompt test suites against a model and print the results; exit 1 when a case fails."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Django's own --version (the Django release) would take the name of the prompt version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt", nargs="?", default="", help="a prompt id (answer, judge, wording, ...)")
        parser.add_argument("--all", action="store_true", help="every prompt that has a suite")
        parser.add_argument(
            "--every-version", action="store_true",
            help="with --all: every version file of the library, not only the labelled versions (what CI runs: "
            "a new vN.toml that lost an instruction fails before any label points at it)",
        )  # fmt: skip
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--version", type=int, help="a version number of PROMPT")
        which.add_argument("--key", default="", help="a version key, like answer-v3")
        which.add_argument("--label", default="", help=f"the version a label points at (default {PRODUCTION})")
        which.add_argument("--file", default="", help="a version file (vN.toml) not yet loaded into the registry")
        parser.add_argument(
            "--provider", default=ProviderChoice.SIMULATED.value,
            help="simulated (the instructed test double), extractive, or tier:<name> (a configured model tier)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] < 2:
            # One log line per model call would bury the tables (CI prints them).
            logging.getLogger("httpx").setLevel(logging.WARNING)
        templates = self._templates(options)
        failed = []
        for template in templates:
            report = suite_run(template=template, provider=options["provider"])
            self.stdout.write(report.table() + "\n")
            if not report.ok:
                failed.append(report.prompt_key)
        if failed:
            raise CommandError(f"{len(failed)} of {len(templates)} suites failed: {', '.join(failed)}", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"{len(templates)} suites passed"))

    def _templates(self, options: dict[str, Any]) -> list[PromptTemplate]:
        prompt_id: str = options["prompt"]
        try:
            provider_check(options["provider"])
            if options["file"]:
                return [version_file_read(path=Path(options["file"]), prompt_id=prompt_id)]
            if options["key"]:
                if prompt_id and key_parse(options["key"])[0] != prompt_id:
                    raise CommandError(f"{options['key']} is not a version of {prompt_id}")
                return [prompt_by_key(key=options["key"])]
            label = options["label"] or PRODUCTION
            if options["all"]:
                if prompt_id or options["version"]:
                    raise CommandError("--all runs every prompt's suite: give no PROMPT or --version with it")
                library = library_default()
                with_suite = [p for p, v in library.items() if v.directory and (v.directory / SUITE_FILE).is_file()]
                if options["every_version"]:
                    return [template for p in with_suite for template in library[p].versions]
                return [prompt_current(prompt_id=p, label=label) for p in with_suite]
            if not prompt_id:
                raise CommandError("name a PROMPT (or --all)")
            if options["version"]:
                return [prompt_by_key(key=key_of(prompt_id, options["version"]))]
            return [prompt_current(prompt_id=prompt_id, label=label)]
        except (SuiteError, ApplicationError, LibraryError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
