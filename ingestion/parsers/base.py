"""What every parser returns: a title and the document's text as sections, each with its
heading path and page, so that chunks can say where they come from."""

from __future__ import annotations

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
