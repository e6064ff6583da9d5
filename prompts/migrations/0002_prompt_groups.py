"""The groups of the prompt lifecycle: ``prompt_editors`` propose changes in the browser,
``prompt_reviewers`` approve or reject them and move labels (deploy, roll back).

The permissions are created here rather than left to ``post_migrate``: on a fresh database
this migration runs before the signal that would create them."""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {"prompt_editors": "propose_prompt", "prompt_reviewers": "review_prompt"}


def groups_create(apps: Any, schema_editor: Any) -> None:
    app_config = apps.get_app_config("prompts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for group_name, codename in GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        group.permissions.add(permission_model.objects.get(content_type__app_label="prompts", codename=codename))


def groups_remove(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=list(GROUPS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("prompts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(groups_create, groups_remove)]
