"""Project monthly model cost from what this installation has observed.

    python manage.py cost_projection --users 500 --questions-per-user 40 [--days 30]

``--questions-per-user`` is per user per month. The projection multiplies the questions by the
observed share that missed the cache and by the observed cost of an answer that missed it, and
shows the 3-5x factor by which production use usually exceeds a pilot (longer questions, more
follow-ups, more documents, retries)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ops.selectors.usage import cost_per_model, usage_observed


class Command(BaseCommand):
    help = "Project monthly model cost from the observed cost per query and cache hit rate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--questions-per-user", type=float, required=True, help="per user per month")
        parser.add_argument("--days", type=int, default=30, help="observation window (default 30 days)")

    def handle(self, *args: Any, **options: Any) -> None:
        users, per_user, days = options["users"], options["questions_per_user"], options["days"]
        if users <= 0 or per_user <= 0 or days <= 0:
            raise CommandError("--users, --questions-per-user and --days must be positive")
        since = timezone.now() - timedelta(days=days)
        observed = usage_observed(since=since)
        if not observed["answers"]:
            raise CommandError(f"no answers in the last {days} days to learn from; ask some questions first")
        questions = Decimal(users) * Decimal(str(per_user))
        hit_rate = Decimal(str(round(observed["cache_hit_rate"], 4)))
        misses = questions * (1 - hit_rate)
        per_miss = Decimal(observed["cost_per_uncached_query"])
        base = misses * per_miss
        out = self.stdout.write
        out(f"Observed over the last {days} days: {observed['answers']} answers, total cost "
            f"{observed['total_cost']:.4f}; cost per query {observed['cost_per_query']:.6f}, "
            f"per uncached query {per_miss:.6f}; cache hit rate {float(hit_rate):.1%} "
            f"({observed['cache_hits']} of {observed['cache_lookups']} lookups).")  # fmt: skip
        for row in cost_per_model(since=since):
            out(f"  {row['provider']}:{row['model']}: {row['calls']} calls, cost {row['cost'] or 0:.4f}, "
                f"tokens {row['tokens_in'] or 0} in / {row['tokens_out'] or 0} out")  # fmt: skip
        out(f"Projection for {users} users x {per_user:g} questions per month = {questions:,.0f} questions; "
            f"{misses:,.0f} reach a model after the cache.")  # fmt: skip
        out(f"  pilot-like usage:          {base:,.2f} per month")
        out(f"  production (x3 .. x5):     {base * 3:,.2f} .. {base * 5:,.2f} per month")
        out("The 3-5x factor: production users ask longer questions, follow up more and search more documents than "
            "a pilot; budget for the upper end until a month of production data replaces this estimate.")  # fmt: skip
