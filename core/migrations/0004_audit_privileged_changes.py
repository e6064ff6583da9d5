"""The audit trail's two privileged changes (core.services.audit explains the scheme).

1. Columns for the personal digest and redaction marks.
2. The rows written so far are re-hashed in the new scheme: their old chain is checked first
   (a broken chain stops the migration: re-hashing it would launder the break), then each row
   gets a salt, a personal digest and a new hash linked to the new hash before it. One format
   for the whole trail means every row can be redacted later; the old hashes are kept nowhere.
   Irreversible: rows redacted later cannot be hashed the old way again.
3. The trigger: no UPDATE or DELETE, except a redaction under ``verity.audit_privileged =
   'redact'`` (personal fields only, the row marked redacted, the salt only emptied) and a
   deletion of the oldest rows under ``'retention'`` (a statement-level check with the deleted
   rows' transition table: no row older than the newest deleted one may remain, whatever order
   the rows were deleted in)."""

import hashlib
import json
import secrets
from datetime import UTC
from typing import Any

from django.db import migrations, models

GENESIS_HASH = "0" * 64
BATCH_SIZE = 1000


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _created(row: Any) -> str:
    return row.created_at.astimezone(UTC).isoformat(timespec="microseconds")


def hash_v1(row: Any) -> str:
    """The hash as migration 0002's code wrote it (all fields in clear)."""
    content = {
        "seq": row.seq, "created_at": _created(row), "actor_id": row.actor_id, "actor_name": row.actor_name,
        "action": str(row.action), "target_type": row.target_type, "target_id": row.target_id, "before": row.before,
        "after": row.after, "detail": row.detail, "request_id": row.request_id, "ip": row.ip,
    }  # fmt: skip
    return hashlib.sha256((row.prev_hash + _canonical(content)).encode()).hexdigest()


def hash_v2(row: Any) -> tuple[str, str]:
    """The digest and hash as core.services.audit writes them from this migration on (a copy:
    a migration must not change when the service does)."""
    user_target = row.target_type == "user"
    personal = {
        "actor_id": row.actor_id, "actor_name": row.actor_name, "ip": row.ip,
        "target_id": row.target_id if user_target else None, "before": row.before, "after": row.after,
        "detail": row.detail,
    }  # fmt: skip
    digest = hashlib.sha256((row.personal_salt + _canonical(personal)).encode()).hexdigest()
    public = {
        "seq": row.seq, "created_at": _created(row), "action": str(row.action), "target_type": row.target_type,
        "target_id": "" if user_target else row.target_id, "request_id": row.request_id, "personal_digest": digest,
    }  # fmt: skip
    return digest, hashlib.sha256((row.prev_hash + _canonical(public)).encode()).hexdigest()


def rehash(apps: Any, schema_editor: Any) -> None:
    """Check the old chain and re-hash every row in the new scheme, in batches (trigger off)."""
    AuditEvent = apps.get_model("core", "AuditEvent")
    expected_seq, old_prev, new_prev = 1, GENESIS_HASH, GENESIS_HASH
    while True:
        batch = list(AuditEvent.objects.filter(seq__gte=expected_seq).order_by("seq")[:BATCH_SIZE])
        if not batch:
            return
        for row in batch:
            if row.seq != expected_seq or row.prev_hash != old_prev or hash_v1(row) != row.hash or row.personal_digest:
                raise RuntimeError(
                    f"core.0004: the audit chain is broken at seq {row.seq} (manage.py audit_verify on the code "
                    "before this migration names the cause); re-hashing it would hide the break, so nothing was changed"
                )
            old_prev = row.hash
            row.prev_hash = new_prev
            row.personal_salt = secrets.token_hex(16)
            row.personal_digest, row.hash = hash_v2(row)
            new_prev = row.hash
            expected_seq = row.seq + 1
        AuditEvent.objects.bulk_update(batch, ["prev_hash", "personal_salt", "personal_digest", "hash"])


OLD_TRIGGER = """
CREATE FUNCTION core_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER core_auditevent_append_only BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_audit_refuse_change();
"""

DROP_OLD_TRIGGER = """
DROP TRIGGER core_auditevent_append_only ON core_auditevent;
DROP FUNCTION core_audit_refuse_change();
"""

NEW_TRIGGERS = """
CREATE FUNCTION core_audit_guard_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    privilege text := coalesce(current_setting('verity.audit_privileged', true), '');
BEGIN
    IF TG_OP = 'DELETE' AND privilege = 'retention' THEN
        RETURN OLD;  -- the statement-level trigger below checks that only a prefix went
    END IF;
    IF TG_OP = 'UPDATE' AND privilege = 'redact' THEN
        IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq IS DISTINCT FROM OLD.seq
           OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.action IS DISTINCT FROM OLD.action
           OR NEW.target_type IS DISTINCT FROM OLD.target_type OR NEW.request_id IS DISTINCT FROM OLD.request_id
           OR NEW.prev_hash IS DISTINCT FROM OLD.prev_hash OR NEW.hash IS DISTINCT FROM OLD.hash
           OR NEW.personal_digest IS DISTINCT FROM OLD.personal_digest
           OR (NEW.personal_salt IS DISTINCT FROM OLD.personal_salt AND NEW.personal_salt <> '')
           OR (NEW.target_id IS DISTINCT FROM OLD.target_id AND OLD.target_type <> 'user')
           OR NEW.redacted_at IS NULL OR NEW.redacted_by_seq IS NULL THEN
            RAISE EXCEPTION '% redaction may change only personal fields and must mark the row: refused',
                TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER core_auditevent_append_only BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_audit_guard_row();

CREATE FUNCTION core_audit_guard_prefix() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM core_auditevent WHERE seq < (SELECT max(seq) FROM deleted_rows)) THEN
        RAISE EXCEPTION '% retention may delete only the oldest rows: refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER core_auditevent_prefix_only AFTER DELETE ON core_auditevent
    REFERENCING OLD TABLE AS deleted_rows FOR EACH STATEMENT EXECUTE FUNCTION core_audit_guard_prefix();
"""

DROP_NEW_TRIGGERS = """
DROP TRIGGER core_auditevent_prefix_only ON core_auditevent;
DROP FUNCTION core_audit_guard_prefix();
DROP TRIGGER core_auditevent_append_only ON core_auditevent;
DROP FUNCTION core_audit_guard_row();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_privacy"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="personal_digest",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="personal_salt",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="redacted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="redacted_by_seq",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.RunSQL(sql=DROP_OLD_TRIGGER, reverse_sql=OLD_TRIGGER),
        migrations.RunPython(rehash),
        migrations.RunSQL(sql=NEW_TRIGGERS, reverse_sql=DROP_NEW_TRIGGERS),
    ]
