"""Prompt test suites: the cases in ``prompts/library/<id>/suite.toml`` run against one version of
the prompt and one model, each expectation checked, the result a ``SuiteReport``.

A chat prompt's case fills the template's variables from the case (``passages``, framed as the
answer pipeline frames them; ``question``; ``claims``, numbered as the judge verifier numbers
them; anything else from the case's ``variables``), sends the messages to the model through a
provider class, and checks the reply. A wording (text) prompt's case renders one entry. A
template that cannot be used (an unknown variable, a lone ``$``) is a failed suite with the
reason, never an exception.

Providers: ``simulated`` (the instructed test double of ``evaluation.instructed_llm``, served
as an OpenAI-compatible endpoint: it follows the prompt's instructions, so a lost instruction
fails a case), ``extractive`` (the built-in model, which ignores the prompt) and
``tier:<name>`` (a configured model tier, through the gateway's provider classes)."""

from __future__ import annotations

import contextlib
import functools
import logging
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

from core.text import CITATION, sentences_split
from prompts.contracts import PromptMessage, PromptTemplate, Role, TemplateError, placeholders
from prompts.models import PromptKind
from prompts.services.registry import (
    LIBRARY_DIR,
    content_hash,
    library_default,
    prompt_current,
    prompts_current,
    template_problems,
)
from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import ContextPassage, LLMDeclined, LLMError, LLMProvider, LLMRequest, StreamStats
from providers.llm.openai_compatible import OpenAICompatibleProvider
from providers.registry import embedding_provider_default, llm_provider_build, llm_provider_for_tier
from qa.checks.verification import EvidenceVerifier, Verification, answer_verify, json_object_in, judge_call
from qa.pipeline.routing import tiers_configured
from qa.services.prompt_text import passage_frame

logger = logging.getLogger(__name__)

SUITE_FILE = "suite.toml"
TIER_PREFIX = "tier:"
# The share of a case's output shown in the table and kept in the results.
OUTPUT_EXCERPT_CHARS = 240
# A judge's score at or above this reads as "the passage states the claim" (the judge prompt asks
# for 1 when it does and 0 when it does not; the middle is the obvious cut).
JUDGE_SUPPORTED_SCORE = 0.5


class SuiteError(ValueError):
    """A suite file that cannot be read: missing, malformed, or a case with an unknown key."""


class ProviderChoice(StrEnum):
    SIMULATED = "simulated"
    EXTRACTIVE = "extractive"


class Expectation(StrEnum):
    """What a case can expect (the keys of a case in suite.toml besides its inputs)."""

    CITES_EVERY_SENTENCE = "cites_every_sentence"
    DECLINES = "declines"
    NEVER_CONTAINS = "never_contains"
    MUST_CONTAIN = "must_contain"
    MAX_TOKENS = "max_tokens"
    MIN_SUPPORT = "min_support"
    JUDGE_RUBRIC = "judge_rubric"
    # Judge prompts: the reply is {"scores": [[...]]}, one row per claim, one score per passage.
    JSON_SCORES = "json_scores"
    SCORES_HIGH = "scores_high"  # [[claim, passage], ...] (1-based) scored >= JUDGE_SUPPORTED_SCORE
    SCORES_LOW = "scores_low"  # [[claim, passage], ...] scored below it
    # Wording prompts.
    MAX_CHARS = "max_chars"


class CheckName(StrEnum):
    """Checks the runner adds to every case of their kind."""

    RENDERS = "renders"  # the template fills with the case's variables
    NO_RESIDUE = "no_template_residue"  # no ${...} or $name left in wording
    MODEL = "model"  # the model answered (no error)
    EVERY_ENTRY = "every_entry_has_a_case"


_INPUTS = {"name", "question", "passages", "claims", "entry", "variables"}


@dataclass(frozen=True)
class SuitePassage:
    title: str
    text: str


