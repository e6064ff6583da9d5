from django.db import migrations
from pgvector.django import VectorExtension


class Migration(migrations.Migration):
    """pgvector must exist before any app declares a VectorField."""

    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [VectorExtension()]
