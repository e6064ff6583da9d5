"""The A/B experiment pages (``/ops/experiments/``): the list, the form that starts one, and an
experiment's page with each arm's numbers, the significance verdicts in words, and the stop
and promote buttons. Staff and prompt reviewers see them; promoting an arm moves the
production label, so only prompt reviewers may (the service checks it too). Views only
adapt: writes are ``prompts.services.experiments``, the numbers ``qa.selectors``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from core.errors import ApplicationError
from core.params import id_param, int_param
from ingestion.selectors.collections import collection_list_readable
from prompts.selectors import prompt_label_version, prompt_versions
from prompts.services.experiments import (
    EXPERIMENT_PROMPT_IDS,
    MAX_ARMS,
    MIN_SAMPLE_FLOOR,
    ArmSpec,
    experiment_arms,
    experiment_create,
    experiment_list,
    experiment_promote,
    experiment_stop,
)
from prompts.services.proposals import can_review
from qa.pipeline.routing import tiers_configured
from qa.selectors import experiment_arm_stats

PROMPT_DEFAULT = "answer"
# Rows of the create form: two are filled in (control and variant); the others stay blank
# unless an admin wants a third or fourth arm.
FORM_ROWS = min(4, MAX_ARMS)
MIN_SAMPLE_DEFAULT = 100


class ExperimentPagesMixin(UserPassesTestMixin):
    """Staff, or anyone who may move prompt labels (``prompts.review_prompt``)."""

    request: HttpRequest

    def test_func(self) -> bool:
        return bool(getattr(self.request.user, "is_staff", False)) or can_review(user=self.request.user)


class ExperimentListView(ExperimentPagesMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "ops/experiments.html", {"experiments": experiment_list()})


def _form_context(request: HttpRequest, *, prompt_id: str, values: dict[str, Any], error: str = "") -> dict[str, Any]:
    production = prompt_label_version(prompt_id=prompt_id)
    return {
        "prompt_id": prompt_id,
        "production": production,
        "versions": prompt_versions(prompt_id=prompt_id),
        "tiers": [t.name for t in tiers_configured()],
        "collections": list(collection_list_readable(user=request.user)),
        "rows": values["rows"],
        "name": values.get("name", ""),
        "min_sample": values.get("min_sample", MIN_SAMPLE_DEFAULT),
        "min_sample_floor": MIN_SAMPLE_FLOOR,
        "chosen_collections": values.get("collections", []),
        "error": error,
    }


def _blank_rows(*, version: str = "") -> list[dict[str, str]]:
    rows = [
        {"name": "control", "version": "", "tier": "", "share": "50"},
        {"name": "variant", "version": version, "tier": "", "share": "50"},
    ]
    return rows + [{"name": "", "version": "", "tier": "", "share": ""} for _ in range(FORM_ROWS - len(rows))]


def _arms_from(rows: list[dict[str, str]]) -> list[ArmSpec]:
    arms = []
    for index, row in enumerate(rows, start=1):
        if not (row["name"] or row["version"] or row["tier"] or row["share"]):
            continue  # an unused row
        share = int_param(row["share"], name=f"the share of arm {index}", default=-1, minimum=0, maximum=100)
        if share < 0:
            raise ApplicationError(f"Arm {index} needs a share (a whole percent).")
        version = int_param(row["version"], name=f"the version of arm {index}", default=0, minimum=1, maximum=10**6)
        arms.append(ArmSpec(name=row["name"], share=share, version=version or None, tier_name=row["tier"]))
    return arms


class ExperimentCreateView(ExperimentPagesMixin, View):
    """The form; ``?prompt=answer&version=3`` (the proposal page's "start an A/B test") puts the
    version in the variant arm."""

    def get(self, request: HttpRequest) -> HttpResponse:
        prompt_id = request.GET.get("prompt", PROMPT_DEFAULT)
        if prompt_id not in EXPERIMENT_PROMPT_IDS:
            prompt_id = PROMPT_DEFAULT
        version = request.GET.get("version", "")
        values = {"rows": _blank_rows(version=version if version.isdigit() else "")}
        return render(request, "ops/experiment_form.html", _form_context(request, prompt_id=prompt_id, values=values))

    def post(self, request: HttpRequest) -> HttpResponse:
        prompt_id = request.POST.get("prompt", PROMPT_DEFAULT)
        rows = [
            {field: request.POST.get(f"arm_{field}_{i}", "").strip() for field in ("name", "version", "tier", "share")}
            for i in range(FORM_ROWS)
        ]
        values: dict[str, Any] = {"rows": rows, "name": request.POST.get("name", ""),
                                  "min_sample": request.POST.get("min_sample", ""),
                                  "collections": request.POST.getlist("collections")}  # fmt: skip
        readable = {c.pk for c in collection_list_readable(user=request.user)}
        try:
            collections = [id_param(raw, name="a collection") for raw in values["collections"]]
            if not set(collections) <= readable:
                raise ApplicationError("Choose collections from the list.")
            experiment = experiment_create(
                name=values["name"], prompt_id=prompt_id, arms=_arms_from(rows), actor=request.user,
                collection_ids=collections, tier_names={t.name for t in tiers_configured()},
                min_sample=int_param(values["min_sample"], name="the minimum sample", default=MIN_SAMPLE_DEFAULT,
                                     minimum=1, maximum=10**6),
            )  # fmt: skip
        except ApplicationError as exc:
            context = _form_context(request, prompt_id=prompt_id if prompt_id in EXPERIMENT_PROMPT_IDS
                                    else PROMPT_DEFAULT, values=values, error=exc.message)  # fmt: skip
            return render(request, "ops/experiment_form.html", context, status=400)
        messages.success(request, f"The experiment {experiment.name!r} is running.")
        return redirect("ops:experiment_detail", experiment_id=experiment.pk)


class ExperimentDetailView(ExperimentPagesMixin, View):
    def get(self, request: HttpRequest, experiment_id: int) -> HttpResponse:
        found = experiment_arms(experiment_id=experiment_id)
        if found is None:
            raise Http404("No such experiment.")
        experiment, _ = found
        return render(
            request, "ops/experiment_detail.html",
            {"experiment": experiment, "stats": experiment_arm_stats(experiment_id=experiment_id),
             "can_promote": can_review(user=request.user)},
        )  # fmt: skip


class ExperimentStopView(ExperimentPagesMixin, View):
    def post(self, request: HttpRequest, experiment_id: int) -> HttpResponse:
        try:
            experiment = experiment_stop(
                experiment_id=experiment_id, actor=request.user, note=request.POST.get("note", "")
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Stopped {experiment.name!r}: everyone is back on production.")
        return redirect(reverse("ops:experiment_detail", kwargs={"experiment_id": experiment_id}))


class ExperimentPromoteView(ExperimentPagesMixin, View):
    def post(self, request: HttpRequest, experiment_id: int) -> HttpResponse:
        try:
            arm_id = id_param(request.POST.get("arm"), name="arm")
            experiment = experiment_promote(
                experiment_id=experiment_id, arm_id=arm_id, actor=request.user, note=request.POST.get("note", "")
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            arm = experiment.promoted_arm
            messages.success(request, f"Promoted arm {arm.name if arm else ''!r}: the production label follows it.")
        return redirect(reverse("ops:experiment_detail", kwargs={"experiment_id": experiment_id}))
