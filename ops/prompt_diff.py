"""A prompt version's messages compared with another's, as escaped HTML, word by word: a system
message is one long paragraph, and a line diff would mark all of it changed when an editor
adds one sentence."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Words and the whitespace between them, kept apart so that a change of spacing is visible and
# a diff never splits a word.
_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class MessageDiff:
    role: str
    html: SafeString  # the new text with <del> and <ins> marks, every piece of text escaped
    changed: bool
    added: int  # words
    removed: int


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def text_diff(before: str, after: str) -> tuple[SafeString, int, int]:
    """``after`` marked up against ``before``: deleted words in ``<del>``, inserted in
    ``<ins>``. Every piece of text passes through ``escape``: a template may contain markup."""
    old, new = _tokens(before), _tokens(after)
    parts: list[str] = []
    added = removed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(escape("".join(old[i1:i2])))
            continue
        if op in ("delete", "replace"):
            parts.append(f"<del>{escape(''.join(old[i1:i2]))}</del>")
            removed += sum(1 for t in old[i1:i2] if not t.isspace())
        if op in ("insert", "replace"):
            parts.append(f"<ins>{escape(''.join(new[j1:j2]))}</ins>")
            added += sum(1 for t in new[j1:j2] if not t.isspace())
    return mark_safe("".join(parts)), added, removed  # noqa: S308 - every piece above is escaped


def messages_diff(*, before: list[dict[str, str]], after: list[dict[str, str]]) -> list[MessageDiff]:
    """Each message (by role or wording entry) of ``after`` against the same one in ``before``;
    a message only in ``before`` is shown deleted, one only in ``after`` inserted."""
    old = {m["role"]: m["template"] for m in before}
    roles = [m["role"] for m in after] + [r for r in old if r not in {m["role"] for m in after}]
    new = {m["role"]: m["template"] for m in after}
    diffs = []
    for role in roles:
        html, added, removed = text_diff(old.get(role, ""), new.get(role, ""))
        diffs.append(MessageDiff(role=role, html=html, changed=bool(added or removed), added=added, removed=removed))
    return diffs
