"""Which prompt versions one question uses: every prompt's ``production`` version, except where
a running experiment puts the asker in an arm with another version or model tier. Chosen once,
at the start of an answer, and carried with it (``PromptChoice.as_dict``) so that the worker
uses the same versions as the web process that looked up the cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prompts.contracts import PromptTemplate
from prompts.services.registry import prompt_by_key, prompts_current


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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptChoice:
        templates = {prompt_id: prompt_by_key(key=key) for prompt_id, key in data.get("keys", {}).items()}
        return cls(
            templates=templates, arm_id=data.get("arm_id"), tier_name=data.get("tier_name", ""),
            experiment=data.get("experiment", ""),
        )  # fmt: skip


def prompt_choice_for(*, user_id: int | None, collection_ids: list[int] | None) -> PromptChoice:
    """The versions this user's question uses: production, or an experiment arm's."""
    return PromptChoice(templates=prompts_current())
