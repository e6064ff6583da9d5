"""core.db.local_setting: a setting for one block, not for the rest of the transaction."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from core.db import local_setting
from ingestion.selectors.search import chunk_ids_by_fulltext

pytestmark = pytest.mark.django_db


def _timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return str(cursor.fetchone()[0])


def test_the_setting_applies_inside_the_block_and_is_restored_after() -> None:
    with transaction.atomic():
        before = _timeout()
        with local_setting("statement_timeout", "40"):
            assert _timeout() == "40ms"
        assert _timeout() == before


def test_a_full_text_search_inside_a_transaction_leaves_no_40_ms_timeout_behind() -> None:
    # The bug: SET LOCAL outlived the search, so every later query of the same transaction
    # (an answer's writes, a test's checks) ran under the full-text leg's 40 ms limit.
    with transaction.atomic():
        before = _timeout()
        chunk_ids_by_fulltext(question="hotel limit London", collection_ids=[1], limit=5)
        assert _timeout() == before
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.1)")  # would be cancelled under a 40 ms timeout
