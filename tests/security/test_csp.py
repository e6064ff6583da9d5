"""The content-security policy (issue #10, Low): every page sends it, and no page needs what it
forbids: no inline script, no event-handler or htmx-eval attribute, no inline style (only the
Swagger UI page may have inline styles, by its own policy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from ingestion.models import Chunk
from qa.models import Answer, AnswerStatus, Citation, Conversation, ReviewItem, ReviewReason
from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, HANDBOOK, CSPViolations, sign_in
from tests.security.xss_payloads import parse_html

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
STATIC_JS = Path(__file__).resolve().parents[2] / "static" / "js"


def _policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} sends no Content-Security-Policy"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _inline_code(page: str) -> list[str]:
    found = []
    for element in parse_html(page).iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "script" and not element.get("src"):
            found.append(f"inline <script>{(element.text or '')[:60]}")
        if tag == "style":
            found.append("inline <style>")
        for name in element.attrib:
            if name.startswith("on") or name.startswith("hx-on") or name == "style":
                found.append(f"<{tag} {name}=...>")
            if name in ("hx-vars", "hx-js") or (element.get(name) or "").startswith(("js:", "javascript:")):
                found.append(f"<{tag} {name}=...> (needs eval)")
    return found


@pytest.fixture
def site(db):
    reader = user_create(username="csp-reader", groups=("csp-readers", "reviewers", "document_admins"), staff=True)
    collection = collection_create(name="CSP handbook", groups=("csp-readers",))
    document = document_ingest(collection, HANDBOOK, "travel.md")
    chunk = Chunk.objects.filter(document=document).first()
    assert chunk is not None
    conversation = Conversation.objects.create(user=reader, title="csp")
    answer = Answer.objects.create(
        conversation=conversation, question="Hotel limit?", status=AnswerStatus.ANSWERED,
        text="London hotels are covered up to 260 euros per night [1].",
    )  # fmt: skip
    Citation.objects.create(answer=answer, n=1, chunk_id=chunk.pk, document_id=document.pk, title="Travel Policy",
                            source_name="travel.md", quote="In London the limit is 260 euros per night.")  # fmt: skip
    item = ReviewItem.objects.create(answer=answer, reason=ReviewReason.LOW_SUPPORT, held=False)
    return {"user": reader, "conversation": conversation, "answer": answer, "item": item}


def test_the_policy_is_strict(client, db) -> None:
    policy = _policy(client.get(reverse("login")))
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"], "no 'unsafe-inline', no 'unsafe-eval', no other origin"
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'"], "'self' covers same-origin ws:/wss: (CSP Level 3)"
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


def test_every_page_sends_the_policy_and_has_no_inline_code(site, client) -> None:
    client.force_login(site["user"])
    answer = site["answer"]
    pages = [
        reverse("home"),
        reverse("qa:chat"),
        reverse("qa:conversation", args=[site["conversation"].pk]),
        reverse("qa:source", args=[answer.pk, 1]),
        reverse("qa:review"),
        reverse("qa:review-item", args=[site["item"].pk]),
        reverse("qa:triage"),
        reverse("ops:usage"),
        reverse("ops:dashboards"),
        reverse("ops:dashboard_drill") + "?kind=declined&range=30d",
        reverse("ingestion:documents"),
        reverse("ingestion:retrieval") + "?q=hotel",
    ]
    for url in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"], url
        assert _inline_code(response.content.decode()) == [], url
    client.logout()
    login = client.get(reverse("login"))
    assert _inline_code(login.content.decode()) == []


def test_the_admin_runs_under_the_same_policy(site, client) -> None:
    admin = user_create(username="csp-admin", superuser=True)
    client.force_login(admin)
    for url in (
        reverse("admin:index"),
        reverse("admin:qa_answer_changelist"),
        reverse("admin:qa_answer_change", args=[site["answer"].pk]),
        reverse("admin:ingestion_document_changelist"),
        reverse("admin:ingestion_document_upload"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _policy(response)["script-src"] == ["'self'"], url
        scripts = list(parse_html(response.content.decode()).iter("script"))
        assert scripts and all(e.get("src") for e in scripts), url


def test_the_api_docs_load_their_script_from_a_file(site, client) -> None:
    client.force_login(site["user"])
    page = client.get(reverse("api-docs"))
    assert page.status_code == 200
    policy = _policy(page)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"], "the one exception, styles on this page only"
    scripts = [e.get("src") for e in parse_html(page.content.decode()).iter("script")]
    assert scripts and all(scripts)
    starter = client.get(scripts[-1])
    assert starter.status_code == 200 and starter["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in starter.content.decode()


TEMPLATE_FORBIDDEN = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> block"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event-handler attribute"),
    (re.compile(r"\shx-on", re.I), "hx-on attribute (needs eval)"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_needs_inline_code(template: Path) -> None:
    text = re.sub(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", template.read_text(), flags=re.S)
    assert [label for pattern, label in TEMPLATE_FORBIDDEN if pattern.search(text)] == []


def test_page_scripts_are_files_that_exist() -> None:
    referenced = set()
    for template in TEMPLATES.rglob("*.html"):
        referenced.update(re.findall(r"""\{% static ['"]js/([^'"]+)['"] %\}""", template.read_text()))
    assert {"chat.js", "documents.js", "source.js", "connection.js"} <= referenced
    assert all((STATIC_JS / name).is_file() for name in referenced)


# --------------------------------------------------------------------------- in a real browser


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_admin_and_the_api_docs_work_under_the_policy_in_a_browser(
    daphne_server: str,
    browser_page,
    artifacts_dir: Path,
) -> None:
    """browser_page fails the test on any policy violation in the console."""
    from playwright.sync_api import expect

    user_create(username="csp-browser-admin", superuser=True)
    page = browser_page
    sign_in(page, daphne_server, "csp-browser-admin", "/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"{daphne_server}/admin/qa/answer/")
    expect(page.locator("#changelist")).to_be_visible()
    page.goto(f"{daphne_server}/admin/auth/user/add/")
    expect(page.locator("#user_form")).to_be_visible()
    page.goto(f"{daphne_server}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Verity API", timeout=15_000)
    page.screenshot(path=str(artifacts_dir / "issue10-api-docs-under-csp.png"))


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_browser_refuses_injected_inline_code_on_the_chat_page(daphne_server: str, monkeypatch) -> None:
    """If markup ever got past the sanitiser, the policy still stops it: an event handler and an
    inline script added to the live chat page do not run, and the browser reports both."""
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    user_create(username="csp-probe")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            violations = CSPViolations()
            violations.watch(page)
            sign_in(page, daphne_server, "csp-probe", "/chat/")
            expect(page.locator("#connection")).to_have_text("live", timeout=10_000)
            assert violations.messages == [], "the page itself needs nothing the policy forbids"
            page.evaluate(
                """() => {
                  const box = document.getElementById("messages");
                  box.insertAdjacentHTML("beforeend", '<img src="/static/none.png" onerror="window.__pwned = 1">');
                  const script = document.createElement("script");
                  script.textContent = "window.__pwned2 = 1";
                  document.body.appendChild(script);
                }"""
            )
            page.wait_for_timeout(500)
            assert page.evaluate("() => [window.__pwned, window.__pwned2]") == [None, None]
            assert len(violations.messages) >= 2, violations.messages
        finally:
            browser.close()
