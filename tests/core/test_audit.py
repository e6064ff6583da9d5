"""The audit trail: append-only in the database, a hash chain that shows edits and gaps, appends
that stay one chain under concurrency, sign-ins recorded with the client's address, an
OCSF-like JSON-lines export."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from core.models import AuditAction, AuditEvent, AuditRecordImmutable
from core.services.audit import GENESIS_HASH, audit_export, audit_record, audit_verify
from tests.factories import PASSWORD, user_create

pytestmark = pytest.mark.django_db


def _chain(count: int) -> list[AuditEvent]:
    return [
        audit_record(action=AuditAction.DOCUMENT_DELETED, actor=None, target_type="document", target_id=n,
                     before={"title": f"doc {n}"})
        for n in range(count)
    ]  # fmt: skip


def _tamper(sql: str, params: list[object]) -> None:
    """Change history the way only the table's owner could: around the trigger."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


def test_the_database_refuses_update_and_delete_of_an_audit_event() -> None:
    event = _chain(1)[0]
    for sql in ("UPDATE core_auditevent SET actor_name = 'mallory' WHERE id = %s",
                "DELETE FROM core_auditevent WHERE id = %s"):  # fmt: skip
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    event.refresh_from_db()
    assert event.actor_name == "system"


def test_the_model_refuses_saving_or_deleting_an_existing_event() -> None:
    event = _chain(1)[0]
    event.actor_name = "mallory"
    with pytest.raises(AuditRecordImmutable):
        event.save()
    with pytest.raises(AuditRecordImmutable):
        event.delete()


def test_a_good_chain_verifies_across_batches() -> None:
    events = _chain(7)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    report = audit_verify(batch_size=3)
    assert report.ok and report.checked == 7
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact: 7 events" in out.getvalue()


def test_verify_names_the_edited_row() -> None:
    _chain(5)
    _tamper("UPDATE core_auditevent SET before = %s WHERE seq = 3", ['{"title": "nothing to see"}'])
    report = audit_verify(batch_size=2)
    assert not report.ok and report.broken_seq == 3 and "changed" in report.reason
    with pytest.raises(CommandError, match="broken at seq 3"):
        call_command("audit_verify")


def test_verify_finds_a_deleted_row() -> None:
    _chain(5)
    _tamper("DELETE FROM core_auditevent WHERE seq = 4", [])
    report = audit_verify(batch_size=2)
    assert not report.ok and report.broken_seq == 5 and "seq 4 is missing" in report.reason


def test_verify_finds_a_deleted_first_row() -> None:
    _chain(3)
    _tamper("DELETE FROM core_auditevent WHERE seq = 1", [])
    report = audit_verify()
    assert not report.ok and report.broken_seq == 2 and "seq 1 is missing" in report.reason


def test_verify_finds_a_row_rewritten_with_a_matching_hash_but_renumbered_chain() -> None:
    # An editor who recomputes the edited row's own hash still breaks the next row's link.
    events = _chain(3)
    _tamper("UPDATE core_auditevent SET hash = %s WHERE seq = 2", ["f" * 64])
    report = audit_verify()
    assert not report.ok and report.broken_seq == 2
    assert events[2].prev_hash == events[1].hash


def test_an_event_of_a_rolled_back_action_does_not_remain() -> None:
    _chain(1)

    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic():
        audit_record(action=AuditAction.DOCUMENT_MOVED, actor=None, target_type="document", target_id=9)
        raise Refused
    assert list(AuditEvent.objects.values_list("seq", flat=True)) == [1]
    assert audit_record(action=AuditAction.DOCUMENT_MOVED, actor=None).seq == 2
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_ten_threads_appending_at_once_make_one_unbroken_chain() -> None:
    start = threading.Barrier(10)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            start.wait()
            for i in range(5):
                with transaction.atomic():
                    audit_record(action=AuditAction.FEEDBACK_TRIAGED, actor=None, target_type="feedback",
                                 target_id=f"{n}-{i}")  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 51))
    assert AuditEvent.objects.values("prev_hash").distinct().count() == 50  # no fork
    report = audit_verify(batch_size=7)
    assert report.ok and report.checked == 50


