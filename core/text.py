"""The text toolkit: small, deterministic readings of text that every layer shares (chunking,
full-text search, the extractive model, verification, the stream gate, rendering, evaluation):
citation markers, sentences, words, stop words, and the checkable facts of a sentence
(numbers, code names, named entities, negations).

They are rules, not a model: cheap enough to run on every answer, and explainable in the
per-sentence detail reviewers see. This module imports no app, so ``providers``, ``ingestion``
and ``qa`` can all use it.

Where two readers need different rules (a document is split into sentences differently from an
answer), the difference is a documented parameter here, not a second copy elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# --- Citation markers ------------------------------------------------------------------------

# A citation marker: "[1]", also with its brackets written as character references
# ("&#91;1&#93;", "&lsqb;1&rsqb;"), which the answer renders as the same "[1]". One definition for
# verification and rendering (qa.services.rendering links exactly these markers): a marker that
# only one of them recognised would be shown as a citation without ever being checked.
_CITATION_OPEN = r"(?:\[|&#0*91;|&#[xX]0*5[bB];|&lsqb;|&lbrack;)"
_CITATION_CLOSE = r"(?:\]|&#0*93;|&#[xX]0*5[dD];|&rsqb;|&rbrack;)"
CITATION = re.compile(rf"{_CITATION_OPEN}(\d{{1,3}}){_CITATION_CLOSE}")
_LEADING_CITATIONS = re.compile(rf"^(?:{CITATION.pattern}\s*)+")


def citation_marker(n: int) -> str:
    """How a citation is written into an answer: ``[n]``, the form ``CITATION`` reads first."""
    return f"[{n}]"


def citations_of(text: str) -> list[int]:
    return [int(n) for n in CITATION.findall(text)]


def strip_citations(text: str) -> str:
    return re.sub(rf"\s*{CITATION.pattern}", "", text).strip()


# --- Sentences -------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def sentence_boundary(
    *, after_colon: bool = False, markdown: bool = False, blank_lines: bool = False, list_items: bool = False
) -> re.Pattern[str]:
    """The places where one sentence ends and the next begins: whitespace after ``.``, ``!`` or
    ``?`` followed by what can start a sentence (a capital, a digit, a code name, optionally
    after a quote or bracket). The readers differ on purpose:

    - ``after_colon``: a colon ends a sentence too. Documents: "Parameters:" or "For example:"
      before a list or code, so a chunk can end there.
    - ``markdown``: a sentence may also start with ``*`` (emphasis) or ``-``. Answers are
      Markdown written by a model.
    - ``blank_lines``: a blank line ends a sentence whatever follows (paragraphs, code blocks).
    - ``list_items``: a line starting with a bullet (``-``, ``*``, ``•``) starts a sentence.
    """
    ends = "[.!?:]" if after_colon else "[.!?]"
    opener = r"[\"'(\[`*]?" if markdown else r"[\"'(\[]?"
    first = r"[A-Z0-9@_`\-]" if markdown else "[A-Z0-9@_`]"
    alternatives = [rf"(?<={ends})\s+(?={opener}{first})"]
    if blank_lines:
        alternatives.append(r"\n{2,}")
    if list_items:
        alternatives.append(r"\n(?=[-*•]\s)")
    return re.compile("|".join(alternatives))


# Answers (Markdown with citation markers); each line is split on its own (sentences_split).
ANSWER_SENTENCE_END = sentence_boundary(markdown=True)
# Parsed documents, for chunk boundaries (ingestion.services.chunking).
DOCUMENT_SENTENCE_END = sentence_boundary(after_colon=True, blank_lines=True, list_items=True)
# Retrieved passages, for the extractive model's candidate sentences.
PASSAGE_SENTENCE_END = sentence_boundary(blank_lines=True)


def sentences_split(text: str) -> list[str]:
    """Sentences of an answer's prose; a Markdown list item or a line break also ends one, and
    citation markers after a sentence's full stop stay with that sentence."""
    out: list[str] = []
    for block in re.split(r"\n+", text):
        block = block.strip()
        if not block:
            continue
        start = len(out)
        for part in ANSWER_SENTENCE_END.split(block):
            part = part.strip()
            lead = _LEADING_CITATIONS.match(part)
            if lead and len(out) > start:  # "Claim. [1] Next." : the [1] belongs to "Claim."
                out[-1] = f"{out[-1]} {lead.group(0).strip()}"
                part = part[lead.end() :].strip()
            if part:
                out.append(part)
    return out


# --- Words -----------------------------------------------------------------------------------

