"""Records of what happened (model interactions, cache lookups, usage counters) are read-only in
the admin, for superusers too."""

from __future__ import annotations

import pytest

from qa.models import UsageCounter
from tests.factories import user_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["interaction", "cachelookup", "usagecounter"])
def test_records_cannot_be_added_in_the_admin(client, model: str) -> None:
    client.force_login(user_create(superuser=True))
    assert client.get(f"/admin/qa/{model}/").status_code == 200
    assert client.get(f"/admin/qa/{model}/add/").status_code == 403


def test_a_usage_counter_cannot_be_changed_or_deleted_in_the_admin(client) -> None:
    counter = UsageCounter.objects.create(scope="user:1:2026-11-30", questions=3)
    client.force_login(user_create(superuser=True))
    page = client.get(f"/admin/qa/usagecounter/{counter.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert (
        client.post(f"/admin/qa/usagecounter/{counter.pk}/change/", {"scope": "x", "questions": 0}).status_code == 403
    )
    assert client.post(f"/admin/qa/usagecounter/{counter.pk}/delete/").status_code == 403
    counter.refresh_from_db()
    assert (counter.scope, counter.questions) == ("user:1:2026-11-30", 3)
