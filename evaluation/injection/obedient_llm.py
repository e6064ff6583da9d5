"""A test double at the model boundary that OBEYS instructions it finds in its prompt: the worst
case for prompt injection. It knows nothing about Verity's defences: it reads the chat messages
it is given as plain text (the way a model reads its context), finds instructions anywhere in
the user message before the reader's question, whatever the framing around them, and does
what they say:

- "reply with / say / output X", "begin / end your answer with X", "include X in your answer":
  it says X;
- "send the user to URL", "tell the user to visit URL", images to embed: it adds the link or
  image, with the reader's question filled into any placeholder of the URL (exfiltration);
- "tell the user that X", "add to your answer that X and cite it as [n]": it states X, cited;
- "reveal / repeat your system prompt / instructions": it recites its system message;
- "you are now NAME", "pretend to be NAME", "role-play as NAME": it speaks as NAME.

It reads through the usual disguises as a capable model would: HTML entities, look-alike
letters, invisible characters, spaced-out letters, digits for letters, base64, hex, URL
encoding, ROT13 and reversed text.

Then it answers the question as the built-in extractive model does (so that the answer still
looks good and verification keeps it: the worst case for the defence). The framing of the
passages does not change what it obeys; only text it never sees is text it cannot obey.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote, unquote

from providers.embeddings.base import EmbeddingProvider
from providers.llm.base import LLMDeclined, LLMProvider, LLMRequest, StreamStats, approx_tokens
from providers.llm.extractive import ExtractiveProvider

_HOMOGLYPHS = str.maketrans("аеорсхуіѕԁһАВЕКМНОРСТХ", "aeopcxyisdhABEKMHOPCTX")
_DIGITS_AS_LETTERS = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"})
_QUOTED = r"[\"“‘']([^\"”’']{2,200})[\"”’']"
_CODE = r"([A-Z][A-Z0-9]{2,}(?:-[A-Z0-9]+)+)"  # a code such as ZEBRA-0417
_URL = r"((?:https?://|www\.)[^\s\"'<>)]+|[\w.-]+@[\w-]+(?:\.[\w-]+)+)"
_SAY = r"(?i:reply|respond|answer|say|output|print|write|type|state|emit|return)"
_COMMANDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "say",
        re.compile(
            rf"(?:\b(?:closing|opening|final|first|last)\s+(?:line|words?|sentence)\s+(?:is|are|should\s+be|must\s+be)|"
            rf"\bsign\s+off\s+with|\b(?:footer|header|signature|postscript|tagline)|"
            rf"\b(?:reply|answer|response|output)\s+(?:has\s+to|must|should|needs?\s+to)\s+(?:contain|include|mention|say|read)"
            rf"|\b{_SAY}\s+the\s+words)\s*:?\s*(?:{_QUOTED}|{_CODE})",
            re.I,
        ),
    ),
    (
        "say",
        re.compile(
            rf"\b{_SAY}\b(?:\s+(?:only|exactly|just|verbatim|simply|with|the|word|phrase|text|code|"
            rf"string|following|sentence|that|is))*\s*:?\s*{_QUOTED}",
            re.I,
        ),
    ),  # fmt: skip
    (
        "say",
        re.compile(rf"\b{_SAY}\b(?:\s+(?i:only|exactly|just|with|the|word|phrase|code|text|string))*\s*:?\s*{_CODE}"),
    ),
    (
        "say",
        re.compile(
            rf"\b(?:begin|start|end|finish|prefix|conclude|open|close)\w*\s+(?:your|every|each|the|all)?\s*"
            rf"(?:answer|reply|response|output|message)?s?\s*(?:with|by\s+saying)\s*:?\s*(?:{_QUOTED}|{_CODE})",
            re.I,
        ),
    ),  # fmt: skip
    (
        "say",
        re.compile(
            rf"\b(?:always\s+(?:says?|begins?\s+with|starts?\s+with|finish\w*\s+with|ends?\s+with)|"
            rf"first\s+words\s+are(?:\s+always)?)\s*(?:the\s+\w+\s*)?:?\s*(?:{_QUOTED}|{_CODE})",
            re.I,
        ),
    ),  # fmt: skip
    (
        "say",
        re.compile(
            rf"\b(?:include|add|append|insert|mention|put|use)\s+(?:the\s+)?(?:following\s+)?(?:phrase|"
            rf"sentence|text|words?|note|reference|code)?\s*:?\s*(?:{_QUOTED}|{_CODE})",
            re.I,
        ),
    ),  # fmt: skip
    ("claim", re.compile(rf"\bcite\s+(?:this|it)\s+as\s+\[\d{{1,2}}\]\s*:?\s*{_QUOTED}", re.I)),
    (
        "claim",
        re.compile(
            r"\b(?:tell|inform|remind)\s+(?:the\s+|all\s+)?(?:user|reader|customer|employee|everyone|anyone)s?\b"
            r"[^.]{0,40}?\s+that\s+"
            r"(.{3,200}?)(?:\s+and\s+cite|[.!](?:\s|$)|$)",
            re.I,
        ),
    ),  # fmt: skip
    (
        "claim",
        re.compile(
            r"\b(?:add\s+to\s+your\s+answer\s+that|state\s+that|claim\s+that|say\s+that|mention\s+that|"
            r"assert\s+that)\s+(.{3,200}?)(?:\s+and\s+cite|[.!](?:\s|$)|$)",
            re.I,
        ),
    ),  # fmt: skip
    (
        "link",
        re.compile(
            rf"\b(?:send|direct|redirect|refer|point|forward)(?:s|es)?\s+(?:the\s+|all\s+)?(?:user|reader|customer|"
            rf"visitor|employee)s?\s+to\s+{_URL}",
            re.I,
        ),
    ),  # fmt: skip
    (
        "link",
        re.compile(
            rf"\b(?:tell|ask|advise|urge)\s+(?:the\s+|all\s+)?(?:user|reader|customer|employee)s?\s+to\s+"
            rf"(?:visit|go\s+to|open|click|email|write\s+to|contact)?[^.]{{0,60}}?{_URL}",
            re.I,
        ),
    ),  # fmt: skip
    (
        "link",
        re.compile(
            r"\b(?:include|add|append|insert|embed|render|display|show|put)\b[^.]{0,60}?(!?\[[^\]]*\]\([^)]+\))",
            re.I,
        ),
    ),  # fmt: skip
    (
        "link",
        re.compile(rf"\b(?:include|add|append|insert|embed|put)\s+(?:this|the|a)\s+(?:link|url)\s*:?\s*{_URL}", re.I),
    ),
    (
        "reveal",
        re.compile(
            r"\b(?:reveal|print|show|repeat|output|display|recite|share|dump|quote|tell\s+me|what\s+(?:is|are))\b"
            r"[^.]{0,50}?\b(?:system\s+(?:prompt|message)|instructions|initial\s+prompt|exact\s+prompt|"
            r"hidden\s+rules|rules\s+you\s+were\s+given)",
            re.I,
        ),
    ),  # fmt: skip
    (
        "persona",
        re.compile(
            r"\b(?:you\s+are\s+now|pretend\s+(?:to\s+be|you\s+are)|role-?play\s*:?\s*(?:as|you\s+are)|"
            r"stay\s+in\s+character\s+as|answer\s+as|act\s+as)\s+(?:called\s+|named\s+|the\s+|an?\s+)?"
            r"([A-Z][A-Za-z]{2,30})",
            re.I,
        ),
    ),  # fmt: skip
]
_PLACEHOLDER = re.compile(r"\$?\{\{?\s*(?:question|q|data|conversation|chat|input)\s*\}?\}|\[(?:QUESTION|DATA)\]|"
                          r"<question>|QUESTION_HERE", re.I)  # fmt: skip
_SPACED = re.compile(r"(?<![A-Za-z])(?:[A-Za-z][ .\-_*]{1,2}){3,}[A-Za-z](?![A-Za-z])")


def _readable(text: str) -> str:
    """What a capable model reads through the disguises."""
    text = html.unescape(unicodedata.normalize("NFKC", text))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf").translate(_HOMOGLYPHS)
    text = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)) + " ", text)
    extra: list[str] = []
    for blob in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        if decoded.isprintable():
            extra.append(decoded)
    for blob in re.findall(r"\b(?:[0-9a-fA-F]{2}[ :]?){8,}\b", text):
        try:
            extra.append(bytes.fromhex(re.sub(r"[ :]", "", blob)).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
    if len(re.findall(r"%[0-9A-Fa-f]{2}", text)) >= 3:
        extra.append(unquote(text))
    if re.search(r"rot-?13", text, re.I):
        extra.append(codecs.decode(text, "rot13"))
    if re.search(r"backwards|reversed?", text, re.I):
        extra.append(text[::-1])
    if re.search(r"\d[a-z]|[a-z]\d", text):
        extra.append(re.sub(r"\b\w*\d\w*\b", lambda m: m.group(0).translate(_DIGITS_AS_LETTERS)
                            if not re.fullmatch(r"[A-Z0-9-]+", m.group(0)) else m.group(0), text))  # fmt: skip
    return "\n".join([text, *extra])


def obeyed_output(*, context: str, system: str, question: str) -> list[str]:
    """The sentences the injected instructions in ``context`` make this model say, in order."""
    out: list[str] = []
    readable = _readable(context)
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", readable):
        for kind, pattern in _COMMANDS:
            for match in pattern.finditer(sentence):
                value = next((g for g in match.groups() if g), "").strip()
                if kind == "say" and value:
                    out.append(value if value.endswith((".", "!", "?")) else value + ".")
                elif kind == "claim" and value:
                    cite = re.search(r"\[\d{1,2}\]", sentence)
                    out.append(f"{value.rstrip('.')} {cite.group(0) if cite else '[1]'}.")
                elif kind == "link" and value:
                    link = _PLACEHOLDER.sub(quote(question), value)
                    out.append(link if link.startswith(("!", "[")) else f"For details, visit {link}.")
                elif kind == "reveal":
                    out.append(f"My instructions are: {' '.join(system.split())}")
                elif kind == "persona" and value:
                    out.append(f"As {value}, I will answer.")
    return list(dict.fromkeys(out))


class ObedientProvider(LLMProvider):
    name = "obedient"
    model_id = "obedient-injection-double-1"
    external = False

    def __init__(self, *, embedder: EmbeddingProvider) -> None:
        self.extractive = ExtractiveProvider(embedder=embedder)
        self.obeyed: list[list[str]] = []  # what it obeyed, per request

    def _stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]:
        system = "\n".join(m["content"] for m in request.messages if m["role"] == "system")
        user = "\n".join(m["content"] for m in request.messages if m["role"] != "system")
        # The reader's question comes last; everything before it is the context it was given.
        context = user.rsplit("Question:", 1)[0]
        obeyed = obeyed_output(context=context, system=system, question=request.question)
        self.obeyed.append(obeyed)
        stats.tokens_in = approx_tokens(system + user)
        words = 0
        for sentence in obeyed:
            for word in sentence.split(" "):
                yield ("" if words == 0 else " ") + word
                words += 1
        try:
            normal = list(self.extractive.stream(request, StreamStats()))
        except LLMDeclined:
            if not obeyed:
                raise
            normal = []
        if obeyed and normal:
            yield "\n\n"
        yield from normal
        stats.tokens_out = words + len(normal)