def test_a_failed_sign_in_is_recorded_with_the_address_and_the_name_tried(client) -> None:
    user_create(username="alice")
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"},
                           REMOTE_ADDR="203.0.113.7", HTTP_X_REQUEST_ID="req-42")  # fmt: skip
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED)
    assert (event.actor_id, event.actor_name, event.ip, event.request_id) == (None, "alice", "203.0.113.7", "req-42")
    assert "password" not in json.dumps(event.detail)


def test_a_sign_in_is_recorded_with_the_user_and_the_address(client) -> None:
    user = user_create(username="bob")
    client.post("/accounts/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="198.51.100.4")
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN)
    assert (event.actor_id, event.actor_name, event.ip) == (user.pk, "bob", "198.51.100.4")
    assert len(event.request_id) == 32  # made for the request: the client sent none
    client.post("/accounts/logout/")
    assert AuditEvent.objects.filter(action=AuditAction.SIGN_OUT, actor_id=user.pk).exists()


def test_a_request_id_that_is_not_a_plain_token_is_replaced() -> None:
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="<script>\n", REMOTE_ADDR="192.0.2.1")
    event = audit_record(action=AuditAction.SIGN_IN_FAILED, actor=None, request=request)
    assert event.request_id.isalnum() and len(event.request_id) == 32
    again = audit_record(action=AuditAction.SIGN_IN_FAILED, actor=None, request=request)
    assert again.request_id == event.request_id  # one id for everything one request records


def test_export_emits_ocsf_like_json_lines_since_a_date(tmp_path) -> None:
    user = user_create(username="carol")
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.9", HTTP_X_REQUEST_ID="abc-1")
    audit_record(action=AuditAction.SIGN_IN, actor=user, target_type="user", target_id=user.pk, request=request)
    audit_record(action=AuditAction.MODEL_TIER_CHANGED, actor=user, target_type="model_tier", target_id="small",
                 before={"model": "m-1"}, after={"model": "m-2"}, detail={"version": 2}, request=request)  # fmt: skip
    out = tmp_path / "audit.jsonl"
    call_command("audit_export", "--since", timezone.localdate().isoformat(), "--out", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 2
    sign_in, tier = lines
    assert sign_in["class_name"] == "Authentication" and sign_in["category_name"] == "Identity & Access Management"
    assert tier["class_name"] == "API Activity" and tier["activity_name"] == "model_tier.changed"
    assert tier["actor"] == {"user": {"uid": str(user.pk), "name": "carol"}}
    assert tier["src_endpoint"] == {"ip": "192.0.2.9"}
    assert tier["metadata"]["uid"] == "abc-1" and tier["metadata"]["sequence"] == 2
    assert tier["resources"] == [{"type": "model_tier", "uid": "small"}]
    assert tier["unmapped"] == {"before": {"model": "m-1"}, "after": {"model": "m-2"}, "detail": {"version": 2}}
    assert isinstance(tier["time"], int) and tier["time_dt"].endswith("+00:00")
    # Nothing from before --since; stdout when no file is given.
    assert list(audit_export(since=timezone.now() + timedelta(seconds=1))) == []
    stdout = io.StringIO()
    call_command("audit_export", "--since", "2000-01-01", stdout=stdout)
    assert [json.loads(line)["metadata"]["sequence"] for line in stdout.getvalue().splitlines()] == [1, 2]


def test_export_refuses_a_since_that_is_not_a_date() -> None:
    with pytest.raises(CommandError, match="not a date"):
        call_command("audit_export", "--since", "last tuesday")


def test_the_admin_shows_audit_events_read_only(client) -> None:
    admin_user = user_create(username="root", superuser=True)
    client.force_login(admin_user)
    event = AuditEvent.objects.get(action=AuditAction.SIGN_IN)  # force_login signs in too
    assert client.get("/admin/core/auditevent/").status_code == 200
    assert client.get("/admin/core/auditevent/add/").status_code == 403
    page = client.get(f"/admin/core/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()