@dataclass(frozen=True)
class Case:
    name: str
    expect: dict[Expectation, Any]
    question: str = ""
    passages: tuple[SuitePassage, ...] = ()
    claims: tuple[str, ...] = ()
    entry: str = ""  # wording: the entry to render
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    prompt_id: str
    cases: tuple[Case, ...]
    path: Path


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "skipped": self.skipped, "detail": self.detail}


@dataclass(frozen=True)
class CaseResult:
    name: str
    checks: tuple[CheckResult, ...]
    output: str = ""  # an excerpt
    tokens: int = 0

    @property
    def failed(self) -> bool:
        return any(not c.passed and not c.skipped for c in self.checks)

    @property
    def skipped(self) -> bool:
        """Every check was skipped (nothing was verified: neither passed nor failed)."""
        return not self.failed and not any(c.passed for c in self.checks)

    @property
    def passed(self) -> bool:
        return not self.failed and not self.skipped

    @property
    def result(self) -> str:
        return "FAILED" if self.failed else ("skipped" if self.skipped else "passed")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "passed": self.passed, "result": self.result, "output": self.output,
            "tokens": self.tokens, "checks": [c.as_dict() for c in self.checks],
        }  # fmt: skip


@dataclass(frozen=True)
class SuiteReport:
    prompt_key: str
    provider: str
    cases: tuple[CaseResult, ...]
    model: str = ""
    error: str = ""  # the suite could not run (a broken template, a bad suite file, an unknown tier)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if c.failed)

    @property
    def skipped(self) -> int:
        return sum(1 for c in self.cases if c.skipped)

    @property
    def ok(self) -> bool:
        return not self.error and self.failed == 0 and self.passed > 0

    def as_dict(self) -> dict[str, Any]:
        """JSON for ``PromptProposal.results`` and the pages that show them."""
        return {
            "prompt_key": self.prompt_key, "provider": self.provider, "model": self.model, "ok": self.ok,
            "error": self.error, "passed": self.passed, "failed": self.failed, "skipped": self.skipped,
            "cases": [c.as_dict() for c in self.cases],
        }  # fmt: skip

    def table(self) -> str:
        """The report as printed by ``manage.py prompt_test``: one row per case, then the details
        of every check that failed or was skipped."""
        model = f" ({self.model})" if self.model else ""
        lines = [f"{self.prompt_key} against {self.provider}{model}"]
        if self.error:
            lines.append(f"  FAILED: {self.error}")
        if self.cases:
            width = max(4, *(len(c.name) for c in self.cases))
            lines.append(f"  {'case':<{width}}  {'checks':<8}  result")
            for case in self.cases:
                counted = [c for c in case.checks if not c.skipped]
                ratio = f"{sum(1 for c in counted if c.passed)}/{len(counted)}"
                lines.append(f"  {case.name:<{width}}  {ratio:<8}  {case.result}")
                for check in case.checks:
                    if check.skipped:
                        lines.append(f"  {'':<{width}}    - {check.name}: skipped ({check.detail})")
                    elif not check.passed:
                        lines.append(f"  {'':<{width}}    x {check.name}: {check.detail}")
                if case.failed and case.output:
                    lines.append(f"  {'':<{width}}    output: {case.output!r}")
        lines.append(
            f"  {self.passed} passed, {self.failed} failed, {self.skipped} skipped" + ("" if self.ok else "  -> FAILED")
        )
        return "\n".join(lines)


# --------------------------------------------------------------------------- reading suites


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SuiteError(f"{where}: expected a list of strings")
    return tuple(value)


def _pairs(value: Any, where: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(n, int) and n >= 1 for n in p) for p in value
    ):
        raise SuiteError(f"{where}: expected a list of [claim, passage] pairs (numbers from 1)")
    return tuple((p[0], p[1]) for p in value)


