"""DOCX: paragraphs and tables in order, sections at Heading styles. The archive is checked
before it is opened, so a zip bomb is refused without inflating it."""

from __future__ import annotations

import io
import zipfile

from ingestion.parsers.base import ParsedDocument, ParseError, ParseLimits, SectionBuilder


def _check_archive(data: bytes, limits: ParseLimits) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ParseError("this DOCX file is corrupt (not a valid zip archive)") from exc
    with archive:
        infos = archive.infolist()
        if "word/document.xml" not in {info.filename for info in infos}:
            raise ParseError("this file is not a Word document (word/document.xml is missing)")
        total = sum(info.file_size for info in infos)
        compressed = max(1, sum(info.compress_size for info in infos))
        if total > limits.max_uncompressed_bytes or total / compressed > limits.max_compression_ratio:
            raise ParseError(
                f"this DOCX expands to {total:,} bytes ({total // compressed}x its size); "
                "refused as a possible zip bomb"
            )


def parse_docx(data: bytes, *, limits: ParseLimits, fallback_title: str) -> ParsedDocument:
    _check_archive(data, limits)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises KeyError, ValueError, lxml errors...
        raise ParseError(f"this DOCX file is corrupt and could not be read ({type(exc).__name__})") from exc
    title = (document.core_properties.title or "").strip()
    builder = SectionBuilder(limits=limits, join=lambda lines: "\n".join(line for line in lines if line.strip()))

    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            style = (block.style.name if block.style is not None else "") or ""
            text = block.text.strip()
            if style == "Title" and text:
                title = title or text
                continue
            if style.startswith("Heading") and text:
                try:
                    level = int(style.split()[-1])
                except ValueError:
                    level = 1
                builder.heading(level, text)
                continue
            builder.add(block.text)
        elif isinstance(block, Table):
            for row in block.rows:
                cells = [cell.text.strip() for cell in row.cells]
                builder.add(" | ".join(dict.fromkeys(c for c in cells if c)))
    builder.flush()
    return ParsedDocument(title=title or fallback_title, sections=builder.sections)