# A token as search and the extractive model read it: letters, digits, underscores and inner
# dots ("functools.lru_cache", "3.11", "__slots__"), never ending with a dot. A lone "_" is a
# token (Python's name for the last result); full-text search drops it, as it has no lexeme.
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*[A-Za-z0-9_]|[A-Za-z0-9_]")
# A content word as the checks read it: a (dotted) name, or a number with its decimal part or
# thousands separators and exponent ("7,919", "1e-9"); a dotted name never starts with a digit.
# A plain word for comparing runs of words (word_shingles): letters and digits, lower case.
_PLAIN_WORD = re.compile(r"[a-z0-9]+")
_CONTENT_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+(?:[.,]\d+)*(?:e-?\d+)?")


def word_shingles(text: str, *, size: int) -> set[tuple[str, ...]]:
    """Every run of ``size`` consecutive words, lower-cased letters and digits only, so that
    punctuation and Markdown do not hide a copied passage: the leak checks compare an answer's
    shingles with the system prompt's."""
    words = _PLAIN_WORD.findall(text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def tokens(text: str) -> list[str]:
    """The words of a text in order, case kept (full-text search needs the case to recognise
    ``PYTHONHASHSEED`` or ``CamelCase`` as code names)."""
    return _TOKEN.findall(text)


# Words that say nothing about a subject: the function words of English questions and answers.
# Chosen by hand, not measured.
FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "with",
        "as",
        "by",
        "at",
        "from",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "i",
        "my",
        "me",
        "you",
        "your",
        "we",
        "our",
        "use",
        "used",
        "using",
        "get",
        "there",
        "their",
        "they",
        "them",
        "than",
        "then",
        "so",
        "if",
        "into",
        "about",
    ]
)
# The checks (verification, the near-miss guard, scoring) also ignore words that are common in
# technical documentation without naming anything ("returns", "value", "default"), so that
# coverage counts the words that carry the claim. Chosen by hand, not measured.
STOP_WORDS = FUNCTION_WORDS | frozenset(
    [
        "being",
        "us",
        "here",
        "has",
        "have",
        "had",
        "having",
        "gets",
        "got",
        "uses",
        "make",
        "makes",
        "made",
        "let",
        "lets",
        "way",
        "ways",
        "thing",
        "things",
        "like",
        "want",
        "need",
        "needs",
        "value",
        "values",
        "return",
        "returns",
        "returned",
        "set",
        "sets",
        "called",
        "call",
        "calls",
        "instead",
        "default",
        "whether",
        "shall",
        "may",
        "might",
        "must",
        "also",
        "just",
        "only",
        "very",
        "more",
        "most",
        "such",
        "any",
        "each",
        "other",
        "some",
        "all",
        "both",
        "either",
        "one",
        "ones",
    ]
)


def content_words(text: str) -> set[str]:
    """The lower-cased words of a text that carry its meaning (no stop words, at least two
    characters); a dotted name also counts as its parts."""
    words = set()
    for word in _CONTENT_WORD.findall(text.replace("’", "'")):
        low = word.lower().rstrip(".")
        if low in STOP_WORDS or len(low) < 2:
            continue
        words.add(low)
        if "." in low:  # a dotted name also counts as its parts
            words.update(p for p in low.split(".") if p and p not in STOP_WORDS)
    return words


def normalise(text: str) -> str:
    """Lower case, straight quotes, single spaces, no pilcrows: the form in which copied text is
    compared with a passage."""
    text = text.replace("’", "'").replace("“", '"').replace("”", '"').replace("¶", "")
    return " ".join(text.lower().split())


# --- Facts: numbers, negations, code names, named entities -----------------------------------

_NUMBER = re.compile(r"(?<![A-Za-z_\d.])-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?(?![A-Za-z_\d])", re.IGNORECASE)
NEGATION = re.compile(
    r"\b(?:not|no|never|none|nothing|neither|nor|cannot|without|"
    r"isn't|aren't|wasn't|weren't|doesn't|don't|didn't|can't|won't|shouldn't|mustn't|"
    r"isn’t|aren’t|doesn’t|don’t|can’t|won’t)\b",
    re.IGNORECASE,
)
_BACKTICKED = re.compile(r"`([^`\n]{1,80})`")
_DOTTED = re.compile(r"(?<![\w.])@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?:\(\))?")
_CALL = re.compile(r"(?<![\w.])[A-Za-z_][A-Za-z0-9_]*\(\)")
_SNAKE = re.compile(r"(?<![\w.])[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+")
_CAMEL = re.compile(r"(?<![\w.])[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+\b|(?<![\w.])[a-z]+[A-Z][A-Za-z0-9]*\b")
_OPTION = re.compile(r"(?<![\w-])--?[a-z][a-z0-9-]{2,}")
_DECORATOR = re.compile(r"(?<![\w.])@[A-Za-z_][A-Za-z0-9_.]*")
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z]{2,}(?:\s+[A-Z][a-zA-Z]{2,})*\b")

