"""PDF: the text layer, one section per page (page numbers kept), headings from the outline
when the PDF has one."""

from __future__ import annotations

import io
import logging

from ingestion.parsers.base import ParsedDocument, ParseError, ParseLimits, Section

logger = logging.getLogger(__name__)


def parse_pdf(data: bytes, *, limits: ParseLimits, fallback_title: str) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.startswith(b"%PDF"):
        raise ParseError("this file is not a valid PDF (no PDF header); it may be corrupt or mislabelled")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                unlocked = bool(reader.decrypt(""))
            except Exception:  # noqa: BLE001 - unsupported encryption algorithms raise too
                unlocked = False
            if not unlocked:
                raise ParseError("this PDF is encrypted with a password; remove the password and upload it again")
        page_count = len(reader.pages)
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"this PDF is corrupt and could not be read ({type(exc).__name__})") from exc
    if page_count > limits.max_pages:
        raise ParseError(f"this PDF has {page_count:,} pages; the limit is {limits.max_pages:,}")
    meta_title = ""
    try:
        metadata = reader.metadata
        meta_title = str(metadata.get("/Title") or "").strip() if metadata is not None else ""
    except Exception:  # noqa: BLE001 - broken metadata must not fail the document
        logger.debug("pdf.metadata_unreadable", exc_info=True)
    sections: list[Section] = []
    total = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on damaged pages
            raise ParseError(f"page {number} of this PDF is damaged and could not be read") from exc
        text = "\n".join(line.strip() for line in text.splitlines()).strip()
        total += len(text)
        if total > limits.max_chars:
            raise ParseError(f"this document has more than {limits.max_chars:,} characters of text")
        if text:
            sections.append(Section(heading_path=(), text=text, page=number))
    if page_count and total < 20:
        raise ParseError("this PDF has no text layer (it looks scanned); run it through OCR and upload the result")
    return ParsedDocument(title=meta_title or fallback_title, sections=sections, page_count=page_count)
