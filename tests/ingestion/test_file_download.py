"""The original file's download: the uploader-chosen name cannot break the response headers."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from ingestion.services.documents import document_create_from_bytes
from tests.factories import collection_create, user_create

pytestmark = pytest.mark.django_db


def _download(source_name: str) -> object:
    reader = user_create(groups=("team",))
    collection = collection_create(name="Team", groups=("team",))
    document = document_create_from_bytes(
        collection=collection, data=b"# Notes\n\nSome text.", source_name=source_name, enqueue=False
    ).document
    client = Client()
    client.force_login(reader)
    return client.get(f"/documents/{document.pk}/file/")


def test_a_hostile_file_name_is_percent_encoded_not_pasted_into_the_header() -> None:
    name = 'evil".md\r\nX-Injected: 1; ünï "quoted".md'
    response = _download(f"uploads/{name}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f"inline; filename*=utf-8''{quote(name)}"
    assert "X-Injected" not in response.headers
    assert "\n" not in response["Content-Disposition"] and "\r" not in response["Content-Disposition"]


def test_an_ascii_name_with_quotes_is_quoted_and_escaped() -> None:
    response = _download('reports/say "hi" \\ bye.md')
    assert response["Content-Disposition"] == 'inline; filename="say \\"hi\\" \\\\ bye.md"'
    assert response["X-Content-Type-Options"] == "nosniff"
