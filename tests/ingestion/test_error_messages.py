"""A failed document tells every reader why in words; exception text (hosts, paths, library
internals) is kept for staff and document admins: the documents page, its live rows, the API
and the admin."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.routing import websocket_urlpatterns
from core.roles import DOCUMENT_ADMINS
from ingestion.models import Document, DocumentStatus
from ingestion.services.documents import document_create_from_bytes
from ingestion.services.pipeline import document_process
from ingestion.services.status import FAILURE_UNEXPECTED, document_fail, document_status_set
from ingestion.tasks import process_document
from tests.factories import collection_create, user_create
from tests.ingestion import samples

SECRET_TEXT = "connection to db.internal.example:5432 refused (/srv/verity/secrets)"


def _document(name: str = "notes.md", data: bytes = b"# Notes\n\ntext") -> Document:
    collection = collection_create(name="Team", groups=("team",))
    return document_create_from_bytes(collection=collection, data=data, source_name=name, enqueue=False).document


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _fail_with_an_unexpected_exception(monkeypatch: pytest.MonkeyPatch, document: Document) -> None:
    def broken(*, document_id: int) -> None:
        raise RuntimeError(SECRET_TEXT)

    monkeypatch.setattr("ingestion.tasks.document_process", broken)
    assert process_document.apply(args=[document.pk]).get()["status"] == "failed"


@pytest.mark.django_db
def test_a_reader_sees_the_reason_but_not_the_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    document = _document()
    _fail_with_an_unexpected_exception(monkeypatch, document)
    reader = _client(user_create(groups=("team",)))

    page = reader.get("/documents/").content.decode()
    assert FAILURE_UNEXPECTED.split(";")[0] in page
    assert "db.internal.example" not in page and "RuntimeError" not in page

    api = reader.get(f"/api/documents/{document.pk}/").json()
    assert api["error"] == FAILURE_UNEXPECTED
    assert api["error_detail"] == ""
    listed = reader.get("/api/documents/").json()
    assert [d["error_detail"] for d in listed] == [""]
    assert "db.internal.example" not in str(listed)


@pytest.mark.django_db
def test_document_admins_and_staff_see_the_details(monkeypatch: pytest.MonkeyPatch) -> None:
    document = _document()
    _fail_with_an_unexpected_exception(monkeypatch, document)
    document.refresh_from_db()
    assert document.error == FAILURE_UNEXPECTED
    assert "RuntimeError: " + SECRET_TEXT in document.error_detail
    assert "Traceback" in document.error_detail

    doc_admin = _client(user_create(groups=("team", DOCUMENT_ADMINS)))
    assert "db.internal.example" in doc_admin.get("/documents/").content.decode()
    assert SECRET_TEXT in doc_admin.get(f"/api/documents/{document.pk}/").json()["error_detail"]

    staff = _client(user_create(superuser=True))
    assert SECRET_TEXT in staff.get(f"/api/documents/{document.pk}/").json()["error_detail"]
    admin_page = staff.get(f"/admin/ingestion/document/{document.pk}/change/").content.decode()
    assert "db.internal.example" in admin_page


@pytest.mark.django_db
def test_a_file_problem_keeps_its_reason_and_the_library_error_goes_to_the_details() -> None:
    document = _document("broken.pdf", b"%PDF-1.4\n" + b"\x00garbage" * 50)
    document_process(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    assert document.error.startswith("this PDF is corrupt and could not be read")
    assert "Traceback" not in document.error
    assert "pypdf" in document.error_detail  # where the library failed, for an admin


@pytest.mark.django_db
def test_an_encrypted_pdf_says_so_to_readers() -> None:
    document = _document("locked.pdf", samples.pdf_encrypted())
    document_process(document_id=document.pk)
    document.refresh_from_db()
    assert "encrypted" in document.error


@pytest.mark.django_db
def test_a_retry_after_a_failure_clears_the_details() -> None:
    document = _document()
    document_fail(document_id=document.pk, reason="first try failed", detail="Traceback ...")
    document_process(document_id=document.pk)
    document.refresh_from_db()
    assert (document.status, document.error, document.error_detail) == (DocumentStatus.READY, "", "")


async def _socket(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/documents/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_live_rows_show_details_to_document_admins_only() -> None:
    reader = await sync_to_async(user_create)(groups=("team",))
    doc_admin = await sync_to_async(user_create)(groups=("team", DOCUMENT_ADMINS))
    document = await sync_to_async(_document)()
    reader_socket, admin_socket = await _socket(reader), await _socket(doc_admin)
    await sync_to_async(document_status_set)(
        document_id=document.pk, status=DocumentStatus.FAILED, error=FAILURE_UNEXPECTED, error_detail=SECRET_TEXT
    )
    reader_row = await reader_socket.receive_from(timeout=5)
    admin_row = await admin_socket.receive_from(timeout=5)
    assert "internal error" in reader_row and "db.internal.example" not in reader_row
    assert "internal error" in admin_row and "db.internal.example" in admin_row
    await reader_socket.disconnect()
    await admin_socket.disconnect()
