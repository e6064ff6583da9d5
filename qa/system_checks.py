"""Django system checks for the model ids in settings (issue #16, point 2: pinned models).

Admin-edited tiers are checked when saved (``ModelTier.clean`` and the admin); the ids that come
from the environment (``LLM_TIERS``, ``OPENAI_MODEL``, ``QA_JUDGE_MODEL``, ``LLAMA_CPP_MODEL_PATH``)
are checked here, so ``manage.py check`` (and ``migrate``, ``runserver``) says which ones float.
A floating alias is a warning (``verity.W010``); a refused id (``latest``, empty) is an error
(``verity.E010``), and the router never routes to it. Reads settings only, never the database:
``check --deploy`` runs where the database may not be reachable.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from providers.llm.pinning import PinLevel, model_pin_check
from qa.models import TierProvider

FLOATING_MODEL_ID = "verity.W010"
REFUSED_MODEL_ID = "verity.E010"

_HINT = (
    "Name an exact snapshot (gpt-4o-2024-08-06, claude-3-5-sonnet-20241022, gemini-1.5-pro-002, "
    "llama3.1:8b-instruct-q4_K_M); changing it later is a new tier version that goes through the prompt suites. "
    "README: Pinned models."
)


def _configured_model_ids() -> list[tuple[str, str, str]]:
    """(where, provider, model id) of every model id set in settings, in use or not."""
    found: list[tuple[str, str, str]] = []
    rows: list[Any] = settings.LLM_TIERS if isinstance(settings.LLM_TIERS, list) else []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        name = row.get("name", index)
        provider = str(row.get("provider", TierProvider.OPENAI_COMPATIBLE))
        found.append((f"settings.LLM_TIERS[{index}] ({name})", provider, str(row.get("model", ""))))
    if settings.OPENAI_MODEL:
        found.append(("settings.OPENAI_MODEL", TierProvider.OPENAI_COMPATIBLE, settings.OPENAI_MODEL))
    if settings.QA_JUDGE_MODEL:
        found.append(("settings.QA_JUDGE_MODEL", TierProvider.OPENAI_COMPATIBLE, settings.QA_JUDGE_MODEL))
    if settings.LLAMA_CPP_MODEL_PATH:
        found.append(("settings.LLAMA_CPP_MODEL_PATH", TierProvider.LLAMA_CPP, settings.LLAMA_CPP_MODEL_PATH))
    return found


def model_ids_pinned_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A warning for each floating model id in settings, an error for each refused one."""
    problems: list[checks.CheckMessage] = []
    for where, provider, model_id in _configured_model_ids():
        verdict = model_pin_check(model_id, provider=provider)
        if verdict.level is PinLevel.REFUSED:
            problems.append(checks.Error(verdict.message, hint=_HINT, obj=where, id=REFUSED_MODEL_ID))
        elif verdict.level is PinLevel.FLOATING:
            problems.append(checks.Warning(verdict.message, hint=_HINT, obj=where, id=FLOATING_MODEL_ID))
    return problems
