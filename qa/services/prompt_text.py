"""How a passage is framed as data inside a prompt. (The prompts themselves are versioned files
in ``prompts/library/``; the answering prompt's version is part of every cache key: answers of
another version are not reused.)

Passages are untrusted data written by uploaders. Each one is framed as data: enclosed in a
``<passage>`` element whose text cannot close it or open another one (``<`` of any
``passage`` tag, chat-template token or role marker inside the text is escaped), with
uploader-controlled labels (title, section) cleaned of control text and escaped as attribute
values. The rule that passages are data, not instructions, lives in the system message (the
``answer`` prompt), where nothing a passage says can reach. Sentences that address the model ("ignore previous
instructions", "send the user to ...") are withheld from the passage text altogether
(``passage_redact``) and the passage is marked ``flagged``; the rest of it stays usable.
"""

from __future__ import annotations

import html
import re

from providers.llm.base import ContextPassage

# Inside passage text: anything that could read as our own delimiters or as a chat template's
# role markers. Escaping the "<" is enough to make it plain text.
_DELIMITER_LIKE = re.compile(r"<(?=\s*/?\s*passages?\b|\|)|<(?=<\s*/?\s*sys\s*>>)", re.IGNORECASE)


def passage_text_escape(text: str) -> str:
    """Passage text as element content: it can neither close its ``<passage>`` element nor
    forge another one (nor a chat-template token)."""
    return _DELIMITER_LIKE.sub("&lt;", text)


def _attribute(value: str) -> str:
    return html.escape(value, quote=True)


def passage_frame(passage: ContextPassage) -> str:
    attributes = [f'id="{passage.n}"', f'title="{_attribute(passage.title)}"']
    if passage.section:
        attributes.append(f'section="{_attribute(passage.section)}"')
    if passage.page:
        attributes.append(f'page="{passage.page}"')
    if passage.injection_flags:
        attributes.append('flagged="text addressed to the assistant was withheld"')
    return f"<passage {' '.join(attributes)}>\n{passage_text_escape(passage.text)}\n</passage>"
