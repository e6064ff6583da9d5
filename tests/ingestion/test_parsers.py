from __future__ import annotations

import pytest

from ingestion.parsers import ParseError, ParseLimits, UnsupportedFileType, parse_document
from tests.ingestion import samples


def test_html_keeps_headings_and_drops_navigation() -> None:
    parsed = parse_document(data=samples.HTML, name="guide.html")
    assert parsed.title == "Widgets Guide"
    paths = [s.heading_path for s in parsed.sections]
    assert ("Widgets Guide", "Installing widgets", "On Linux") in paths
    assert ("Widgets Guide", "Removing widgets") in paths
    text = " ".join(s.text for s in parsed.sections)
    assert "42 seconds" in text
    for chrome in ("About us", "banner", "Copyright footer", "var x"):
        assert chrome not in text


def test_markdown_sections_and_code_fences() -> None:
    parsed = parse_document(data=samples.MARKDOWN, name="gadget.md")
    assert parsed.title == "Gadget Manual"
    by_path = {s.heading_path: s.text for s in parsed.sections}
    assert "3 hours" in by_path[("Gadget Manual", "Charging")]
    assert "# not a heading inside code" in by_path[("Gadget Manual", "Charging")]
    assert "20 W" in by_path[("Gadget Manual", "Charging", "Fast charging")]


def test_pdf_keeps_page_numbers() -> None:
    parsed = parse_document(
        data=samples.pdf_bytes(["Alpha page text here.", "Beta page mentions 99 sprockets."]), name="r.pdf"
    )
    assert parsed.title == "Sprocket Report"
    assert parsed.page_count == 2
    assert [(s.page, "99 sprockets" in s.text) for s in parsed.sections] == [(1, False), (2, True)]


def test_docx_headings_and_tables() -> None:
    parsed = parse_document(data=samples.docx_bytes(), name="gizmo.docx")
    assert parsed.title == "Gizmo Handbook"
    by_path = {s.heading_path: s.text for s in parsed.sections}
    assert "port 7" in by_path[("Setup",)]
    assert "turbo | on" in by_path[("Setup", "Advanced setup")]


def test_plain_text() -> None:
    parsed = parse_document(data="Héllo plain text.\nSecond line.".encode(), name="notes.txt")
    assert parsed.sections[0].text.startswith("Héllo")


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"anything", "slides.pptx", "not a supported type"),
        (b"", "empty.md", "empty"),
        (b"   \n", "blank.txt", "empty"),
        (b"%PDF-1.7 garbage that is not a pdf body", "broken.pdf", "corrupt"),
        (b"PK\x03\x04 not really a zip", "broken.docx", "corrupt"),
        (b"\x00\x01\x02\x03" * 400, "binary.txt", "does not look like text"),
        (b"GIF89a....", "image.pdf", "not a valid PDF"),
    ],
)
def test_bad_files_are_refused_with_a_reason(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_document(data=data, name=name)
    assert reason in str(info.value)


def test_unsupported_type_names_the_supported_ones() -> None:
    with pytest.raises(UnsupportedFileType) as info:
        parse_document(data=b"x", name="archive.zip")
    for kind in ("PDF", "Word", "HTML", "Markdown", "plain text"):
        assert kind in str(info.value)


def test_encrypted_pdf_is_refused() -> None:
    with pytest.raises(ParseError, match="encrypted"):
        parse_document(data=samples.pdf_encrypted(), name="locked.pdf")


def test_pdf_without_text_layer_is_refused() -> None:
    with pytest.raises(ParseError, match="no text layer"):
        parse_document(data=samples.pdf_without_text(), name="scan.pdf")


def test_docx_zip_bomb_is_refused_without_inflating() -> None:
    bomb = samples.docx_zip_bomb()
    assert len(bomb) < 1024 * 1024  # 64 MB of zeros deflate to well under 1 MB
    with pytest.raises(ParseError, match="zip bomb"):
        parse_document(data=bomb, name="bomb.docx", limits=ParseLimits(max_uncompressed_bytes=32 * 1024 * 1024))


def test_character_limit() -> None:
    with pytest.raises(ParseError, match="more than 1,000 characters"):
        parse_document(data=b"word " * 1000, name="long.txt", limits=ParseLimits(max_chars=1000))


def test_hostile_html_is_text_only() -> None:
    hostile = b"<html><body><main><h1>T</h1><p>Hello <img src=x onerror=alert(1)> world</p><script>alert(2)</script></main></body></html>"
    parsed = parse_document(data=hostile, name="x.html")
    text = " ".join(s.text for s in parsed.sections)
    assert "alert" not in text and "<img" not in text and "Hello" in text
