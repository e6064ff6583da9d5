"""The system check names every model id in settings that floats (warning) or is refused (error)."""

from __future__ import annotations

from django.core.checks import run_checks
from django.test import override_settings

from qa.system_checks import FLOATING_MODEL_ID, REFUSED_MODEL_ID


def _pinning_messages() -> list[tuple[str, str]]:
    return [(m.id, str(m.obj)) for m in run_checks() if m.id in {FLOATING_MODEL_ID, REFUSED_MODEL_ID}]


@override_settings(
    LLM_TIERS=[
        {"name": "small", "model": "gpt-4o-mini"},
        {"name": "large", "model": "claude-3-5-sonnet-latest"},
        {"name": "local", "model": "llama3.1:8b-instruct-q4_K_M"},
    ],
    OPENAI_MODEL="gpt-4o-2024-08-06",
    QA_JUDGE_MODEL="gpt-4o",
    LLAMA_CPP_MODEL_PATH="",
)
def test_floating_ids_warn_and_refused_ids_are_errors() -> None:
    assert sorted(_pinning_messages()) == [
        (REFUSED_MODEL_ID, "settings.LLM_TIERS[1] (large)"),
        (FLOATING_MODEL_ID, "settings.LLM_TIERS[0] (small)"),
        (FLOATING_MODEL_ID, "settings.QA_JUDGE_MODEL"),
    ]


@override_settings(OPENAI_MODEL="llama3:latest", LLM_TIERS=[], QA_JUDGE_MODEL="", LLAMA_CPP_MODEL_PATH="")
def test_manage_check_shows_the_reason_and_the_fix() -> None:
    (message,) = [m for m in run_checks() if m.id == REFUSED_MODEL_ID]
    assert message.is_serious()
    assert "'latest'" in message.msg and "gpt-4o-2024-08-06" in (message.hint or "")


@override_settings(
    OPENAI_MODEL="gpt-4o-mini-2024-07-18", LLM_TIERS=[{"name": "small", "model": "gemini-1.5-pro-002"}],
    QA_JUDGE_MODEL="claude-3-5-sonnet-20241022", LLAMA_CPP_MODEL_PATH="/models/llama-3.1-8b-q4_k_m.gguf",
)  # fmt: skip
def test_pinned_ids_pass_silently() -> None:
    assert _pinning_messages() == []
