"""The final HTML of an answer: Markdown rendered with its citation markers turned into
links to the source viewer, then sanitised.

Answer text is untrusted: the model may be steered by a passage, a reviewer's edit is served to
other users as a curated answer, and the extractive model quotes document text. So:

- citation markers become links inside the Markdown inline parser, on prose text only: after
  code spans and raw HTML have been set aside by the parser, so a marker inside an attribute
  value or a code span is never touched (the earlier version rewrote the sanitised HTML with a
  regular expression, and ``<a class="[1] <img src=x onerror=alert(1)>">`` came out as a live
  ``img``);
- markers are recognised by ``core.text.CITATION``, the same pattern verification reads, so a
  marker is linked only if verification saw it;
- nh3 is the last step, with a strict allow-list: no style, no event handler, no image, links
  only to http, https or relative URLs, and ``rel`` set on every link.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree  # noqa: S405 (builds elements for the Markdown tree; parses nothing)

import markdown  # type: ignore[import-untyped]
import nh3
from markdown.extensions import Extension  # type: ignore[import-untyped]
from markdown.inlinepatterns import InlineProcessor  # type: ignore[import-untyped]
from markdown.treeprocessors import Treeprocessor  # type: ignore[import-untyped]
from markdown.util import AtomicString  # type: ignore[import-untyped]

from core.text import CITATION

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "a", "sup", "h3", "h4"}
ALLOWED_URL_SCHEMES = {"http", "https"}
CITATION_CLASS = "cite"
LINK_REL = "noopener noreferrer nofollow"

# After Markdown's raw-HTML pattern (90), so inline tags are already set aside and their
# attribute values are not text; before its entity pattern (80), so "&#91;1&#93;" is still
# visible as the marker core.text.CITATION reads.
_CITATION_PRIORITY = 85
# Our own source-viewer URLs are site-relative paths ("/chat/answers/1/sources/2/"); anything
# else ("//host", "javascript:") is refused even if a caller passed it.
_OWN_PATH = re.compile(r"^/(?!/)[A-Za-z0-9/_\-.]*$")


class _CitationProcessor(InlineProcessor):  # type: ignore[misc]
    def __init__(self, md: markdown.Markdown, citation_urls: dict[int, str]) -> None:
        super().__init__(CITATION.pattern, md)
        self.citation_urls = citation_urls

    def handleMatch(self, m: re.Match[str], data: str) -> tuple[etree.Element | str, int, int]:  # noqa: N802
        n = int(m.group(1))
        url = self.citation_urls.get(n)
        if url is None or not _OWN_PATH.match(url):
            # A marker with no source behind it would send the reader nowhere: dropped.
            return "", m.start(0), m.end(0)
        link = etree.Element("a", {"class": CITATION_CLASS, "data-n": str(n), "href": url})
        link.text = AtomicString(f"[{n}]")
        return link, m.start(0), m.end(0)


class _NoCitationInsideLinks(Treeprocessor):  # type: ignore[misc]
    """``[see [1]](https://x)`` would nest our link inside the author's; HTML has no nested
    links, so the marker is kept as plain text there."""

    def run(self, root: etree.Element) -> None:
        for outer in root.iter("a"):
            if outer.get("class") == CITATION_CLASS:
                continue
            for parent in list(outer.iter()):
                for index, child in enumerate(list(parent)):
                    if child.tag == "a" and child.get("class") == CITATION_CLASS:
                        _replace_with_text(parent, index, child)


def _replace_with_text(parent: etree.Element, index: int, child: etree.Element) -> None:
    text = (child.text or "") + (child.tail or "")
    parent.remove(child)
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        previous = parent[index - 1]
        previous.tail = (previous.tail or "") + text


class _CitationExtension(Extension):  # type: ignore[misc]
    def __init__(self, citation_urls: dict[int, str]) -> None:
        super().__init__()
        self.citation_urls = citation_urls

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802
        # Reference-style links ("[1]: https://elsewhere") would turn a marker into a link the
        # text defines itself; answers have no use for them, so "[1]" is always a citation.
        md.parser.blockprocessors.deregister("reference")
        for name in ("reference", "short_reference", "image_reference", "short_image_ref"):
            md.inlinePatterns.deregister(name)
        md.inlinePatterns.register(_CitationProcessor(md, self.citation_urls), "citation", _CITATION_PRIORITY)
        md.treeprocessors.register(_NoCitationInsideLinks(md), "citation_not_nested", 15)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "data-n":
        return value if value.isascii() and value.isdigit() else None
    return value


def answer_html(*, text: str, citation_urls: dict[int, str]) -> str:
    """The answer's Markdown as safe HTML: citation markers with a source in ``citation_urls``
    (n -> site-relative URL of the source viewer) become ``<a class="cite">`` links, the others
    are dropped; everything passes nh3's allow-list last."""
    html = markdown.markdown(text, extensions=["fenced_code", _CitationExtension(citation_urls)], output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"a": {"href", "data-n"}},
        allowed_classes={"a": {CITATION_CLASS}},
        attribute_filter=_attribute_filter,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )
