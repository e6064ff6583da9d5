"""Which prompt versions one question uses: every prompt's ``production`` version, except where
a running experiment puts the asker in an arm with another version or model tier. Chosen once,
at the start of an answer, and carried with it (``PromptChoice.as_dict``) so that the worker
uses the same versions as the web process that looked up the cache."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from prompts.contracts import PromptTemplate
from prompts.services.experiments import experiment_arm_for
from prompts.services.registry import prompt_by_key, prompts_by_keys, prompts_current


class PromptId:
    """The prompts the answer pipeline sends (folders of ``prompts/library/``)."""

    ANSWER = "answer"
    JUDGE = "judge"
    WORDING = "wording"


@dataclass(frozen=True)
class PromptChoice:
    templates: dict[str, PromptTemplate]
    arm_id: int | None = None
    tier_name: str = ""  # an experiment arm's model tier ("" : routing decides)
    experiment: str = field(default="", compare=False)
    arm: str = field(default="", compare=False)  # the arm's name, for the route and the logs

    def get(self, prompt_id: str) -> PromptTemplate:
        return self.templates[prompt_id]

    @property
    def answer(self) -> PromptTemplate:
        return self.templates[PromptId.ANSWER]

    @property
    def wording(self) -> PromptTemplate:
        return self.templates[PromptId.WORDING]

    def as_dict(self) -> dict[str, Any]:
        return {
            "keys": {prompt_id: t.key for prompt_id, t in self.templates.items()},
            "arm_id": self.arm_id,
            "tier_name": self.tier_name,
            "experiment": self.experiment,
            "arm": self.arm,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptChoice:
        keys: dict[str, str] = data.get("keys", {})
        by_key = prompts_by_keys(keys=keys.values())
        templates = {prompt_id: by_key[key] for prompt_id, key in keys.items()}
        if data.get("arm_id") is not None and PromptId.ANSWER in templates:
            templates[PromptId.ANSWER] = dataclasses.replace(templates[PromptId.ANSWER], arm_id=data["arm_id"])
        return cls(
            templates=templates, arm_id=data.get("arm_id"), tier_name=data.get("tier_name", ""),
            experiment=data.get("experiment", ""), arm=data.get("arm", ""),
        )  # fmt: skip


def prompt_choice_for(
    *,
    user_id: int | None,
    collection_ids: list[int] | None,
    readable_collection_ids: Callable[[], Collection[int]] | None = None,
) -> PromptChoice:
    """The versions this user's question uses: production, or, when a running experiment on the
    answering prompt takes this question (``experiment_arm_for``; ``readable_collection_ids``
    decides a scoped experiment for a question asked without collections), its arm's version
    (production when the arm names none) and model tier, with the arm recorded."""
    # The label this installation serves (a staging deployment serves ``staging``).
    templates = prompts_current(label=settings.PROMPT_LABEL)
    arm = experiment_arm_for(
        user_id=user_id, collection_ids=collection_ids, prompt_id=PromptId.ANSWER,
        readable_collection_ids=readable_collection_ids,
    )  # fmt: skip
    if arm is None:
        return PromptChoice(templates=templates)
    answer = prompt_by_key(key=arm.prompt_version.key) if arm.prompt_version is not None else templates[PromptId.ANSWER]
    templates[PromptId.ANSWER] = dataclasses.replace(answer, arm_id=arm.pk)
    return PromptChoice(
        templates=templates, arm_id=arm.pk, tier_name=arm.tier_name, experiment=arm.experiment.name, arm=arm.name
    )
