"""Reads of the prompt registry for pages and other apps: prompts with their labels, a prompt's
versions and history, proposals."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from prompts.models import EventAction, PromptEvent, PromptLabel, PromptProposal, PromptVersion, ProposalState

# Events shown on a page: a prompt's history is short (a few moves a week); this is a screenful.
EVENTS_SHOWN = 50


@dataclass
class PromptSummary:
    prompt_id: str
    kind: str
    description: str
    versions: int
    labels: dict[str, int]  # label name -> version number
    latest_events: list[PromptEvent] = field(default_factory=list)
    open_proposals: int = 0


def prompt_list() -> list[PromptSummary]:
    """Every prompt in the registry with its labels, its last events and open proposals."""
    summaries: dict[str, PromptSummary] = {}
    for row in PromptVersion.objects.order_by("prompt_id", "-version").only(
        "prompt_id", "version", "kind", "description"
    ):
        summary = summaries.get(row.prompt_id)
        if summary is None:
            summaries[row.prompt_id] = PromptSummary(
                prompt_id=row.prompt_id, kind=row.kind, description=row.description, versions=1, labels={}
            )
        else:
            summary.versions += 1
    for label in PromptLabel.objects.select_related("version"):
        if label.prompt_id in summaries:
            summaries[label.prompt_id].labels[label.name] = label.version.version
    for prompt_id, summary in summaries.items():
        summary.latest_events = list(PromptEvent.objects.filter(prompt_id=prompt_id)[:3])
        summary.open_proposals = PromptProposal.objects.filter(
            prompt_id=prompt_id, state__in=[ProposalState.TESTING, ProposalState.TESTED]
        ).count()
    return list(summaries.values())


def prompt_versions(*, prompt_id: str) -> list[PromptVersion]:
    return list(PromptVersion.objects.filter(prompt_id=prompt_id).order_by("-version"))


def prompt_version_get(*, prompt_id: str, version: int) -> PromptVersion | None:
    return PromptVersion.objects.filter(prompt_id=prompt_id, version=version).first()


def prompt_labels(*, prompt_id: str) -> list[PromptLabel]:
    return list(PromptLabel.objects.filter(prompt_id=prompt_id).select_related("version").order_by("name"))


def prompt_label_version(*, prompt_id: str, label: str = PromptLabel.PRODUCTION) -> PromptVersion | None:
    row = PromptLabel.objects.filter(prompt_id=prompt_id, name=label).select_related("version").first()
    return row.version if row is not None else None


def prompt_events(*, prompt_id: str, limit: int = EVENTS_SHOWN) -> list[PromptEvent]:
    return list(PromptEvent.objects.filter(prompt_id=prompt_id)[:limit])


def proposal_get(*, proposal_id: int) -> PromptProposal | None:
    return (
        PromptProposal.objects.select_related("base_version", "author", "reviewer", "created_version")
        .filter(pk=proposal_id)
        .first()
    )


def proposal_list(*, prompt_id: str | None = None) -> QuerySet[PromptProposal]:
    proposals = PromptProposal.objects.select_related("base_version", "author", "reviewer", "created_version")
    return proposals.filter(prompt_id=prompt_id) if prompt_id else proposals


def proposal_for_version(*, version: PromptVersion) -> PromptProposal | None:
    """The approved proposal a version was created from (None for a library file's version)."""
    return PromptProposal.objects.filter(created_version=version).select_related("author", "reviewer").first()


# Tier test results older than this many events are not read: a tier's latest run is among the
# last few (one per tier change), and routing reads this on every question.
TIER_RESULTS_READ = 200


def tier_versions_failing() -> set[tuple[str, int]]:
    """The (tier name, tier version) pairs whose latest prompt-suite run failed (``tier_tested``
    events): routing keeps them out until the tier changes again or a new run passes."""
    latest: dict[tuple[str, int], bool] = {}
    events = PromptEvent.objects.filter(action=EventAction.TIER_TESTED).order_by("-created_at", "-pk")
    for detail in events.values_list("detail", flat=True)[:TIER_RESULTS_READ]:
        key = (str(detail.get("tier", "")), int(detail.get("tier_version") or 0))
        latest.setdefault(key, bool(detail.get("ok")))
    return {key for key, ok in latest.items() if not ok}
