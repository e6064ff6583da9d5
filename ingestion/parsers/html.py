"""HTML: the main content only (navigation, sidebars, headers, footers and scripts dropped),
split into sections at headings."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag

from ingestion.parsers.base import ParsedDocument, ParseError, ParseLimits, SectionBuilder

API_ENTRY_LEVEL = 7
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BLOCKS = {
    "p", "div", "section", "article", "pre", "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "blockquote",
    "br", "hr", "figure", "figcaption", "main", "header", "footer", "details", "summary",
}  # fmt: skip
DROP = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg", "template"]
# Sphinx and common site chrome, by class or role.
DROP_SELECTORS = [
    "div.sphinxsidebar", "div.related", "div.footer", "a.headerlink", "div.navigation", "[role=navigation]",
    "[role=banner]", "[role=contentinfo]", "div.breadcrumbs", "div.toctree-wrapper", "div.mobile-nav",
    "#cookie-banner", ".skip-link",
]  # fmt: skip
MAIN_SELECTORS = ["[role=main]", "main", "article", "div.body", "div.document", "#content", "body"]
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n\s*\n+")


def _clean(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def parse_html(data: bytes, *, limits: ParseLimits, fallback_title: str) -> ParsedDocument:
    try:
        soup = BeautifulSoup(data, "lxml")
    except Exception as exc:  # noqa: BLE001 - lxml raises many kinds on garbage
        raise ParseError(f"this HTML file could not be read ({type(exc).__name__})") from exc
    title_tag = soup.find("title")
    page_title = title_tag.get_text(" ", strip=True) if title_tag else ""
    for name in DROP:
        for tag in soup.find_all(name):
            tag.decompose()
    for selector in DROP_SELECTORS:
        for tag in soup.select(selector):
            tag.decompose()
    main: Tag | None = None
    for selector in MAIN_SELECTORS:
        found = soup.select_one(selector)
        if isinstance(found, Tag):
            main = found
            break
    if main is None:
        raise ParseError("this HTML file has no content")

    h1 = main.find("h1")
    title = (
        (h1.get_text(" ", strip=True) if isinstance(h1, Tag) else "") or page_title.split(" — ")[0] or fallback_title
    )
    # Headings become path entries, not body text: keep their text aside and empty them, so
    # the walk below needs no per-string ancestor lookups (5x faster on the Python docs).
    for heading_tag in main.find_all(list(HEADINGS)):
        heading_tag["data-heading"] = heading_tag.get_text(" ", strip=True)
        heading_tag.clear()
    builder = SectionBuilder(limits=limits, join=lambda pieces: _clean("".join(pieces)))

    for node in main.descendants:
        if isinstance(node, Tag):
            level = HEADINGS.get(node.name)
            if level is None and node.name == "dt" and ("sig" in (node.get("class") or []) or node.get("id")):
                # An anchored definition-list entry (a Sphinx API signature, a glossary term, a
                # command-line option): a sub-heading of its section, and its text stays in the
                # body too (defaults like maxsize=128 live in the signature).
                builder.heading(API_ENTRY_LEVEL, _SPACES.sub(" ", node.get_text("", strip=True))[:160])
                builder.add("\n")
                continue
            if level is not None:
                builder.heading(level, str(node.get("data-heading", "")))
            elif node.name in BLOCKS:
                builder.add("\n")
        elif type(node) is NavigableString:
            builder.add(str(node))
    builder.flush()
    return ParsedDocument(title=title, sections=builder.sections)
