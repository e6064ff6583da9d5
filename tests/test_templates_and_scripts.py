"""templates/ and static/js/: one websocket status handler, loaded by every page with a socket;
the answer element ids written in one place."""

from __future__ import annotations

import re

from tests.helpers import ROOT

TEMPLATES = ROOT / "templates"
SCRIPTS = ROOT / "static" / "js"
SOCKET_EVENTS = re.compile(r"htmx:ws(Open|Close|Error)")


def test_one_script_shows_the_socket_status_and_every_page_with_a_socket_loads_it() -> None:
    handlers = sorted(p.name for p in SCRIPTS.glob("*.js") if SOCKET_EVENTS.search(p.read_text()))
    assert handlers == ["connection.js"]
    pages = sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html") if "ws-connect" in p.read_text())
    assert pages == ["ingestion/documents.html", "qa/chat.html"]
    for page in pages:
        html = (TEMPLATES / page).read_text()
        assert html.count("{% static 'js/connection.js' %}") == 1, page
        assert 'id="connection"' in html, page


def test_the_answer_element_ids_are_named_only_by_the_helper() -> None:
    """``qa.realtime.answer_dom_ids`` names them; templates take them from their context."""
    spelled = re.compile(r"answer-\{")
    offenders = [
        str(p.relative_to(ROOT))
        for p in [*TEMPLATES.rglob("*.html"), ROOT / "qa" / "consumers.py", ROOT / "qa" / "presenters.py"]
        if spelled.search(p.read_text())
    ]
    assert offenders == []
