"""The audit trail's two privileged changes: anonymising a person (erasure) and deleting the
oldest rows (retention). The database allows each only under its own transaction-local setting
and only in its own shape; the chain still verifies afterwards, and tampering is still found."""

from __future__ import annotations

import importlib
import io
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.db import local_setting
from core.models import AuditAction, AuditEvent
from core.services.audit import (
    GENESIS_HASH,
    PRIVILEGE_REDACT,
    PRIVILEGE_RETENTION,
    PRIVILEGE_SETTING,
    audit_delete_expired,
    audit_expired_count,
    audit_record,
    audit_redact_person,
    audit_verify,
)
from tests.factories import user_create

pytestmark = pytest.mark.django_db

migration_0004 = importlib.import_module("core.migrations.0004_audit_privileged_changes")


def _chain(count: int) -> list[AuditEvent]:
    return [
        audit_record(action=AuditAction.DOCUMENT_DELETED, actor=None, target_type="document", target_id=n)
        for n in range(count)
    ]


def _around_the_trigger(sql: str, params: list[object]) -> None:
    """Change history the way only the table's owner could."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")


def _as(privilege: str, sql: str, params: list[object]) -> None:
    with transaction.atomic(), local_setting(PRIVILEGE_SETTING, privilege), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _erasure_of(user, *, by) -> AuditEvent:
    return audit_record(action=AuditAction.PERSON_ERASED, actor=by, target_type="user", target_id=user.pk)


def _people_in_the_trail():
    """Alice named every way a row can name her; Bob's rows must not change."""
    alice, bob = user_create(username="alice"), user_create(username="bob")
    admin = user_create(username="root", superuser=True)
    rows = {
        "sign_in": audit_record(action=AuditAction.SIGN_IN, actor=alice, target_type="user", target_id=alice.pk),
        "failed": audit_record(
            action=AuditAction.SIGN_IN_FAILED,
            actor=None,
            actor_name="alice",
            target_type="user",
            detail={"username": "alice"},
        ),  # fmt: skip
        "readers": audit_record(
            action=AuditAction.COLLECTION_ACCESS_CHANGED,
            actor=admin,
            target_type="collection",
            target_id=7,
            before={"reader_user_ids": [bob.pk]},
            after={"reader_user_ids": [alice.pk, bob.pk]},
            detail={"name": "HR"},
        ),  # fmt: skip
        "note": audit_record(
            action=AuditAction.FEEDBACK_TRIAGED,
            actor=admin,
            target_type="feedback",
            target_id=3,
            detail={"note": "asked by Alice, see alice's ticket", "word": "malice"},
        ),  # fmt: skip
        "bob": audit_record(action=AuditAction.SIGN_IN, actor=bob, target_type="user", target_id=bob.pk),
    }
    return alice, bob, admin, rows


# --------------------------------------------------------------------------- the database's rules


