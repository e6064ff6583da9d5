"""The documents page's forms work without JavaScript (a plain POST is redirected to the page,
which shows the outcome) and with htmx (the new rows, or an empty body that removes a row)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.roles import DOCUMENT_ADMINS
from ingestion.models import Document
from tests.factories import PASSWORD, collection_create, user_create
from tests.security.xss_payloads import parse_html

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP side only: queued documents are not sent to a worker."""
    monkeypatch.setattr("ingestion.tasks.process_document.delay", lambda document_id: None)


@pytest.fixture
def admin_client(client: Client) -> Client:
    user_create(username="docadmin", groups=(DOCUMENT_ADMINS, "team"))
    client.login(username="docadmin", password=PASSWORD)
    return client


def _messages(html: str) -> list[str]:
    lists = [ul for ul in parse_html(html).iter("ul") if ul.get("class") == "messages"]
    return ["".join(li.itertext()) for ul in lists for li in ul.iter("li")]


def _files() -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile("a.md", b"# A\n\nalpha"), SimpleUploadedFile("c.bin", b"\x00")]


def test_the_upload_form_posts_without_javascript(admin_client: Client) -> None:
    collection_create(name="Team docs", groups=("team",))
    page = parse_html(admin_client.get("/documents/").content.decode())
    form = next(f for f in page.iter("form") if f.get("id") == "upload-form")
    assert (form.get("method"), form.get("action"), form.get("enctype")) == (
        "post",
        "/documents/upload/",
        "multipart/form-data",
    )


def test_an_upload_without_javascript_goes_back_to_the_page_with_the_refusals(admin_client: Client) -> None:
    collection = collection_create(name="Team docs", groups=("team",))
    response = admin_client.post("/documents/upload/", {"collection": collection.pk, "files": _files()})
    assert response.status_code == 302 and response["Location"] == "/documents/"
    page = admin_client.get(response["Location"]).content.decode()
    [refusal] = _messages(page)
    assert refusal.startswith(".bin is not a supported type; Verity reads PDF (.pdf)")
    assert list(Document.objects.values_list("source_name", flat=True)) == ["a.md"]
    assert f'id="document-{Document.objects.get().pk}"' in page


def test_an_upload_with_htmx_answers_the_new_rows(admin_client: Client) -> None:
    collection = collection_create(name="Team docs", groups=("team",))
    response = admin_client.post("/documents/upload/", {"collection": collection.pk, "files": _files()}, headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    # Rows for the table's body (a fragment: a parser outside a table would drop them).
    assert re.findall(r'<tr id="(document-\d+)"', html) == [f"document-{Document.objects.get().pk}"]
    assert ".bin is not a supported type" in html


@pytest.mark.parametrize(("headers", "status"), [({}, 302), (HX, 200)])
def test_deleting_a_document(admin_client: Client, headers: dict[str, str], status: int) -> None:
    collection = collection_create(name="Team docs", groups=("team",))
    admin_client.post("/documents/upload/", {"collection": collection.pk, "files": _files()[:1]})
    document = Document.objects.get()
    response = admin_client.post(f"/documents/{document.pk}/delete/", headers=headers)
    assert response.status_code == status
    if headers:
        assert response.content == b""  # htmx swaps the row (its target) for nothing
    else:
        assert response["Location"] == "/documents/"
    assert not Document.objects.filter(pk=document.pk).exists()
