"""Document uploads, replacements, deletions and moves, and collection access changes, leave
audit events with the actor and the client's address (core.services.audit)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from core.models import AuditAction, AuditEvent
from core.roles import DOCUMENT_ADMINS
from core.services.audit import audit_verify
from ingestion.models import Collection, Document
from ingestion.services.pipeline import document_process
from tests.factories import collection_create, user_create
from tests.ingestion import samples

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingestion.tasks.process_document.delay", lambda document_id: None)


def _events(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_an_upload_a_replacement_and_a_deletion_through_the_api_are_recorded(client: Client) -> None:
    admin = user_create(username="docadmin", groups=(DOCUMENT_ADMINS, "team"))
    client.force_login(admin)
    collection = collection_create(name="Team docs", groups=("team",))
    address = {"REMOTE_ADDR": "203.0.113.20"}
    first = client.post("/api/documents/upload/",
                        {"collection": collection.slug, "file": SimpleUploadedFile("gadget.md", samples.MARKDOWN)},
                        **address).json()  # fmt: skip
    [uploaded] = _events(AuditAction.DOCUMENT_UPLOADED)
    assert (uploaded.actor_id, uploaded.actor_name, uploaded.ip) == (admin.pk, "docadmin", "203.0.113.20")
    assert (uploaded.target_type, uploaded.target_id) == ("document", str(first["id"]))
    assert uploaded.after is not None and uploaded.after["source_name"] == "gadget.md"
    assert uploaded.after["collection_id"] == collection.pk and uploaded.request_id

    # The same bytes again stores nothing and records nothing; new bytes under the name replace.
    client.post("/api/documents/upload/",
                {"collection": collection.slug, "file": SimpleUploadedFile("gadget.md", samples.MARKDOWN)})  # fmt: skip
    assert len(_events(AuditAction.DOCUMENT_UPLOADED)) == 1
    document_process(document_id=first["id"])  # a version replaces the current (processed) one
    second = client.post("/api/documents/upload/",
                         {"collection": collection.slug,
                          "file": SimpleUploadedFile("gadget.md", samples.MARKDOWN + b"\n\nA new paragraph.")}).json()  # fmt: skip
    [replaced] = _events(AuditAction.DOCUMENT_REPLACED)
    assert replaced.target_id == str(second["id"]) and replaced.before == {"document_id": first["id"], "version": 1}
    assert replaced.after is not None and replaced.after["version"] == 2

    assert client.delete(f"/api/documents/{first['id']}/delete/", **address).status_code == 204
    [deleted] = _events(AuditAction.DOCUMENT_DELETED)
    assert (deleted.actor_name, deleted.ip, deleted.target_id) == ("docadmin", "203.0.113.20", str(first["id"]))
    assert deleted.before is not None and deleted.before["source_name"] == "gadget.md"
    assert audit_verify().ok


def test_a_deletion_that_fails_leaves_no_event(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingestion.services.documents import document_create_from_bytes, document_delete

    collection = collection_create(name="Team docs")
    document = document_create_from_bytes(collection=collection, data=samples.MARKDOWN, source_name="g.md").document

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Document, "delete", refuse)
    with pytest.raises(RuntimeError):
        document_delete(document=document)
    assert _events(AuditAction.DOCUMENT_DELETED) == []
    assert Document.objects.filter(pk=document.pk).exists()


def test_a_move_in_the_admin_is_recorded_with_both_collections(client: Client) -> None:
    admin = user_create(username="root", superuser=True)
    public = collection_create(name="Public")
    board = collection_create(name="Board")
    client.force_login(admin)
    client.post("/admin/ingestion/document/upload/",
                {"collection": public.pk, "uploads": [SimpleUploadedFile("memo.md", samples.MARKDOWN)]})  # fmt: skip
    document = Document.objects.get()
    response = client.post(f"/admin/ingestion/document/{document.pk}/change/",
                           {"collection": board.pk, "title": document.title, "source_name": document.source_name},
                           REMOTE_ADDR="192.0.2.33")  # fmt: skip
    assert response.status_code == 302
    [moved] = _events(AuditAction.DOCUMENT_MOVED)
    assert (moved.actor_id, moved.ip, moved.target_id) == (admin.pk, "192.0.2.33", str(document.pk))
    assert (moved.before, moved.after) == ({"collection_id": public.pk}, {"collection_id": board.pk})
    assert _events(AuditAction.DOCUMENT_UPLOADED)[0].actor_id == admin.pk


def _collection_form(collection: Collection, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": collection.name, "slug": collection.slug, "description": collection.description,
        "classification": collection.classification,
        "reader_groups": list(collection.reader_groups.values_list("pk", flat=True)),
        "reader_users": list(collection.reader_users.values_list("pk", flat=True)),
        "high_stakes_topics": json.dumps(collection.high_stakes_topics),
        "high_stakes_policy": collection.high_stakes_policy, "unsupported_policy": collection.unsupported_policy,
        "confidence_high": collection.confidence_high, "confidence_medium": collection.confidence_medium,
        "confidence_floor": collection.confidence_floor,
    }  # fmt: skip
    return {**data, **changes}


def test_a_change_of_readers_in_the_admin_is_recorded_and_an_edit_of_the_wording_is_not(client: Client) -> None:
    admin = user_create(username="root", superuser=True)
    collection = collection_create(name="Board", groups=("board",))
    board, everyone = Group.objects.get(name="board"), Group.objects.create(name="everyone")
    reader = user_create(username="visitor")
    client.force_login(admin)
    url = f"/admin/ingestion/collection/{collection.pk}/change/"

    response = client.post(url, _collection_form(collection, description="Minutes and memos"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _events(AuditAction.COLLECTION_ACCESS_CHANGED) == []

    response = client.post(url, _collection_form(collection, reader_groups=[board.pk, everyone.pk],
                                                 reader_users=[reader.pk], classification="restricted"),
                           REMOTE_ADDR="198.51.100.8")  # fmt: skip
    assert response.status_code == 302
    [changed] = _events(AuditAction.COLLECTION_ACCESS_CHANGED)
    assert (changed.actor_id, changed.ip, changed.target_id) == (admin.pk, "198.51.100.8", str(collection.pk))
    assert changed.before == {"classification": "internal", "reader_group_ids": [board.pk], "reader_user_ids": []}
    assert changed.after == {
        "classification": "restricted", "reader_group_ids": sorted([board.pk, everyone.pk]),
        "reader_user_ids": [reader.pk],
    }  # fmt: skip
