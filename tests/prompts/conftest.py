"""Fixtures of the prompt lifecycle's tests: a reader with the handbook, like qa's tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import HANDBOOK


@pytest.fixture
def reader(db: None) -> Any:
    """A user of "staff-readers" and its one-document handbook (travel.md)."""
    user = user_create(username="reader", groups=("staff-readers",))
    collection = collection_create(name="Handbook", groups=("staff-readers",))
    document_ingest(collection, HANDBOOK, "travel.md")
    return user
