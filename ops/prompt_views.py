"""The prompt pages: the registry (prompts, labels, versions, history), proposing a change in
the browser (editors), a proposal's test results beside production's and its review
(reviewers), and moving or rolling back labels (reviewers). Views only adapt: every write is a
service of prompts or evaluation."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from core.errors import ApplicationError
from core.http import HtmxHttpRequest
from ops.prompt_diff import messages_diff
from ops.services.prompt_proposals import proposal_submit
from prompts.models import PromptKind, PromptLabel, PromptProposal, PromptVersion, ProposalState
from prompts.selectors import (
    prompt_events,
    prompt_label_version,
    prompt_labels,
    prompt_list,
    prompt_version_get,
    prompt_versions,
    proposal_for_version,
    proposal_get,
    proposal_list,
)
from prompts.services.proposals import (
    can_propose,
    can_review,
    label_move_checked,
    label_rollback_checked,
    proposal_approve,
    proposal_reject,
    version_approved,
)
from prompts.services.registry import library_default

# While a proposal is tested its page asks for the results this often (htmx polling).
POLL_SECONDS = 2
# Where "start an A/B test" goes when the experiments pages name no create route.
EXPERIMENT_CREATE_PATH = "/ops/experiments/new/"


class PromptPagesMixin(UserPassesTestMixin):
    """Staff, prompt editors and prompt reviewers read the prompt pages; what each may do on
    them is decided by the services (``can_propose``, ``can_review``)."""

    request: HttpRequest

    def test_func(self) -> bool:
        user = self.request.user
        return bool(getattr(user, "is_staff", False)) or can_propose(user=user) or can_review(user=user)


def _after_post(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _variables_of(prompt_id: str, version: PromptVersion) -> list[tuple[str, str]]:
    """The ``${names}`` a template may use, with what each holds (from ``prompt.toml``)."""
    described = library_default().get(prompt_id)
    descriptions = described.variables if described is not None else {}
    return [(name, descriptions.get(name, "")) for name in version.variables]


def _experiment_link(prompt_id: str, version: int) -> str:
    try:
        base = reverse("ops:experiment_create")
    except NoReverseMatch:
        base = EXPERIMENT_CREATE_PATH
    return f"{base}?{urlencode({'prompt': prompt_id, 'version': version})}"


def _production_or_404(prompt_id: str) -> PromptVersion:
    production = prompt_label_version(prompt_id=prompt_id)
    if production is None:
        raise Http404("No such prompt.")
    return production


class PromptListView(PromptPagesMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request, "ops/prompts.html",
            {"prompts": prompt_list(), "proposals": list(proposal_list()[:20]),
             "can_propose": can_propose(user=request.user)},
        )  # fmt: skip


class PromptDetailView(PromptPagesMixin, View):
    def get(self, request: HttpRequest, prompt_id: str) -> HttpResponse:
        production = _production_or_404(prompt_id)
        versions = prompt_versions(prompt_id=prompt_id)
        labels = prompt_labels(prompt_id=prompt_id)
        by_version: dict[int, list[str]] = {}
        for label in labels:
            by_version.setdefault(label.version.version, []).append(label.name)
        rows = [
            {"version": v, "labels": by_version.get(v.version, []), "approved": version_approved(version=v)}
            for v in versions
        ]
        return render(
            request, "ops/prompts_detail.html",
            {"prompt_id": prompt_id, "production": production, "versions": rows, "labels": labels,
             "events": prompt_events(prompt_id=prompt_id), "proposals": list(proposal_list(prompt_id=prompt_id)[:50]),
             "can_propose": can_propose(user=request.user), "can_review": can_review(user=request.user),
             "description": versions[0].description if versions else ""},
        )  # fmt: skip


class PromptVersionView(PromptPagesMixin, View):
    def get(self, request: HttpRequest, prompt_id: str, version: int) -> HttpResponse:
        row = prompt_version_get(prompt_id=prompt_id, version=version)
        if row is None:
            raise Http404("No such version.")
        production = _production_or_404(prompt_id)
        label_map = {label.name: label.version.version for label in prompt_labels(prompt_id=prompt_id)}
        return render(
            request, "ops/prompts_version.html",
            {"prompt_id": prompt_id, "version": row, "production": production,
             "diff": messages_diff(before=production.messages, after=row.messages),
             "variables": _variables_of(prompt_id, row), "proposal": proposal_for_version(version=row),
             "labels": [name for name, number in label_map.items() if number == row.version], "label_map": label_map,
             "approved": version_approved(version=row), "can_review": can_review(user=request.user),
             "experiment_link": _experiment_link(prompt_id, row.version)},
        )  # fmt: skip


def _posted_messages(request: HttpRequest, production: PromptVersion) -> list[dict[str, str]]:
    """The text areas of the propose form, one per message of production (``message-<n>``);
    the roles (or wording entries) come from production, not from the browser."""
    return [
        {"role": m["role"], "template": request.POST.get(f"message-{index}", "")}
        for index, m in enumerate(production.messages)
    ]


class PromptProposeView(PromptPagesMixin, View):
    """Editors edit a draft of the production version: a text area per message, the variables
    listed, a diff against production (``preview``), then submit (tests start on their own)."""

    def _page(
        self, request: HttpRequest, prompt_id: str, production: PromptVersion, drafts: list[dict[str, str]],
        **extra: Any,
    ) -> HttpResponse:  # fmt: skip
        return render(
            request, "ops/prompts_propose.html",
            {"prompt_id": prompt_id, "production": production,
             "fields": [{"name": f"message-{i}", "role": m["role"], "template": m["template"]}
                        for i, m in enumerate(drafts)],
             "variables": _variables_of(prompt_id, production), "is_text": production.kind == PromptKind.TEXT,
             "summary": request.POST.get("summary", ""), "rationale": request.POST.get("rationale", ""),
             "can_propose": can_propose(user=request.user), **extra},
        )  # fmt: skip

    def get(self, request: HttpRequest, prompt_id: str) -> HttpResponse:
        production = _production_or_404(prompt_id)
        return self._page(request, prompt_id, production, [dict(m) for m in production.messages])

    def post(self, request: HtmxHttpRequest, prompt_id: str) -> HttpResponse:
        production = _production_or_404(prompt_id)
        drafts = _posted_messages(request, production)
        diff = messages_diff(before=production.messages, after=drafts)
        if request.POST.get("action") == "preview":
            if request.htmx:
                return render(request, "ops/prompts_diff_partial.html", {"diff": diff, "production": production})
            return self._page(request, prompt_id, production, drafts, diff=diff)
        try:
            proposal = proposal_submit(
                prompt_id=prompt_id, messages=drafts, summary=request.POST.get("summary", ""),
                rationale=request.POST.get("rationale", ""), author=cast(User, request.user),
            )  # fmt: skip
        except ApplicationError as exc:
            problems = exc.extra.get("problems")
            return self._page(
                request, prompt_id, production, drafts, diff=diff, error=exc.message,
                problems=problems if isinstance(problems, list) else [],
            )  # fmt: skip
        messages.success(request, "Proposal submitted: its tests are running.")
        return _after_post(request, reverse("ops:prompt_proposal", args=[proposal.pk]))


def _proposal_context(request: HttpRequest, proposal: PromptProposal) -> dict[str, Any]:
    user = request.user
    is_author = proposal.author_id is not None and proposal.author_id == user.pk
    version = proposal.created_version
    labels = prompt_labels(prompt_id=proposal.prompt_id) if version is not None else []
    production = prompt_label_version(prompt_id=proposal.prompt_id)
    return {
        "proposal": proposal,
        "diff": messages_diff(before=proposal.base_version.messages, after=proposal.messages),
        "testing": proposal.state == ProposalState.TESTING,
        "poll_seconds": POLL_SECONDS,
        "results": proposal.results,
        "baseline": proposal.baseline_results,
        "golden_rows": _golden_rows(proposal.results.get("golden"), proposal.baseline_results.get("golden")),
        "suite_rows": _suite_rows(proposal.results.get("suite"), proposal.baseline_results.get("suite")),
        "golden_changed": _golden_changed(proposal.results.get("golden"), proposal.baseline_results.get("golden")),
        "can_review": can_review(user=user),
        "is_author": is_author,
        "may_decide": can_review(user=user) and not is_author and proposal.state == ProposalState.TESTED,
        "may_reject": can_review(user=user)
        and proposal.state in (ProposalState.TESTING, ProposalState.TESTED, ProposalState.FAILED),
        "labels": {label.name: label.version.version for label in labels},
        "production": production,
        "experiment_link": _experiment_link(proposal.prompt_id, version.version) if version is not None else "",
    }


# The golden measures a reviewer compares, in order, and which direction is better.
GOLDEN_MEASURES = [
    ("answered_with_fact", "Answerable questions answered with the fact", "answerable", True),
    ("false_declines", "Answerable questions declined", "answerable", False),
    ("unanswerable_declined", "Unanswerable questions declined", "unanswerable", True),
    ("unsupported_delivered", "Delivered sentences not found in the cited passages", "delivered_sentences", False),
    ("verifier_removed", "Sentences the verifier removed", "", False),
    (
        "prompt_fallbacks",
        "Answers rewritten by the fallback prompt (this prompt's output failed its checks)",
        "items",
        False,
    ),
]


def _golden_rows(mine: dict[str, Any] | None, base: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not mine or not base or not mine.get("ran") or not base.get("ran"):
        return []
    rows = []
    for key, label, out_of, higher_is_better in GOLDEN_MEASURES:
        a, b = mine["summary"].get(key), base["summary"].get(key)
        worse = a is not None and b is not None and (a < b if higher_is_better else a > b)
        better = a is not None and b is not None and (a > b if higher_is_better else a < b)
        rows.append({
            "key": key, "label": label, "proposal": a, "production": b, "worse": worse, "better": better,
            "proposal_of": mine["summary"].get(out_of) if out_of else None,
            "production_of": base["summary"].get(out_of) if out_of else None,
        })  # fmt: skip
    return rows


def _golden_changed(mine: dict[str, Any] | None, base: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The golden questions whose outcome differs between the draft and production: what a
    reviewer reads first (the numbers above only count them)."""
    if not mine or not base or not mine.get("ran") or not base.get("ran"):
        return []
    theirs = {item["id"]: item for item in base.get("items", [])}
    changed = []
    for item in mine.get("items", []):
        other = theirs.get(item["id"])
        if other is None:
            continue
        if (item["correct"], item["status"], item["unsupported"], item.get("fallback")) != (
            other["correct"], other["status"], other["unsupported"], other.get("fallback"),
        ):  # fmt: skip
            changed.append({"question": item["question"], "type": item["type"], "proposal": item, "production": other})
    return changed


