from __future__ import annotations

import pytest

from ingestion.services.documents import document_create_from_bytes
from ingestion.services.pipeline import document_process
from tests.factories import collection_create, user_create

HANDBOOK = b"""# Travel Policy

## Hotels

Hotel stays are covered up to 180 euros per night in most cities. In London the limit is 260 euros per night.

## Meals

Meals are covered up to 55 euros per day while travelling. Alcohol is never reimbursed.
"""


@pytest.fixture
def reader(db):  # noqa: ANN001, ANN201
    user = user_create(username="reader", groups=("staff-readers",))
    collection = collection_create(name="Handbook", groups=("staff-readers",))
    document = document_create_from_bytes(
        collection=collection, data=HANDBOOK, source_name="travel.md", enqueue=False
    ).document
    document_process(document_id=document.pk)
    return user
