"""The registry in the admin: every list and record page shows, nothing can be changed."""

from __future__ import annotations

import pytest
from django.test import Client

from prompts.models import PromptEvent, PromptLabel, PromptVersion
from tests.factories import user_create

pytestmark = pytest.mark.django_db


def test_the_registry_is_shown_read_only_in_the_admin() -> None:
    client = Client()
    client.force_login(user_create(username="root", staff=True, superuser=True))
    version = PromptVersion.objects.get(prompt_id="answer", version=2)
    for model in ("promptversion", "promptlabel", "promptevent", "promptproposal", "experiment"):
        assert client.get(f"/admin/prompts/{model}/").status_code == 200, model
    page = client.get(f"/admin/prompts/promptversion/{version.pk}/change/")
    assert page.status_code == 200 and "answer" in page.content.decode()
    assert client.get("/admin/prompts/promptversion/add/").status_code == 403
    assert client.post(f"/admin/prompts/promptversion/{version.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PromptVersion.objects.filter(pk=version.pk).exists()
    assert PromptLabel.objects.filter(prompt_id="answer").exists() and PromptEvent.objects.exists()
