"""Stage 8: the final HTML of an answer: Markdown rendered, then sanitised, with citation
markers turned into links to the source viewer."""

from __future__ import annotations

import re

import markdown  # type: ignore[import-untyped]
import nh3

ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "a", "sup", "h3", "h4"}


def answer_html(*, text: str, citation_urls: dict[int, str]) -> str:
    html = markdown.markdown(text, extensions=["fenced_code"], output_format="html")
    safe = nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href", "class", "data-n"}}, link_rel=None)

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        url = citation_urls.get(n)
        if url is None:
            return ""
        return f'<a class="cite" data-n="{n}" href="{url}">[{n}]</a>'

    return re.sub(r"\[(\d{1,3})\]", link, safe)
