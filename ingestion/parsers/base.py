"""What every parser returns: a title and the document's text as sections, each with its
heading path and page, so that chunks can say where they come from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


class ParseError(Exception):
    """A permanent problem with the file itself: retrying will not help. The message is shown
    to the user as the reason the document failed."""


@dataclass(frozen=True)
class Section:
    heading_path: tuple[str, ...]
    text: str
    page: int | None = None


@dataclass
class ParsedDocument:
    title: str
    sections: list[Section] = field(default_factory=list)
    page_count: int | None = None
    # Titles and headings as the file had them, when cleaning changed them (``parse_document``
    # cleans them): the injection scan reads these, so an instruction hidden in a heading is
    # still reported to an admin although the model never sees it.
    original_labels: list[str] = field(default_factory=list)

    @property
    def char_count(self) -> int:
        return sum(len(s.text) for s in self.sections)


@dataclass(frozen=True)
class ParseLimits:
    max_pages: int = 2000
    max_chars: int = 5_000_000
    # DOCX is a zip: refuse archives that inflate beyond this or by more than this ratio.
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_compression_ratio: int = 100


class SectionBuilder:
    """Collects a document's text under its current heading path, one section per heading.

    ``join`` turns the collected pieces into a section's text (each format joins differently);
    the character limit is enforced as text accumulates, so a huge file fails early."""

    def __init__(self, *, limits: ParseLimits, join: Callable[[list[str]], str]) -> None:
        self.sections: list[Section] = []
        self.path: list[tuple[int, str]] = []
        self._buffer: list[str] = []
        self._total = 0
        self._limits = limits
        self._join = join

    def add(self, piece: str) -> None:
        self._buffer.append(piece)

    def heading(self, level: int, text: str) -> None:
        self.flush()
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        if text:
            self.path.append((level, text))

    def flush(self, page: int | None = None) -> None:
        text = self._join(self._buffer).strip()
        self._buffer.clear()
        if not text:
            return
        self._total += len(text)
        if self._total > self._limits.max_chars:
            raise ParseError(f"this document has more than {self._limits.max_chars:,} characters of text")
        self.sections.append(Section(heading_path=tuple(h for _, h in self.path), text=text, page=page))