# Capitalised words that are ordinary English at the start of clauses or in headings, not names.
_COMMON_CAPITALISED = frozenset(
    [
        "The",
        "A",
        "An",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "Its",
        "If",
        "In",
        "On",
        "For",
        "To",
        "And",
        "Or",
        "But",
        "When",
        "Where",
        "What",
        "Which",
        "Who",
        "How",
        "Why",
        "Is",
        "Are",
        "Was",
        "Were",
        "Be",
        "Do",
        "Does",
        "Did",
        "Can",
        "Could",
        "Should",
        "Would",
        "Will",
        "Yes",
        "No",
        "Not",
        "Note",
        "Notes",
        "See",
        "Also",
        "Changed",
        "Added",
        "New",
        "Deprecated",
        "Return",
        "Returns",
        "Raise",
        "Raises",
        "Example",
        "Examples",
        "Use",
        "Using",
        "Python",
        "Here",
        "There",
        "Each",
        "Every",
        "Some",
        "Any",
        "All",
        "Both",
        "Only",
        "Then",
        "Than",
        "Since",
        "After",
        "Before",
        "While",
        "Unlike",
        "Like",
        "With",
        "Without",
        "From",
        "By",
        "As",
        "At",
        "Of",
        "However",
        "Otherwise",
        "Instead",
        "Because",
        "True",
        "False",
        "None",
        "My",
        "I",
        "You",
        "We",
        "They",
        "He",
        "She",
    ]
)


def _number_canonical(raw: str) -> str:
    raw = raw.replace(",", "").lower()
    try:
        value = float(raw)
    except ValueError:
        return raw
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def numbers(text: str) -> set[str]:
    """Numbers, canonicalised so that 1e-09, 1e-9 and 0.000000001 are equal and 7,919 is 7919.
    Citation markers are not numbers."""
    return {_number_canonical(m) for m in _NUMBER.findall(CITATION.sub(" ", text))}


def is_negated(text: str) -> bool:
    return bool(NEGATION.search(text))


def negation_count(text: str) -> int:
    return len(NEGATION.findall(text))


def without_negations(text: str) -> str:
    return " ".join(NEGATION.sub(" ", text).split())


def identifiers(text: str) -> set[str]:
    """Code-like names: `quoted` text, dotted names, calls, snake_case, CamelCase, --options and
    @decorators. Lower-cased, trailing ``()`` removed."""
    found: set[str] = set()
    found.update(m.strip() for m in _BACKTICKED.findall(text))
    text = _BACKTICKED.sub(" ", text)
    for pattern in (_DOTTED, _CALL, _SNAKE, _CAMEL, _OPTION, _DECORATOR):
        found.update(pattern.findall(text))
    cleaned = set()
    for item in found:
        item = item.strip().rstrip(".,;:").removesuffix("()").lower()
        if len(item) >= 3 and not _NUMBER.fullmatch(item):
            cleaned.add(item)
    return cleaned


def entities(text: str) -> set[str]:
    """Capitalised names that are not the first word of a sentence or an ordinary word."""
    found = set()
    for sentence in sentences_split(CITATION.sub(" ", text)):
        for match in _CAPITALISED.finditer(sentence):
            words = [w for w in match.group(0).split() if w not in _COMMON_CAPITALISED]
            if match.start() == 0 and words and match.group(0).split()[0] == words[0]:
                words = words[1:]  # the sentence's first word is capitalised anyway
            if words:
                found.add(" ".join(words).lower())
    return found


@dataclass(frozen=True)
class Facts:
    """The checkable facts of a piece of text."""

    numbers: frozenset[str]
    identifiers: frozenset[str]
    entities: frozenset[str]
    negated: bool

    @classmethod
    def of(cls, text: str) -> Facts:
        return cls(frozenset(numbers(text)), frozenset(identifiers(text)), frozenset(entities(text)), is_negated(text))


def mentions(haystack_normalised: str, needle: str) -> bool:
    """Whether a normalised text mentions a name: as written, or for a dotted name, its last part
    used as a name (``.part``, ``part(``, ``@part``)."""
    needle = needle.lower()
    if needle in haystack_normalised:
        return True
    if "." in needle.strip("."):
        last = needle.rsplit(".", 1)[1]
        return bool(re.search(rf"(?:[.@]{re.escape(last)}\b|\b{re.escape(last)}\()", haystack_normalised))
    return False
