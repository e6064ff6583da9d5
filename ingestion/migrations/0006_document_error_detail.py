"""Document.error_detail: exception text for staff and document admins; ``error`` keeps the
reason every reader sees. Failures recorded before this change carried raw exception text in
``error`` (the worker's "unexpected error: ..." and "failed after N attempts: ..."): that text
moves to ``error_detail`` and the reader sees the reason the pipeline now gives."""

from django.db import migrations, models

# The same words as ingestion.services.pipeline (a migration does not import app code).
UNEXPECTED = "The file could not be processed because of an internal error; an administrator can see the details."
UNAVAILABLE = "Processing failed because a service Verity needs was unavailable; upload the file again later."


def split_exception_text(apps, schema_editor):  # noqa: ANN001, ANN201
    Document = apps.get_model("ingestion", "Document")
    for prefix, reason in (("unexpected error:", UNEXPECTED), ("failed after ", UNAVAILABLE)):
        for document in Document.objects.filter(error__startswith=prefix).only("pk", "error"):
            Document.objects.filter(pk=document.pk).update(error=reason, error_detail=document.error)


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0005_document_injection_flags"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="error_detail",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(split_exception_text, migrations.RunPython.noop),
    ]
