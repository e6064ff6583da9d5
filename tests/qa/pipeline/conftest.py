"""Fixtures of the pipeline's stage tests: the stages run in order up to the one under test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User

from qa.pipeline.deps import PipelineDeps
from qa.pipeline.gate import GateVerdict, answer_gate
from qa.pipeline.load import Loaded, answer_fetch, answer_load
from qa.pipeline.orchestrator import answer_create
from qa.pipeline.plan import Plan, answer_plan
from qa.pipeline.retrieve import Retrieved, answer_retrieve
from tests.helpers import Recorder


@dataclass(frozen=True)
class UpToPlan:
    loaded: Loaded
    retrieved: Retrieved
    verdict: GateVerdict
    plan: Plan


class Stages:
    """A new pending answer to ``question``, taken through the stages before the one tested."""

    def load(self, user: User, question: str, deps: PipelineDeps) -> Loaded:
        answer = answer_create(user=user, question=question)
        return answer_load(answer=answer_fetch(answer_id=answer.pk), deps=deps, collection_ids=None, prepared=None)

    def gate(self, user: User, question: str, deps: PipelineDeps) -> tuple[Loaded, Retrieved, GateVerdict]:
        loaded = self.load(user, question, deps)
        retrieved = answer_retrieve(loaded=loaded, deps=deps, collection_ids=None)
        return loaded, retrieved, answer_gate(loaded=loaded, retrieved=retrieved, deps=deps, collection_ids=None)

    def plan(self, user: User, question: str, deps: PipelineDeps) -> UpToPlan:
        loaded, retrieved, verdict = self.gate(user, question, deps)
        plan = answer_plan(loaded=loaded, retrieved=retrieved, verdict=verdict, deps=deps)
        return UpToPlan(loaded, retrieved, verdict, plan)


@pytest.fixture
def stages() -> Stages:
    return Stages()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
