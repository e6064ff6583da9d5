"""Small, deterministic readings of text shared by verification, the decline rules, the
high-stakes classifier and the answer cache's near-miss guard: sentences, content words,
numbers, negations, identifiers and named entities.

They are rules, not a model: cheap enough to run on every answer, and explainable in the
per-sentence detail reviewers see."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A citation marker: "[1]", also with its brackets written as character references
# ("&#91;1&#93;", "&lsqb;1&rsqb;"), which the answer renders as the same "[1]". One definition for
# verification and rendering (qa.services.rendering links exactly these markers): a marker that
# only one of them recognised would be shown as a citation without ever being checked.
_CITATION_OPEN = r"(?:\[|&#0*91;|&#[xX]0*5[bB];|&lsqb;|&lbrack;)"
_CITATION_CLOSE = r"(?:\]|&#0*93;|&#[xX]0*5[dD];|&rsqb;|&rbrack;)"
CITATION = re.compile(rf"{_CITATION_OPEN}(\d{{1,3}}){_CITATION_CLOSE}")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[`*]?[A-Z0-9@_`\-])")
_LEADING_CITATIONS = re.compile(rf"^(?:{CITATION.pattern}\s*)+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+(?:[.,]\d+)*(?:e-?\d+)?")
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

STOP_WORDS = frozenset(
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
        "being",
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
        "shall",
        "may",
        "might",
        "must",
        "i",
        "my",
        "me",
        "you",
        "your",
        "we",
        "our",
        "us",
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
        "here",
        "has",
        "have",
        "had",
        "having",
        "get",
        "gets",
        "got",
        "use",
        "used",
        "uses",
        "using",
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
    ]
)
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
        "Also",
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


def sentences_split(text: str) -> list[str]:
    """Sentences of prose; a Markdown list item or a line break also ends one."""
    out: list[str] = []
    for block in re.split(r"\n+", text):
        block = block.strip()
        if not block:
            continue
        start = len(out)
        for part in _SENTENCE_END.split(block):
            part = part.strip()
            lead = _LEADING_CITATIONS.match(part)
            if lead and len(out) > start:  # "Claim. [1] Next." : the [1] belongs to "Claim."
                out[-1] = f"{out[-1]} {lead.group(0).strip()}"
                part = part[lead.end() :].strip()
            if part:
                out.append(part)
    return out


def citations_of(text: str) -> list[int]:
    return [int(n) for n in CITATION.findall(text)]


def strip_citations(text: str) -> str:
    return re.sub(rf"\s*{CITATION.pattern}", "", text).strip()


def normalise(text: str) -> str:
    text = text.replace("’", "'").replace("“", '"').replace("”", '"').replace("¶", "")
    return " ".join(text.lower().split())


def content_words(text: str) -> set[str]:
    words = set()
    for word in _WORD.findall(text.replace("’", "'")):
        low = word.lower().rstrip(".")
        if low in STOP_WORDS or len(low) < 2:
            continue
        words.add(low)
        if "." in low:  # a dotted name also counts as its parts
            words.update(p for p in low.split(".") if p and p not in STOP_WORDS)
    return words


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
