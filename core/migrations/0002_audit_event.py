from django.db import migrations, models


class Migration(migrations.Migration):
    """The audit trail, append-only in the database: a trigger refuses UPDATE and DELETE from any
    client, as prompts' 0001 does for prompt versions. (TRUNCATE, used by test teardown and by no
    code path, is not a row operation.)"""

    dependencies = [
        ("core", "0001_vector_extension"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.BigIntegerField(unique=True)),
                ("created_at", models.DateTimeField(db_index=True)),
                ("actor_id", models.BigIntegerField(blank=True, null=True)),
                ("actor_name", models.CharField(blank=True, max_length=150)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("auth.sign_in", "Signed in"),
                            ("auth.sign_in_failed", "Sign-in failed"),
                            ("auth.sign_out", "Signed out"),
                            ("document.uploaded", "Document uploaded"),
                            ("document.replaced", "Document replaced by a new version"),
                            ("document.deleted", "Document deleted"),
                            ("document.moved", "Document moved to another collection"),
                            ("collection.access_changed", "Collection access changed"),
                            ("review.approved", "Review: answer approved"),
                            ("review.edited", "Review: answer edited and approved"),
                            ("review.rejected", "Review: answer rejected"),
                            ("feedback.triaged", "Feedback triaged"),
                            ("prompt.version_created", "Prompt version created"),
                            ("prompt.label_moved", "Prompt label moved"),
                            ("prompt.proposal_approved", "Prompt proposal approved"),
                            ("prompt.proposal_rejected", "Prompt proposal rejected"),
                            ("model_tier.changed", "Model tier changed"),
                            ("policy.budget_changed", "Budget policy changed"),
                            ("policy.routing_changed", "Routing policy changed"),
                        ],
                        db_index=True,
                        max_length=60,
                    ),
                ),
                ("target_type", models.CharField(blank=True, max_length=60)),
                ("target_id", models.CharField(blank=True, max_length=100)),
                ("before", models.JSONField(blank=True, null=True)),
                ("after", models.JSONField(blank=True, null=True)),
                ("detail", models.JSONField(blank=True, default=dict)),
                ("request_id", models.CharField(blank=True, max_length=64)),
                ("ip", models.CharField(blank=True, max_length=45)),
                ("prev_hash", models.CharField(max_length=64)),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "ordering": ["-seq"],
                "indexes": [models.Index(fields=["target_type", "target_id"], name="core_audit_target_idx")],
            },
        ),
        migrations.RunSQL(
            sql="""
CREATE FUNCTION core_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER core_auditevent_append_only BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_audit_refuse_change();
""",
            reverse_sql="""
DROP TRIGGER core_auditevent_append_only ON core_auditevent;
DROP FUNCTION core_audit_refuse_change();
""",
        ),
    ]
