"""Whether a model id names one exact model, or an alias the vendor can move (issue #16, point 2).

Why it matters: a hosted vendor points an alias such as ``gpt-4o``, ``claude-sonnet-4`` or
``gemini-2.5-pro`` at a new snapshot whenever it ships one, without notice to the caller. Verity's
answers, its verification scores, its cached answers and its prompt suites were all measured
against the old snapshot; after the move the same tier silently answers differently, and nothing
in Verity changed to show why. ``latest`` is worse: it is *defined* as whatever was released last.
So a tier must name an exact model id, and changing it is a new tier version that goes through
the same suite as a prompt change.

Three levels:

- ``refused``: an empty id, or ``latest`` as a name part or tag (``latest``, ``gpt-4o-latest``,
  ``chatgpt-4o-latest``, ``claude-3-5-sonnet-latest``, ``llama3:latest``). Never routed to.
- ``floating`` (a warning, the tier still works): a known hosted family without its dated
  snapshot or version suffix (``gpt-4o``, ``o3``, ``claude-sonnet-4``, ``gemini-2.5-pro``), an
  Ollama model without a quantization tag (``llama3.1``, ``llama3.1:8b``), and any other id with
  no version-looking suffix (we cannot know its vendor's policy, so we warn rather than refuse).
- ``pinned``: a dated snapshot (``gpt-4o-2024-08-06``, ``claude-3-5-sonnet-20241022``), a
  numbered one (``gemini-1.5-pro-002``), an Ollama tag with its quantization
  (``llama3.1:8b-instruct-q4_K_M``), a fine-tuned model (``ft:...``), a file of local weights
  (provider ``llama_cpp``), and the built-in ``verity-extractive-1``, versioned with Verity's code.

Pure: no Django, so the admin, the system check, the router and tests share one rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class PinLevel(StrEnum):
    PINNED = "pinned"
    FLOATING = "floating"  # works, with a warning: the vendor may move it
    REFUSED = "refused"  # never routed to


@dataclass(frozen=True)
class PinVerdict:
    level: PinLevel
    model_id: str
    message: str  # for the admin: what is wrong and what to write instead ("" when pinned)


# Provider names as in ``providers.registry.LLMProviderName`` / ``qa.models.TierProvider``
# (strings here, so this module stays free of Django settings).
_EXTRACTIVE = "extractive"
_LLAMA_CPP = "llama_cpp"

# "latest" as a whole name part: after/before a separator or at either end. "latest" inside a
# word (a hypothetical "latestness") is not a tag, so it is not matched.
_LATEST = re.compile(r"(?:^|[-_:./@])latest(?:$|[-_:./@])", re.IGNORECASE)

# A fine-tuned OpenAI model (``ft:gpt-4o-mini-2024-07-18:org::abc123``) is its own immutable id.
_FINE_TUNED = re.compile(r"^ft:", re.IGNORECASE)


@dataclass(frozen=True)
class _Family:
    vendor: str
    family: re.Pattern[str]  # searched in the id's last path segment
    snapshot: re.Pattern[str]  # what a pinned id of this family ends with
    example: str


_FAMILIES = (
    # OpenAI: gpt-4o, gpt-4.1, gpt-5, o1/o3/o4-mini, chatgpt-*. Snapshots end with a date
    # (gpt-4o-2024-08-06) or, for older models, MMDD (gpt-4-0613, gpt-4-1106-preview).
    _Family(
        "OpenAI",
        re.compile(r"^(?:gpt-\d|o\d(?:$|-)|chatgpt-)", re.IGNORECASE),
        re.compile(r"-(?:20\d{2}-\d{2}-\d{2}|\d{4}(?:-preview)?)$"),
        "gpt-4o-2024-08-06",
    ),
    # Anthropic: a snapshot ends with YYYYMMDD (claude-3-5-sonnet-20241022, claude-sonnet-4-20250514);
    # Bedrock adds -v1:0 (anthropic.claude-3-5-sonnet-20241022-v2:0); Vertex writes @YYYYMMDD.
    _Family(
        "Anthropic",
        re.compile(r"(?:^|[.])claude-", re.IGNORECASE),
        re.compile(r"(?:-20\d{6}(?:-v\d+(?::\d+)?)?|@20\d{6})$"),
        "claude-3-5-sonnet-20241022",
    ),
    # Google: only a three-digit stable version is fixed (gemini-1.5-pro-002). Dated previews are
    # not: Google has redirected a dated preview id to a newer preview, so they stay floating.
    _Family(
        "Google",
        re.compile(r"^gemini-", re.IGNORECASE),
        re.compile(r"-\d{3}$"),
        "gemini-1.5-pro-002",
    ),
)

# An Ollama-style ``name:tag``. The tag pins the model only with its quantization: a size-only tag
# (``llama3.1:8b``) is itself an alias for the library's default quantization, which Ollama has
# changed before (q4_0 to q4_K_M).
_OLLAMA_TAG = re.compile(r"^[\w.\-/]+:(?P<tag>[\w.\-]+)$")
_QUANTIZATION = re.compile(r"(?:^|[-_.])(?:i?q\d\w*|f16|fp16|bf16|f32|fp32)(?:$|[-_.])", re.IGNORECASE)

# Any other vendor: an id ending in a date (2024-08-06, 20241022, 2026-01, 08-2024), a 3-4 digit snapshot
# number (mistral-large-2411, -002) or an explicit version (-v2, -v1.5, -v2:0) counts as pinned.
_VERSION_SUFFIX = re.compile(
    r"[-_@](?:20\d{2}-?\d{2}(?:-?\d{2})?|\d{2}-20\d{2}|\d{3,4}|v\d+(?:[.:]\d+)*)$",
    re.IGNORECASE,
)


def model_pin_check(model_id: str, *, provider: str) -> PinVerdict:
    """How exactly ``model_id`` names one model for a tier of ``provider`` (a ``TierProvider``
    value). Never raises; callers decide what a level means for them (the admin refuses
    ``refused`` and warns about ``floating``; the router never routes to ``refused``)."""
    model_id = model_id.strip()
    if not model_id:
        return PinVerdict(PinLevel.REFUSED, model_id, "A tier needs a model id; an empty one names no model.")
    if _LATEST.search(model_id):
        return PinVerdict(
            PinLevel.REFUSED,
            model_id,
            f"{model_id!r} is refused: 'latest' means whatever the vendor released last, so answers would "
            "change without any change in Verity. Name a dated or versioned snapshot "
            "(e.g. gpt-4o-2024-08-06, claude-3-5-sonnet-20241022, llama3.1:8b-instruct-q4_K_M).",
        )
    if provider == _EXTRACTIVE:
        # The built-in model ignores the id; its behaviour changes only with Verity's own code.
        return _pinned(model_id)
    if provider == _LLAMA_CPP:
        # The id is a path to a weights file on this machine: no vendor can move it. (Replacing the
        # file at the same path is an operator's act; a content hash at every check would read
        # gigabytes, so we do not.)
        return _pinned(model_id)
    if _FINE_TUNED.search(model_id):
        return _pinned(model_id)
    name = model_id.rsplit("/", 1)[-1]  # openai/gpt-4o-2024-08-06, models/gemini-1.5-pro-002
    for family in _FAMILIES:
        if family.family.search(name):
            if family.snapshot.search(name):
                return _pinned(model_id)
            return PinVerdict(
                PinLevel.FLOATING,
                model_id,
                f"{model_id!r} is a floating alias: {family.vendor} moves it to new snapshots without notice, "
                f"which changes answers without any change in Verity. Pin a snapshot such as {family.example}.",
            )
    tagged = _OLLAMA_TAG.match(model_id)
    if tagged:
        if _QUANTIZATION.search(tagged["tag"]):
            return _pinned(model_id)
        return PinVerdict(
            PinLevel.FLOATING,
            model_id,
            f"{model_id!r} has no quantization in its tag: the tag is an alias the model library can point "
            "at other weights. Name the full tag, e.g. llama3.1:8b-instruct-q4_K_M.",
        )
    if _VERSION_SUFFIX.search(name):
        return _pinned(model_id)
    return PinVerdict(
        PinLevel.FLOATING,
        model_id,
        f"{model_id!r} has no date or version suffix, so it may be an alias its provider moves to new "
        "weights. Name a dated or versioned snapshot (for Ollama: the full tag with its quantization, "
        "e.g. llama3.1:8b-instruct-q4_K_M).",
    )


def _pinned(model_id: str) -> PinVerdict:
    return PinVerdict(PinLevel.PINNED, model_id, "")
