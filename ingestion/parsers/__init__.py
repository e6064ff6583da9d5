"""Parsers by file type. ``parse_document`` is the one entry point."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from ingestion.parsers.base import ParsedDocument, ParseError, ParseLimits, Section
from ingestion.parsers.docx import parse_docx
from ingestion.parsers.html import parse_html
from ingestion.parsers.markdown import parse_markdown, parse_text
from ingestion.parsers.pdf import parse_pdf
from ingestion.services.injection_scan import label_clean

Parser = Callable[..., ParsedDocument]
PARSERS: dict[str, tuple[str, Parser]] = {
    ".pdf": ("pdf", parse_pdf),
    ".docx": ("docx", parse_docx),
    ".html": ("html", parse_html),
    ".htm": ("html", parse_html),
    ".md": ("markdown", parse_markdown),
    ".markdown": ("markdown", parse_markdown),
    ".txt": ("text", parse_text),
    ".text": ("text", parse_text),
}
SUPPORTED_TYPES = "PDF (.pdf), Word (.docx), HTML (.html, .htm), Markdown (.md, .markdown) and plain text (.txt)"


class UnsupportedFileType(ParseError):
    pass


def file_format_of(name: str) -> str:
    """The format name for a file name, or raise UnsupportedFileType naming what is supported."""
    suffix = PurePath(name).suffix.lower()
    if suffix not in PARSERS:
        shown = suffix or "files without an extension"
        raise UnsupportedFileType(f"{shown} is not a supported type; Verity reads {SUPPORTED_TYPES}")
    return PARSERS[suffix][0]


def parse_document(*, data: bytes, name: str, limits: ParseLimits | None = None) -> ParsedDocument:
    file_format_of(name)
    if not data.strip():
        raise ParseError("this file is empty")
    _, parser = PARSERS[PurePath(name).suffix.lower()]
    fallback_title = PurePath(name).stem.replace("_", " ").replace("-", " ").strip() or name
    parsed = parser(data, limits=limits or ParseLimits(), fallback_title=fallback_title)
    if not parsed.sections:
        raise ParseError("no text was found in this file")
    return _labels_cleaned(parsed, fallback_title=fallback_title)


def _labels_cleaned(parsed: ParsedDocument, *, fallback_title: str) -> ParsedDocument:
    """Titles and headings are uploader-controlled text that reaches the prompt as labels:
    control characters, markup, links, citation-like markers, role prefixes and instruction
    phrases are stripped from them here, once for every format."""
    cleaned: dict[str, str] = {}

    def clean(label: str) -> str:
        if label not in cleaned:
            cleaned[label] = label_clean(label)
            if cleaned[label] != " ".join(label.split()):
                parsed.original_labels.append(label)
        return cleaned[label]

    parsed.title = clean(parsed.title) or label_clean(fallback_title) or "Untitled document"
    parsed.sections = [
        Section(heading_path=tuple(h for h in (clean(h) for h in s.heading_path) if h), text=s.text, page=s.page)
        for s in parsed.sections
    ]
    return parsed


__all__ = [
    "SUPPORTED_TYPES",
    "ParseError",
    "ParseLimits",
    "ParsedDocument",
    "Section",
    "UnsupportedFileType",
    "file_format_of",
    "parse_document",
]