def _suite_rows(mine: dict[str, Any] | None, base: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per case: the proposal's result and production's, with the failed checks."""
    if not mine:
        return []
    theirs = {c["name"]: c for c in (base or {}).get("cases", [])}
    rows = []
    for case in mine.get("cases", []):
        other = theirs.get(case["name"])
        rows.append({
            "name": case["name"], "result": case["result"], "production": other["result"] if other else "—",
            "failed_checks": [c for c in case["checks"] if not c["passed"] and not c["skipped"]],
            "output": case.get("output", ""),
        })  # fmt: skip
    return rows


class ProposalView(PromptPagesMixin, View):
    def get(self, request: HtmxHttpRequest, proposal_id: int) -> HttpResponse:
        proposal = proposal_get(proposal_id=proposal_id)
        if proposal is None:
            raise Http404("No such proposal.")
        context = _proposal_context(request, proposal)
        if request.htmx:  # the polling of the results while the tests run
            return render(request, "ops/prompts_proposal_status.html", context)
        return render(request, "ops/prompts_proposal.html", context)


class ProposalDecideView(PromptPagesMixin, View):
    def post(self, request: HtmxHttpRequest, proposal_id: int) -> HttpResponse:
        proposal = proposal_get(proposal_id=proposal_id)
        if proposal is None:
            raise Http404("No such proposal.")
        reviewer = cast(User, request.user)
        action, note = request.POST.get("action", ""), request.POST.get("note", "")
        try:
            if action == "approve":
                version = proposal_approve(proposal=proposal, reviewer=reviewer, note=note, request=request)
                messages.success(request, f"Approved: version {version.version} created. No label moved yet.")
            elif action == "reject":
                proposal_reject(proposal=proposal, reviewer=reviewer, note=note, request=request)
                messages.success(request, "Rejected; the editor sees your note.")
            else:
                raise ApplicationError("Unknown action.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return _after_post(request, reverse("ops:prompt_proposal", args=[proposal_id]))


class PromptLabelView(PromptPagesMixin, View):
    """Move a label to a version (``move``) or back to where it was (``rollback``)."""

    def post(self, request: HtmxHttpRequest, prompt_id: str) -> HttpResponse:
        actor = cast(User, request.user)
        label = request.POST.get("label", "").strip() or PromptLabel.PRODUCTION
        note = request.POST.get("note", "")
        try:
            if request.POST.get("action") == "rollback":
                row = label_rollback_checked(actor=actor, prompt_id=prompt_id, label=label, note=note, request=request)
                messages.success(request, f"{label} rolled back to version {row.version.version}.")
            else:
                raw = request.POST.get("version", "")
                if not raw.isdigit():
                    raise ApplicationError("Choose a version.")
                row = label_move_checked(
                    actor=actor, prompt_id=prompt_id, label=label, version=int(raw), note=note, request=request
                )
                messages.success(request, f"{row.name} now points at version {row.version.version}.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        back = request.POST.get("next", "")
        if not back or not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("ops:prompt_detail", args=[prompt_id])
        return _after_post(request, back)