def _expectation(key: Expectation, value: Any, where: str) -> Any:
    where = f"{where}: {key.value}"
    match key:
        case Expectation.CITES_EVERY_SENTENCE | Expectation.DECLINES | Expectation.JSON_SCORES:
            if not isinstance(value, bool):
                raise SuiteError(f"{where}: expected true or false")
            return value
        case Expectation.NEVER_CONTAINS | Expectation.MUST_CONTAIN:
            return _string_list(value, where)
        case Expectation.MAX_TOKENS | Expectation.MAX_CHARS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SuiteError(f"{where}: expected a positive whole number")
            return value
        case Expectation.MIN_SUPPORT:
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                raise SuiteError(f"{where}: expected a share between 0 and 1")
            return float(value)
        case Expectation.JUDGE_RUBRIC:
            if not isinstance(value, str) or not value.strip():
                raise SuiteError(f"{where}: expected a non-empty text")
            return value.strip()
        case Expectation.SCORES_HIGH | Expectation.SCORES_LOW:
            return _pairs(value, where)


def _case_read(raw: Any, index: int, path: Path) -> Case:
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: case {index} is not a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SuiteError(f"{path}: case {index} has no name")
    where = f"{path}: case {index} ({name!r})"
    known = _INPUTS | {e.value for e in Expectation}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SuiteError(
            f"{where}: unknown key {', '.join(unknown)} (a case has {', '.join(sorted(_INPUTS))} and the "
            f"expectations {', '.join(e.value for e in Expectation)})"
        )
    passages_raw = raw.get("passages", [])
    if not isinstance(passages_raw, list) or not all(
        isinstance(p, dict) and set(p) <= {"title", "text"} and isinstance(p.get("text"), str) for p in passages_raw
    ):
        raise SuiteError(f"{where}: passages must be a list of {{title, text}} tables")
    variables = raw.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise SuiteError(f"{where}: variables must be a table of texts")
    expect = {e: _expectation(e, raw[e.value], where) for e in Expectation if e.value in raw}
    if not expect and "entry" not in raw:
        # A case that expects nothing passes whatever the prompt says.
        raise SuiteError(f"{where}: no expectation (one of {', '.join(e.value for e in Expectation)})")
    question, entry = raw.get("question", ""), raw.get("entry", "")
    if not isinstance(question, str) or not isinstance(entry, str):
        raise SuiteError(f"{where}: question and entry are texts")
    return Case(
        name=name.strip(), expect=expect, question=question,
        passages=tuple(SuitePassage(title=p.get("title", ""), text=p["text"]) for p in passages_raw),
        claims=_string_list(raw.get("claims", []), f"{where}: claims"), entry=entry, variables=dict(variables),
    )  # fmt: skip


def suite_load(prompt_id: str, *, directory: Path = LIBRARY_DIR) -> Suite:
    """The suite of ``prompt_id`` (``prompts/library/<id>/suite.toml``), validated; SuiteError
    says which file, case and key is wrong."""
    path = directory / prompt_id / SUITE_FILE
    if not path.is_file():
        raise SuiteError(f"{prompt_id} has no suite: {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML ({exc})") from exc
    if data.get("prompt", prompt_id) != prompt_id:
        raise SuiteError(f"{path}: prompt = {data['prompt']!r}, but the file is in the folder of {prompt_id!r}")
    extra = sorted(set(data) - {"prompt", "cases"})
    if extra:
        raise SuiteError(f"{path}: unknown key {', '.join(extra)} (a suite has prompt and [[cases]])")
    raw_cases = data.get("cases", [])
    if not isinstance(raw_cases, list) or not raw_cases:
        raise SuiteError(f"{path}: no [[cases]]")
    cases = tuple(_case_read(raw, index, path) for index, raw in enumerate(raw_cases, start=1))
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SuiteError(f"{path}: two cases are named {', '.join(duplicates)}")
    return Suite(prompt_id=prompt_id, cases=cases, path=path)


