"""What the prompt lifecycle costs a question (issue #16): choosing the prompt versions (every
production label, one query; plus the asker's experiment arm when an experiment runs), against
the load stage's own first step, embedding the question, measured in the same run.

    .venv/bin/python bench/prompt_choice.py

Uses its own embedded servers (``.verity/bench-prompts``): no corpus is needed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("VERITY_DATA_DIR", str(Path(__file__).resolve().parent.parent / ".verity" / "bench-prompts"))
from bench.common import django_setup, machine, percentile, summary_ms  # noqa: E402

ROUNDS = 300
QUESTIONS = [
    "How do I reset my password?", "What is the hotel limit in London?", "When are salaries reviewed?",
    "Can I carry over unused leave days?", "Who approves expenses over 500 euros?",
]  # fmt: skip


def _timed(call: object, rounds: int) -> list[float]:
    out = []
    for index in range(rounds):
        started = time.perf_counter()
        call(index)  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    django_setup()
    from django.contrib.auth import get_user_model

    from prompts.models import Experiment, ExperimentState
    from prompts.services.experiments import ArmSpec, experiment_create, experiment_stop
    from prompts.services.registry import library_production, version_create
    from prompts.services.selection import prompt_choice_for
    from providers.registry import embedding_provider_default

    print(f"machine: {machine()}")
    users = get_user_model()
    people = [users.objects.get_or_create(username=f"bench-prompt-{n}")[0] for n in range(50)]
    embedder = embedding_provider_default()
    embedder.embed_query("warm up")

    embed = _timed(lambda i: embedder.embed_query(f"{QUESTIONS[i % len(QUESTIONS)]} ({i})"), ROUNDS)
    plain = _timed(lambda i: prompt_choice_for(user_id=people[i % 50].pk, collection_ids=None), ROUNDS)

    for running in Experiment.objects.filter(state=ExperimentState.RUNNING):
        experiment_stop(experiment_id=running.pk, actor=None)
    answer = library_production("answer")
    messages = [{"role": m.role, "template": m.template} for m in answer.messages]
    messages[0]["template"] += " Keep to three sentences."
    version = version_create(prompt_id="answer", messages=messages, actor=None, note="bench")
    experiment = experiment_create(
        name=f"bench {time.time():.0f}", actor=None,
        arms=[ArmSpec("A", 50), ArmSpec("B", 50, version=version.version)],
    )  # fmt: skip
    with_experiment = _timed(lambda i: prompt_choice_for(user_id=people[i % 50].pk, collection_ids=None), ROUNDS)
    experiment_stop(experiment_id=experiment.pk, actor=None)

    base = percentile(embed, 50)
    print(f"embedding the question (the load stage's first step, baseline): {summary_ms(embed)}")
    print(f"prompt versions chosen, no experiment:   {summary_ms(plain)}; "
          f"p50 ratio to the embedding {percentile(plain, 50) / base:.3f}")  # fmt: skip
    print(f"prompt versions chosen, one experiment:  {summary_ms(with_experiment)}; "
          f"p50 ratio to the embedding {percentile(with_experiment, 50) / base:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
