"""Issue #10, finding 9: the admin keeps chunks with their document, and uploads only where the
uploader may upload."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.roles import DOCUMENT_ADMINS
from ingestion.models import Chunk, Document
from ingestion.selectors.search import chunk_search
from tests.factories import collection_create, document_ingest, user_create

pytestmark = pytest.mark.django_db

MEMO = b"""# Reorganisation memo

## Finance team

The finance team moves to the third floor in March. Quillfeather is the project name.
"""


def test_moving_a_document_in_the_admin_moves_its_chunks(client) -> None:
    admin = user_create(superuser=True)
    old_reader = user_create(groups=("everyone",))
    new_reader = user_create(groups=("board",))
    public = collection_create(name="Public", groups=("everyone",))
    board = collection_create(name="Board", groups=("board",))
    document = document_ingest(public, MEMO, "memo.md")
    assert chunk_search(user=old_reader, question="Quillfeather project name", k=5)

    client.force_login(admin)
    response = client.post(
        f"/admin/ingestion/document/{document.pk}/change/",
        {"collection": board.pk, "title": document.title, "source_name": document.source_name},
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    document.refresh_from_db()
    assert document.collection_id == board.pk
    assert set(Chunk.objects.filter(document=document).values_list("collection_id", flat=True)) == {board.pk}
    assert chunk_search(user=old_reader, question="Quillfeather project name", k=5) == []
    assert [r.document_id for r in chunk_search(user=new_reader, question="Quillfeather project name", k=5)] == [
        document.pk
    ]


def test_a_move_into_a_collection_holding_the_same_content_is_refused() -> None:
    from core.errors import ApplicationError
    from ingestion.services.documents import document_move

    first = collection_create(name="First")
    second = collection_create(name="Second")
    document = document_ingest(first, MEMO, "memo.md")
    document_ingest(second, MEMO, "memo-copy.md")
    with pytest.raises(ApplicationError):
        document_move(document=document, collection=second)
    assert set(Chunk.objects.filter(document=document).values_list("collection_id", flat=True)) == {first.pk}


def test_the_admin_upload_refuses_a_collection_the_staff_user_may_not_upload_into(client) -> None:
    staff = user_create(staff=True, groups=(DOCUMENT_ADMINS, "hr-readers"))
    hr = collection_create(name="HR", groups=("hr-readers",))
    secret = collection_create(name="Secret board papers")  # staff does not read it
    client.force_login(staff)

    page = client.get("/admin/ingestion/document/upload/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Secret board papers" not in html and ">HR<" in html

    upload = SimpleUploadedFile("planted.md", b"# Planted\n\nText planted into a collection I cannot read.\n")
    response = client.post("/admin/ingestion/document/upload/", {"collection": secret.pk, "uploads": [upload]})
    assert response.status_code == 200  # the form again, with "select a valid choice"
    assert not Document.objects.filter(collection=secret).exists()

    upload = SimpleUploadedFile("allowed.md", b"# Allowed\n\nA document for HR readers.\n")
    response = client.post("/admin/ingestion/document/upload/", {"collection": hr.pk, "uploads": [upload]})
    assert response.status_code == 302
    assert Document.objects.filter(collection=hr, source_name="allowed.md").exists()


def test_a_staff_user_without_the_document_admin_role_cannot_upload_through_the_service() -> None:
    from core.errors import ApplicationError
    from ingestion.services.documents import documents_upload

    staff = user_create(staff=True, groups=("hr-readers",))
    hr = collection_create(name="HR", groups=("hr-readers",))
    with pytest.raises(ApplicationError):
        documents_upload(collection=hr, uploaded_files=[SimpleUploadedFile("a.md", b"# A\n\ntext\n")], user=staff)
    assert not Document.objects.filter(collection=hr).exists()


def test_a_refused_move_in_the_admin_leaves_the_document_and_its_chunks_in_place(client) -> None:
    admin = user_create(superuser=True)
    first = collection_create(name="First")
    second = collection_create(name="Second")
    document = document_ingest(first, MEMO, "memo.md")
    document_ingest(second, MEMO, "memo-copy.md")
    client.force_login(admin)
    response = client.post(
        f"/admin/ingestion/document/{document.pk}/change/",
        {"collection": second.pk, "title": "Renamed memo", "source_name": document.source_name},
        follow=True,
    )
    assert "already holds a document with the same content" in response.content.decode()
    document.refresh_from_db()
    assert document.collection_id == first.pk and document.title == "Renamed memo"
    assert set(Chunk.objects.filter(document=document).values_list("collection_id", flat=True)) == {first.pk}
