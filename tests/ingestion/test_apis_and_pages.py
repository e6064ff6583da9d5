from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from core.roles import DOCUMENT_ADMINS
from ingestion.models import Document, DocumentStatus
from ingestion.services.pipeline import document_process
from tests.factories import PASSWORD, collection_create, user_create
from tests.ingestion import samples

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client):
    user_create(username="docadmin", groups=(DOCUMENT_ADMINS, "team"))
    client.login(username="docadmin", password=PASSWORD)
    return client


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record queued ids instead of publishing: these tests look at the HTTP side only (the
    worker path is tested with a real worker in test_worker_faults)."""
    queued: list[int] = []
    monkeypatch.setattr("ingestion.tasks.process_document.delay", lambda document_id: queued.append(document_id))
    return queued


def test_api_upload_answers_id_and_status_url(
    admin_client: Client, _no_broker: list[int], django_capture_on_commit_callbacks
) -> None:
    collection = collection_create(name="Team docs", groups=("team",))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/api/documents/upload/",
            {"collection": collection.slug, "file": SimpleUploadedFile("gadget.md", samples.MARKDOWN)},
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["created"] is True and body["status"] == "queued"
    assert _no_broker == [body["id"]]
    status = admin_client.get(body["status_url"])
    assert status.status_code == 200 and status.json()["source_name"] == "gadget.md"
    again = admin_client.post(
        "/api/documents/upload/",
        {"collection": str(collection.pk), "file": SimpleUploadedFile("copy.md", samples.MARKDOWN)},
    )
    assert again.status_code == 200 and again.json() == {**body, "created": False, "status": "queued"}


def test_api_upload_refusals(admin_client: Client, client: Client) -> None:
    collection = collection_create(name="Team docs", groups=("team",))
    bad = admin_client.post(
        "/api/documents/upload/", {"collection": collection.slug, "file": SimpleUploadedFile("x.exe", b"MZ")}
    )
    assert bad.status_code == 400 and "not a supported type" in bad.json()["detail"]
    empty = admin_client.post(
        "/api/documents/upload/", {"collection": collection.slug, "file": SimpleUploadedFile("e.md", b"")}
    )
    assert empty.status_code == 400
    secret = collection_create(name="Secret", groups=("other",))
    forbidden = admin_client.post(
        "/api/documents/upload/", {"collection": secret.slug, "file": SimpleUploadedFile("a.md", b"# A")}
    )
    assert forbidden.status_code == 403
    reader = user_create(username="reader", groups=("team",))
    client.force_login(reader)
    not_admin = client.post(
        "/api/documents/upload/", {"collection": collection.slug, "file": SimpleUploadedFile("a.md", b"# A")}
    )
    assert not_admin.status_code == 403
    assert not Document.objects.exists()


def test_api_search_and_document_visibility(admin_client: Client, client: Client) -> None:
    collection = collection_create(name="Team docs", groups=("team",))
    admin_client.post(
        "/api/documents/upload/",
        {"collection": collection.slug, "file": SimpleUploadedFile("gadget.md", samples.MARKDOWN)},
    )
    document = Document.objects.get()
    document_process(document_id=document.pk)
    hits = admin_client.get("/api/search/", {"q": "how long to charge the gadget", "k": 3}).json()
    assert hits and hits[0]["title"] == "Gadget Manual"
    assert {"vector_rank", "text_rank", "score", "heading_path", "page"} <= set(hits[0])
    outsider = user_create(username="outsider")
    client.force_login(outsider)
    assert client.get("/api/search/", {"q": "charge the gadget"}).json() == []
    assert client.get(f"/api/documents/{document.pk}/").status_code == 404
    assert client.get("/api/documents/").json() == []


def test_documents_page_upload_several_files(admin_client: Client, django_capture_on_commit_callbacks) -> None:
    collection = collection_create(name="Team docs", groups=("team",))
    page = admin_client.get("/documents/")
    assert b"Drop files here" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/documents/upload/",
            {
                "collection": collection.pk,
                "files": [
                    SimpleUploadedFile("a.md", b"# A\n\nalpha"),
                    SimpleUploadedFile("b.txt", b"beta"),
                    SimpleUploadedFile("c.bin", b"\x00"),
                ],
            },
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('id="document-') == 2
    assert "not a supported type" in html
    assert Document.objects.filter(collection=collection).count() == 2


def test_admin_uploads_several_files(client: Client) -> None:
    user_create(username="boss", superuser=True)
    client.login(username="boss", password=PASSWORD)
    collection = collection_create(name="Admin docs")
    assert client.get("/admin/ingestion/document/upload/").status_code == 200
    response = client.post(
        "/admin/ingestion/document/upload/",
        {
            "collection": collection.pk,
            "uploads": [SimpleUploadedFile("a.md", b"# A\n\nalpha"), SimpleUploadedFile("b.md", b"# B\n\nbeta")],
        },
    )
    assert response.status_code == 302
    assert Document.objects.filter(collection=collection, status=DocumentStatus.QUEUED).count() == 2


def test_retrieval_tester_is_for_staff(client: Client) -> None:
    user_create(username="reader")
    client.login(username="reader", password=PASSWORD)
    assert client.get("/documents/retrieval/").status_code == 403
    user_create(username="boss", superuser=True)
    client.login(username="boss", password=PASSWORD)
    collection = collection_create(name="Tester")
    from ingestion.services.documents import document_create_from_bytes

    document = document_create_from_bytes(
        collection=collection, data=samples.MARKDOWN, source_name="g.md", enqueue=False
    ).document
    document_process(document_id=document.pk)
    page = client.get("/documents/retrieval/", {"q": "fast charging watts", "k": 5})
    assert page.status_code == 200
    assert b"Gadget Manual" in page.content and b"vector rank" in page.content


def test_ingest_command_walks_folders_and_reports(tmp_path, capsys) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.md").write_bytes(samples.MARKDOWN)
    (tmp_path / "sub" / "b.html").write_bytes(samples.HTML)
    (tmp_path / "sub" / "skip.png").write_bytes(b"\x89PNG")
    (tmp_path / "named.xyz").write_bytes(b"x")
    call_command("ingest", str(tmp_path), str(tmp_path / "named.xyz"), "--collection", "CLI docs")
    out = capsys.readouterr().out
    assert "Queued 2, already present 0, refused 1." in out
    assert "named.xyz" in out and "not a supported type" in out
    assert set(Document.objects.values_list("source_name", flat=True)) == {"a.md", "sub/b.html"}
    call_command("ingest", str(tmp_path), "--collection", "CLI docs")
    assert "Queued 0, already present 2" in capsys.readouterr().out
