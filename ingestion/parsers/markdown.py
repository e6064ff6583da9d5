"""Markdown and plain text: sections at ATX headings (``#``), code fences respected."""

from __future__ import annotations

import re

from ingestion.parsers.base import ParsedDocument, ParseError, ParseLimits, Section, SectionBuilder

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Legacy 8-bit text: cp1252 decodes any byte; control bytes are checked below.
        return data.decode("cp1252", errors="replace")


def _check_text(text: str, limits: ParseLimits) -> None:
    if len(text) > limits.max_chars:
        raise ParseError(f"this document has more than {limits.max_chars:,} characters of text")
    sample = text[:4096]
    if sample and sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f") > len(sample) * 0.05:
        raise ParseError("this file does not look like text (binary content); upload PDF, DOCX, HTML, Markdown or text")


def parse_markdown(data: bytes, *, limits: ParseLimits, fallback_title: str) -> ParsedDocument:
    text = decode_text(data)
    _check_text(text, limits)
    builder = SectionBuilder(limits=limits, join="\n".join)
    title = ""
    in_fence = False

    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            level, heading = len(match.group(1)), match.group(2).strip()
            if level == 1 and not title:
                title = heading
            builder.heading(level, heading)
        else:
            builder.add(line)
    builder.flush()
    return ParsedDocument(title=title or fallback_title, sections=builder.sections)


def parse_text(data: bytes, *, limits: ParseLimits, fallback_title: str) -> ParsedDocument:
    text = decode_text(data).replace("\r\n", "\n").strip()
    _check_text(text, limits)
    return ParsedDocument(title=fallback_title, sections=[Section(heading_path=(), text=text)] if text else [])