def test_plain_update_and_delete_are_still_refused_and_each_privilege_allows_only_its_own_change() -> None:
    event = _chain(2)[0]
    for privilege, sql in (
        ("", "UPDATE core_auditevent SET actor_name = 'mallory' WHERE id = %s"),
        ("", "DELETE FROM core_auditevent WHERE id = %s"),
        ("anything", "DELETE FROM core_auditevent WHERE id = %s"),
        (PRIVILEGE_REDACT, "DELETE FROM core_auditevent WHERE id = %s"),
        (PRIVILEGE_RETENTION, "UPDATE core_auditevent SET actor_name = 'mallory' WHERE id = %s"),
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            _as(privilege, sql, [event.pk])
    event.refresh_from_db()
    assert event.actor_name == "system" and AuditEvent.objects.count() == 2


@pytest.mark.parametrize(
    "assignment",
    [
        "action = 'auth.sign_in'",
        "seq = 99",
        "created_at = created_at - interval '1 day'",
        "hash = repeat('f', 64)",
        "prev_hash = repeat('f', 64)",
        "personal_digest = repeat('f', 64)",
        "personal_salt = 'chosen'",
        "request_id = 'other'",
        "target_type = 'prompt'",
        "target_id = '99'",  # a document's id is not personal
        "actor_name = 'x'",  # personal, but the row is not marked redacted
    ],
)
def test_a_redaction_may_change_only_personal_fields_and_must_mark_the_row(assignment: str) -> None:
    event = _chain(1)[0]
    mark = "" if assignment.startswith("actor_name") else ", redacted_at = now(), redacted_by_seq = 1"
    with pytest.raises(DatabaseError, match="redaction may change only personal fields"):
        _as(PRIVILEGE_REDACT, f"UPDATE core_auditevent SET {assignment}{mark} WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).hash == event.hash


def test_the_privilege_ends_with_the_block_that_set_it() -> None:
    event = _chain(1)[0]
    with transaction.atomic():
        with local_setting(PRIVILEGE_SETTING, PRIVILEGE_RETENTION):
            pass
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# --------------------------------------------------------------------------- redaction


def test_redaction_replaces_the_person_everywhere_and_the_chain_still_verifies() -> None:
    alice, bob, admin, rows = _people_in_the_trail()
    before = {e.seq: e for e in AuditEvent.objects.all()}
    erasure = _erasure_of(alice, by=admin)

    changed = audit_redact_person(user_id=alice.pk, username="alice", replacement="erased-1", erasure_seq=erasure.seq)

    assert changed == 5  # sign-in, failed sign-in, readers, note, and the erasure's own event
    sign_in = AuditEvent.objects.get(seq=rows["sign_in"].seq)
    assert (sign_in.actor_id, sign_in.actor_name, sign_in.target_id) == (None, "erased-1", "erased-1")
    failed = AuditEvent.objects.get(seq=rows["failed"].seq)
    assert (failed.actor_name, failed.detail) == ("erased-1", {"username": "erased-1"})
    readers = AuditEvent.objects.get(seq=rows["readers"].seq)
    assert readers.actor_name == "root"  # the admin who acted is not the person erased
    assert readers.after == {"reader_user_ids": ["erased-1", bob.pk]} and readers.before == {
        "reader_user_ids": [bob.pk]
    }
    note = AuditEvent.objects.get(seq=rows["note"].seq)
    assert note.detail == {"note": "asked by erased-1, see erased-1's ticket", "word": "malice"}
    assert AuditEvent.objects.get(seq=erasure.seq).target_id == "erased-1"
    for seq in (rows["sign_in"].seq, rows["readers"].seq, erasure.seq):
        row = AuditEvent.objects.get(seq=seq)
        original = before.get(seq, erasure)
        assert (row.hash, row.prev_hash, row.personal_digest, row.action, row.created_at) == (
            original.hash, original.prev_hash, original.personal_digest, original.action, original.created_at,
        )  # fmt: skip
        assert row.redacted_by_seq == erasure.seq and row.redacted_at is not None and row.personal_salt == ""
    untouched = AuditEvent.objects.get(seq=rows["bob"].seq)
    assert (untouched.actor_name, untouched.redacted_at, untouched.personal_salt) == (
        "bob",
        None,
        rows["bob"].personal_salt,
    )
    assert not AuditEvent.objects.filter(actor_id=alice.pk).exists()

    report = audit_verify(batch_size=2)
    assert report.ok and report.checked == 6 and report.redacted == 5
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact: 6 events, 5 anonymised by erasure" in out.getvalue()


def test_redacting_someone_not_in_the_trail_changes_nothing() -> None:
    _chain(3)
    assert audit_redact_person(user_id=424242, username="nobody", replacement="erased-2", erasure_seq=3) == 0
    assert not AuditEvent.objects.filter(redacted_at__isnull=False).exists()


def test_a_tampered_redacted_row_is_detected() -> None:
    alice, _, admin, rows = _people_in_the_trail()
    erasure = _erasure_of(alice, by=admin)
    audit_redact_person(user_id=alice.pk, username="alice", replacement="erased-1", erasure_seq=erasure.seq)
    _around_the_trigger("UPDATE core_auditevent SET action = %s WHERE seq = %s", ["auth.sign_out", rows["sign_in"].seq])
    report = audit_verify()
    assert not report.ok and report.broken_seq == rows["sign_in"].seq and "changed" in report.reason


def test_an_ordinary_row_edited_and_marked_redacted_without_an_erasure_is_detected() -> None:
    events = _chain(3)
    _around_the_trigger(
        "UPDATE core_auditevent SET actor_name = 'someone else', redacted_at = now(), redacted_by_seq = 2 WHERE seq = 1",
        [],
    )
    report = audit_verify()
    assert not report.ok and report.broken_seq == events[0].seq and "no erasure" in report.reason


def test_an_edit_of_a_personal_field_of_an_ordinary_row_is_still_detected() -> None:
    _chain(3)
    _around_the_trigger("UPDATE core_auditevent SET ip = '10.0.0.1' WHERE seq = 2", [])
    report = audit_verify()
    assert not report.ok and report.broken_seq == 2 and "changed" in report.reason


# --------------------------------------------------------------------------- retention


def _retention_run(*, before) -> int | None:
    with transaction.atomic():
        cut = audit_delete_expired(before=before, batch_size=2)
        if cut is None:
            return None
        audit_record(action=AuditAction.RETENTION_RUN, actor=None, detail={"audit_cut": cut.as_detail()})
        return cut.deleted


def test_retention_deletes_the_oldest_rows_in_batches_and_the_chain_verifies_from_the_cut() -> None:
    events = _chain(7)
    assert audit_expired_count(before=events[5].created_at) == 5
    assert _retention_run(before=events[5].created_at) == 5
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [6, 7, 8]
    report = audit_verify(batch_size=2)
    assert report.ok and report.checked == 3 and report.start_seq == 6
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact: 3 events from seq 6" in out.getvalue()
    # A second run later cuts again; its cut is the one verify starts from.
    assert _retention_run(before=AuditEvent.objects.get(seq=8).created_at) == 2
    report = audit_verify()
    assert report.ok and report.start_seq == 8 and report.checked == 2
    assert _retention_run(before=events[0].created_at - timedelta(days=1)) is None


def test_when_the_whole_trail_expired_the_newest_row_stays_and_the_chain_goes_on_from_it() -> None:
    events = _chain(3)
    assert _retention_run(before=events[-1].created_at + timedelta(seconds=1)) == 2
    kept, run = AuditEvent.objects.order_by("seq")
    assert kept.seq == 3 and run.seq == 4 and run.prev_hash == events[-1].hash
    assert run.detail["audit_cut"] == {"seq": 2, "hash": events[1].hash}
    assert audit_verify().ok


def test_the_database_refuses_a_privileged_delete_that_is_not_a_prefix() -> None:
    _chain(5)
    with pytest.raises(DatabaseError, match="only the oldest rows"):
        _as(PRIVILEGE_RETENTION, "DELETE FROM core_auditevent WHERE seq = 3", [])
    with pytest.raises(DatabaseError, match="only the oldest rows"):
        _as(PRIVILEGE_RETENTION, "DELETE FROM core_auditevent WHERE seq IN (1, 2, 4)", [])
    assert AuditEvent.objects.count() == 5


def test_a_prefix_deleted_without_a_recorded_cut_is_reported() -> None:
    events = _chain(5)
    with transaction.atomic():
        audit_delete_expired(before=events[2].created_at)  # no RETENTION_RUN event records the cut
    report = audit_verify()
    assert not report.ok and report.broken_seq == 3 and "no retention run recording the cut" in report.reason


def test_a_middle_row_deleted_after_a_cut_is_reported() -> None:
    events = _chain(6)
    _retention_run(before=events[2].created_at)
    _around_the_trigger("DELETE FROM core_auditevent WHERE seq = 5", [])
    report = audit_verify()
    assert not report.ok and report.broken_seq == 6 and "seq 5 is missing" in report.reason


def test_a_forged_cut_does_not_verify() -> None:
    # Deleting more than the run recorded: the first remaining row matches no recorded cut.
    events = _chain(6)
    _retention_run(before=events[2].created_at)
    _around_the_trigger("DELETE FROM core_auditevent WHERE seq = 3", [])
    assert not audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_the_deletion_must_run_inside_the_transaction_that_records_the_cut() -> None:
    events = _chain(2)
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_delete_expired(before=events[1].created_at)
    assert AuditEvent.objects.count() == 2


# --------------------------------------------------------------------------- migration 0004


def _v1_rows(count: int) -> None:
    """Rows as the code before migration 0004 wrote them: old hash, no salt or digest."""
    prev = GENESIS_HASH
    for n in range(1, count + 1):
        row = AuditEvent(seq=n, created_at=_chain_time(n), actor_id=n, actor_name=f"user{n}", ip="192.0.2.1",
                         action=AuditAction.SIGN_IN, target_type="user", target_id=str(n),
                         detail={"n": n}, request_id="r", prev_hash=prev)  # fmt: skip
        row.hash = migration_0004.hash_v1(row)
        AuditEvent.objects.bulk_create([row])
        prev = row.hash


def _chain_time(n: int) -> datetime:
    return timezone.now() - timedelta(minutes=100 - n)


def test_the_migration_rehashes_old_rows_into_a_chain_that_verifies() -> None:
    from django.apps import apps

    _v1_rows(5)
    assert not audit_verify().ok  # the new code cannot read old hashes
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        migration_0004.rehash(apps, None)
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")
    report = audit_verify(batch_size=2)
    assert report.ok and report.checked == 5
    assert AuditEvent.objects.filter(personal_digest="").count() == 0
    # And rows appended afterwards continue the same chain.
    audit_record(action=AuditAction.SIGN_OUT, actor=None)
    assert audit_verify().ok


def test_the_migration_refuses_to_rehash_a_broken_old_chain() -> None:
    from django.apps import apps

    _v1_rows(3)
    _around_the_trigger("UPDATE core_auditevent SET actor_name = 'mallory' WHERE seq = 2", [])
    hashes = list(AuditEvent.objects.order_by("seq").values_list("hash", flat=True))
    with pytest.raises(RuntimeError, match="broken at seq 2"), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        migration_0004.rehash(apps, None)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER USER")
    assert list(AuditEvent.objects.order_by("seq").values_list("hash", flat=True)) == hashes