def version_file_read(*, path: Path, prompt_id: str = "") -> PromptTemplate:
    """A version file (``vN.toml``) as a template, before it is loaded into the registry: the
    way an engineer tests a change before the pull request is merged. The prompt is the one of
    the library folder the file is in, else ``prompt_id``. Not validated here: ``suite_run``
    reports what is wrong with its templates as a failed suite."""
    folder = path.resolve().parent
    if not prompt_id and (folder / "prompt.toml").is_file():
        prompt_id = folder.name
    library = library_default()
    if prompt_id not in library:
        raise SuiteError(
            f"{path}: which prompt is this a version of? Name it ({', '.join(library)}) or put the file in its folder"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        version = int(data["version"])
        messages = [{"role": str(m["role"]), "template": str(m["template"])} for m in data["messages"]]
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: not valid TOML ({exc})") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise SuiteError(f"{path}: a version file has version = N and [[messages]] with role and template") from exc
    prompt = library[prompt_id]
    fallback = str(data.get("fallback", ""))
    return PromptTemplate(
        prompt_id=prompt_id, version=version,
        messages=tuple(PromptMessage(role=m["role"], template=m["template"]) for m in messages),
        variables=tuple(prompt.variables), fallback_key=fallback,
        content_hash=content_hash(kind=prompt.kind, messages=messages, variables=list(prompt.variables),
                                  fallback_key=fallback),
    )  # fmt: skip


# --------------------------------------------------------------------------- models


def provider_check(provider: str) -> None:
    """SuiteError unless ``provider`` names a provider the suites can run against."""
    if provider in {p.value for p in ProviderChoice} or (
        provider.startswith(TIER_PREFIX) and provider.removeprefix(TIER_PREFIX)
    ):
        return
    raise SuiteError(
        f"unknown provider {provider!r} (choose {', '.join(p.value for p in ProviderChoice)} or {TIER_PREFIX}<name>)"
    )


@contextlib.contextmanager
def _model_for(provider: str, embedder: Callable[[], EmbeddingProvider]) -> Iterator[LLMProvider]:
    """The provider a suite calls; SuiteError when ``provider`` names none."""
    provider_check(provider)
    if provider == ProviderChoice.SIMULATED:
        from evaluation.simulated_llm import Simulator

        # Served over HTTP and called like any OpenAI-compatible tier: the messages the double
        # reads are exactly the JSON a hosted model would receive.
        simulator = Simulator(first_token_ms=0, tokens_per_second=0, instructed=True).start()
        try:
            yield OpenAICompatibleProvider(
                base_url=simulator.url, model_id="instructed-double-1", timeout_s=30, max_retries=0, external=False
            )
        finally:
            simulator.stop()
    elif provider == ProviderChoice.EXTRACTIVE:
        yield llm_provider_build(ProviderChoice.EXTRACTIVE, embedder=embedder())
    else:
        name = provider.removeprefix(TIER_PREFIX)
        tiers = {t.name: t for t in tiers_configured()}
        tier = tiers.get(name)
        if tier is None:
            raise SuiteError(f"no usable model tier named {name!r} (configured: {', '.join(tiers) or 'none'})")
        yield llm_provider_for_tier(
            provider=tier.provider, model=tier.model, base_url=tier.base_url, api_key_env=tier.api_key_env,
            external=tier.external, embedder=embedder(),
        )  # fmt: skip


# --------------------------------------------------------------------------- checks


def _context(case: Case) -> list[ContextPassage]:
    return [
        ContextPassage(
            n=n,
            chunk_id=0,
            document_id=0,
            title=p.title or "Untitled document",
            section="",
            page=None,
            source_name=p.title,
            text=p.text,
        )  # fmt: skip
        for n, p in enumerate(case.passages, start=1)
    ]


def _values(case: Case, passages: list[ContextPassage]) -> dict[str, str]:
    # Framed exactly as the answer pipeline frames them (qa.pipeline.prompt), but NOT redacted:
    # the suite tests the prompt's own defence. In production passage_redact also withholds text
    # addressed to the model; a prompt must hold without that second layer.
    values = {
        "passages": "\n\n".join(passage_frame(p) for p in passages),
        "question": case.question,
        # Numbered as JudgeVerifier numbers an answer's claims.
        "claims": "\n".join(f"{i}. {claim}" for i, claim in enumerate(case.claims, start=1)),
    }
    return {**values, **case.variables}


def _contains(output: str, wanted: tuple[str, ...], *, must: bool) -> CheckResult:
    low = output.lower()
    if must:
        missing = [w for w in wanted if w.lower() not in low]
        return CheckResult(Expectation.MUST_CONTAIN, not missing, f"missing {missing!r}" if missing else "")
    found = [w for w in wanted if w.lower() in low]
    return CheckResult(Expectation.NEVER_CONTAINS, not found, f"contains {found!r}" if found else "")


def _max_chars(output: str, limit: int) -> CheckResult:
    over = len(output) > limit
    return CheckResult(Expectation.MAX_CHARS, not over, f"{len(output)} characters > {limit}" if over else "")


def _cites_every_sentence(output: str, passages: int) -> CheckResult:
    sentences = sentences_split(output)
    if not sentences:
        return CheckResult(Expectation.CITES_EVERY_SENTENCE, False, "no sentence")
    uncited = [s for s in sentences if not CITATION.search(s)]
    invalid = sorted({int(n) for s in sentences for n in CITATION.findall(s) if not 1 <= int(n) <= passages})
    problems = []
    if uncited:
        problems.append(f"{len(uncited)} of {len(sentences)} sentences cite no passage, like {uncited[0]!r}")
    if invalid:
        problems.append(f"cites passages that do not exist: {invalid}")
    return CheckResult(Expectation.CITES_EVERY_SENTENCE, not problems, "; ".join(problems))


def _judge_scores(output: str, case: Case) -> tuple[CheckResult, list[list[float]] | None]:
    """The reply read the way JudgeVerifier reads it: the JSON object between the first { and
    the last }, a "scores" matrix of one row per claim and one number per passage."""
    try:
        scores = json_object_in(output)["scores"]
        matrix = [[float(v) for v in row] for row in scores]
    except (ValueError, KeyError, TypeError) as exc:
        return CheckResult(
            Expectation.JSON_SCORES, False, f"not a JSON score matrix ({type(exc).__name__}: {exc})"
        ), None
    shape = [len(row) for row in matrix]
    if len(matrix) != len(case.claims) or any(n != len(case.passages) for n in shape):
        detail = f"rows of {shape} scores for {len(case.claims)} claims and {len(case.passages)} passages"
        return CheckResult(Expectation.JSON_SCORES, False, detail), None
    return CheckResult(Expectation.JSON_SCORES, True), matrix


def _score_checks(case: Case, matrix: list[list[float]] | None) -> list[CheckResult]:
    out: list[CheckResult] = []
    for key, high in ((Expectation.SCORES_HIGH, True), (Expectation.SCORES_LOW, False)):
        pairs = case.expect.get(key)
        if not pairs:
            continue
        if matrix is None:
            out.append(CheckResult(key, False, "no score matrix to read"))
            continue
        wrong = []
        for claim, passage in pairs:
            if claim > len(matrix) or passage > len(matrix[claim - 1]):
                wrong.append(f"claim {claim} / passage {passage} does not exist")
                continue
            score = matrix[claim - 1][passage - 1]
            if (score >= JUDGE_SUPPORTED_SCORE) != high:
                wrong.append(f"claim {claim} / passage {passage} scored {score:.2f}")
        out.append(CheckResult(key, not wrong, "; ".join(wrong)))
    return out


def _judge_rubric(case: Case, output: str, passages: list[ContextPassage]) -> CheckResult:
    """The rubric graded by the configured judge (QA_JUDGE_URL); skipped, with the reason,
    when there is none: a rubric nobody graded has not passed."""
    rubric = case.expect[Expectation.JUDGE_RUBRIC]
    if not settings.QA_JUDGE_URL:
        return CheckResult(Expectation.JUDGE_RUBRIC, False, "no judge configured (QA_JUDGE_URL)", skipped=True)
    # The grader is a library prompt too (``rubric``, sent by suites only, never on an answer's path).
    messages = prompt_current(prompt_id="rubric").render(
        rubric=rubric, passages="\n".join(passage_frame(p) for p in passages), question=case.question, answer=output
    )
    try:
        content = judge_call(
            url=settings.QA_JUDGE_URL, model=settings.QA_JUDGE_MODEL, api_key=settings.QA_JUDGE_API_KEY,
            messages=messages, timeout=30,
        )  # fmt: skip
        verdict = json_object_in(content)
        passed, reason = verdict["pass"], str(verdict.get("reason", ""))
        if not isinstance(passed, bool):
            raise TypeError("pass is not true or false")
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        return CheckResult(Expectation.JUDGE_RUBRIC, False, f"the judge gave no verdict ({exc})")
    return CheckResult(Expectation.JUDGE_RUBRIC, passed, reason)


def _chat_case(
    case: Case, template: PromptTemplate, model: LLMProvider, embedder: Callable[[], EmbeddingProvider]
) -> CaseResult:
    passages = _context(case)
    try:
        messages = template.render(**_values(case, passages))
    except TemplateError as exc:
        return CaseResult(case.name, (CheckResult(CheckName.RENDERS, False, str(exc)),))
    stats = StreamStats()
    request = LLMRequest(
        question=case.question or "\n".join(case.claims), messages=messages, passages=passages,
        max_output_tokens=settings.QA_MAX_OUTPUT_TOKENS, prompt_key=template.key,
    )  # fmt: skip
    declined_by_provider = ""
    try:
        output = "".join(model.stream(request, stats)).strip()
    except LLMDeclined as exc:
        output, declined_by_provider = "", f"(the model declined: {exc})"  # the extractive model's decline
    except LLMError as exc:
        return CaseResult(case.name, (CheckResult(CheckName.MODEL, False, f"the model failed: {exc}"),))
    checks: list[CheckResult] = []
    verification: Verification | None = None
    if Expectation.DECLINES in case.expect or Expectation.MIN_SUPPORT in case.expect:
        # The production reading of an answer: the EvidenceVerifier with the real embedding model.
        verification = answer_verify(text=output, passages=passages, verifier=EvidenceVerifier(embedder=embedder()))
    for key, wanted in case.expect.items():
        match key:
            case Expectation.CITES_EVERY_SENTENCE if wanted:
                checks.append(_cites_every_sentence(output, len(passages)))
            case Expectation.DECLINES:
                declined = bool(declined_by_provider) or bool(verification and verification.declined_by_model)
                checks.append(CheckResult(key, declined == wanted, "" if declined == wanted else (
                    "answered instead of declining" if wanted else "declined instead of answering")))  # fmt: skip
            case Expectation.NEVER_CONTAINS | Expectation.MUST_CONTAIN:
                checks.append(_contains(output, wanted, must=key == Expectation.MUST_CONTAIN))
            case Expectation.MAX_TOKENS:
                tokens = stats.tokens_out
                checks.append(
                    CheckResult(key, tokens <= wanted, f"{tokens} tokens > {wanted}" if tokens > wanted else "")
                )
            case Expectation.MIN_SUPPORT if verification is not None:
                share = verification.support_ratio
                checks.append(
                    CheckResult(key, share >= wanted, f"{verification.supported_claims} of {verification.claims} "
                                f"sentences supported ({share:.2f} < {wanted:.2f})" if share < wanted else "")
                )  # fmt: skip
            case Expectation.JUDGE_RUBRIC:
                checks.append(_judge_rubric(case, output, passages))
            case Expectation.MAX_CHARS:
                checks.append(_max_chars(output, wanted))
    if case.expect.keys() & {Expectation.JSON_SCORES, Expectation.SCORES_HIGH, Expectation.SCORES_LOW}:
        parsed, matrix = _judge_scores(output, case)
        if case.expect.get(Expectation.JSON_SCORES, True):
            checks.append(parsed)
        checks.extend(_score_checks(case, matrix))
    excerpt = output[:OUTPUT_EXCERPT_CHARS] or declined_by_provider
    return CaseResult(case.name, tuple(checks), excerpt, stats.tokens_out)


def _text_case(case: Case, template: PromptTemplate) -> CaseResult:
    try:
        output = template.text(case.entry, **case.variables)
    except TemplateError as exc:
        return CaseResult(case.name, (CheckResult(CheckName.RENDERS, False, str(exc)),))
    checks = [CheckResult(CheckName.RENDERS, True)]
    try:
        residue = placeholders(output)
    except TemplateError as exc:
        residue = [str(exc)]
    residue += ["${"] if "${" in output and not residue else []
    checks.append(CheckResult(CheckName.NO_RESIDUE, not residue, f"left in the text: {residue}" if residue else ""))
    for key, wanted in case.expect.items():
        match key:
            case Expectation.MAX_CHARS:
                checks.append(_max_chars(output, wanted))
            case Expectation.NEVER_CONTAINS | Expectation.MUST_CONTAIN:
                checks.append(_contains(output, wanted, must=key == Expectation.MUST_CONTAIN))
            case _:
                checks.append(CheckResult(key, False, f"{key.value} does not apply to a wording entry"))
    return CaseResult(case.name, tuple(checks), output[:OUTPUT_EXCERPT_CHARS], len(output))


def _kind_of(template: PromptTemplate) -> PromptKind:
    library = library_default().get(template.prompt_id)
    if library is not None:
        return library.kind
    roles = {m.role for m in template.messages}
    return PromptKind.CHAT if roles <= {r.value for r in Role} else PromptKind.TEXT


def suite_run(
    *, template: PromptTemplate, provider: str = ProviderChoice.SIMULATED, suite: Suite | None = None,
    embedder: EmbeddingProvider | None = None,
) -> SuiteReport:  # fmt: skip
    """Run ``template``'s suite against ``provider`` (``simulated``, ``extractive`` or
    ``tier:<name>``). Never raises for a bad template, suite file, tier or model: the report
    says what failed and why (``ok`` is False)."""
    kind = _kind_of(template)
    report = SuiteReport(prompt_key=template.key, provider=provider, cases=())
    try:
        suite = suite or suite_load(template.prompt_id)
    except SuiteError as exc:
        return replace(report, error=str(exc))
    messages = [{"role": m.role, "template": m.template} for m in template.messages]
    problems = template_problems(kind=kind, messages=messages, variables=list(template.variables))
    if problems:
        return replace(report, error="the template cannot be used: " + "; ".join(problems))
    if kind == PromptKind.TEXT:
        results = [_text_case(case, template) for case in suite.cases]
        missing = [m.role for m in template.messages if m.role not in {c.entry for c in suite.cases}]
        missing_detail = f"no case renders {', '.join(missing)}" if missing else ""
        every = CheckResult(CheckName.EVERY_ENTRY, not missing, missing_detail)
        results.append(CaseResult(CheckName.EVERY_ENTRY, (every,)))
        return replace(report, cases=tuple(results), model="no model: wording is shown, not sent")
    # Loaded once, and only when a case or the provider needs it (a few seconds).
    embedder_once = functools.cache(lambda: embedder or embedding_provider_default())
    try:
        with _model_for(provider, embedder_once) as model:
            results = [_chat_case(case, template, model, embedder_once) for case in suite.cases]
            model_id = model.model_id
    except SuiteError as exc:
        return replace(report, error=str(exc))
    logger.info("prompts.suite_run key=%s provider=%s failed=%d", template.key, provider,
                sum(1 for r in results if r.failed))  # fmt: skip
    return replace(report, cases=tuple(results), model=model_id)


def suites_run_for_tier(*, tier_name: str) -> list[SuiteReport]:
    """Every chat prompt's production version with a suite, run against the model tier
    ``tier_name``: what a change of a tier's model goes through (after the change commits; a
    version that fails is taken out of routing, ``prompts.selectors.tier_versions_failing``)."""
    reports = []
    library = library_default()
    for prompt_id, template in sorted(prompts_current().items()):
        prompt = library.get(prompt_id)
        if prompt is None or prompt.kind != PromptKind.CHAT or prompt.directory is None:
            continue
        if not (prompt.directory / SUITE_FILE).is_file():
            continue
        reports.append(suite_run(template=template, provider=f"{TIER_PREFIX}{tier_name}"))
    return reports
