"""Which model ids pin one exact model, which float (a warning) and which are refused (issue #16)."""

from __future__ import annotations

import pytest

from providers.llm.pinning import PinLevel, model_pin_check

OPENAI = "openai_compatible"

TABLE = [
    # (model id, provider, expected level)
    # Refused: nothing, or "latest" as a name part or tag.
    ("", OPENAI, PinLevel.REFUSED),
    ("   ", OPENAI, PinLevel.REFUSED),
    ("latest", OPENAI, PinLevel.REFUSED),
    ("gpt-4o-latest", OPENAI, PinLevel.REFUSED),
    ("chatgpt-4o-latest", OPENAI, PinLevel.REFUSED),
    ("claude-3-5-sonnet-latest", OPENAI, PinLevel.REFUSED),
    ("gemini-1.5-pro-latest", OPENAI, PinLevel.REFUSED),
    ("mistral-large-latest", OPENAI, PinLevel.REFUSED),
    ("llama3:latest", OPENAI, PinLevel.REFUSED),
    ("LLAMA3:LATEST", OPENAI, PinLevel.REFUSED),
    ("/models/latest/model.gguf", "llama_cpp", PinLevel.REFUSED),
    # Floating: a known hosted family without its snapshot.
    ("gpt-4o", OPENAI, PinLevel.FLOATING),
    ("gpt-4o-mini", OPENAI, PinLevel.FLOATING),
    ("gpt-4.1", OPENAI, PinLevel.FLOATING),
    ("gpt-4-turbo", OPENAI, PinLevel.FLOATING),
    ("o3", OPENAI, PinLevel.FLOATING),
    ("o4-mini", OPENAI, PinLevel.FLOATING),
    ("openai/gpt-4o", OPENAI, PinLevel.FLOATING),
    ("claude-sonnet-4", OPENAI, PinLevel.FLOATING),
    ("claude-opus-4-1", OPENAI, PinLevel.FLOATING),
    ("anthropic/claude-3.5-sonnet", OPENAI, PinLevel.FLOATING),
    ("gemini-2.5-pro", OPENAI, PinLevel.FLOATING),
    ("gemini-2.5-flash-preview-05-20", OPENAI, PinLevel.FLOATING),
    # Floating: Ollama without a quantization tag (a size-only tag is an alias too).
    ("llama3.1", OPENAI, PinLevel.FLOATING),
    ("llama3.1:8b", OPENAI, PinLevel.FLOATING),
    # Floating: an unknown vendor's bare id (warned about, not refused).
    ("deepseek-chat", OPENAI, PinLevel.FLOATING),
    ("mistral-large", OPENAI, PinLevel.FLOATING),
    ("Qwen/Qwen2.5-7B-Instruct", OPENAI, PinLevel.FLOATING),
    # Pinned: dated or numbered snapshots.
    ("gpt-4o-2024-08-06", OPENAI, PinLevel.PINNED),
    ("gpt-4o-mini-2024-07-18", OPENAI, PinLevel.PINNED),
    ("gpt-4.1-2025-04-14", OPENAI, PinLevel.PINNED),
    ("o3-2025-04-16", OPENAI, PinLevel.PINNED),
    ("gpt-4-0613", OPENAI, PinLevel.PINNED),
    ("gpt-4-1106-preview", OPENAI, PinLevel.PINNED),
    ("openai/gpt-4o-2024-08-06", OPENAI, PinLevel.PINNED),
    ("ft:gpt-4o-mini-2024-07-18:acme::abc123", OPENAI, PinLevel.PINNED),
    ("claude-3-5-sonnet-20241022", OPENAI, PinLevel.PINNED),
    ("claude-sonnet-4-20250514", OPENAI, PinLevel.PINNED),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", OPENAI, PinLevel.PINNED),
    ("claude-3-5-sonnet-v2@20241022", OPENAI, PinLevel.PINNED),
    ("gemini-1.5-pro-002", OPENAI, PinLevel.PINNED),
    ("models/gemini-2.0-flash-001", OPENAI, PinLevel.PINNED),
    ("llama3.1:8b-instruct-q4_K_M", OPENAI, PinLevel.PINNED),
    ("qwen2.5:7b-instruct-fp16", OPENAI, PinLevel.PINNED),
    ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", OPENAI, PinLevel.PINNED),
    # Pinned: an unknown vendor's id with a version-looking suffix.
    ("mistral-large-2411", OPENAI, PinLevel.PINNED),
    ("command-r-08-2024", OPENAI, PinLevel.PINNED),
    ("acme-chat-v2", OPENAI, PinLevel.PINNED),
    ("pinned-model-2024-08-06", OPENAI, PinLevel.PINNED),
    ("sim-model-2026-01", OPENAI, PinLevel.PINNED),
    # Pinned: local weights and the built-in model.
    ("/models/llama-3.1-8b-instruct-q4_k_m.gguf", "llama_cpp", PinLevel.PINNED),
    ("verity-extractive-1", "extractive", PinLevel.PINNED),
]


@pytest.mark.parametrize(("model_id", "provider", "expected"), TABLE)
def test_model_pin_levels(model_id: str, provider: str, expected: PinLevel) -> None:
    verdict = model_pin_check(model_id, provider=provider)
    assert verdict.level is expected, verdict.message


def test_a_floating_alias_is_told_which_snapshot_to_pin() -> None:
    verdict = model_pin_check("gpt-4o", provider=OPENAI)
    assert "OpenAI" in verdict.message and "gpt-4o-2024-08-06" in verdict.message


def test_a_refused_id_says_why_latest_is_refused() -> None:
    verdict = model_pin_check("claude-3-5-sonnet-latest", provider=OPENAI)
    assert "latest" in verdict.message and "without any change in Verity" in verdict.message


def test_a_pinned_id_has_no_message_and_surrounding_spaces_are_ignored() -> None:
    verdict = model_pin_check(" gpt-4o-2024-08-06 ", provider=OPENAI)
    assert (verdict.message, verdict.model_id) == ("", "gpt-4o-2024-08-06")
