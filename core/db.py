"""Database helpers shared by apps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def commit_without_waiting() -> Iterator[None]:
    """A transaction whose commit does not wait for the WAL to reach disk. For log and counter
    rows on the hot path (a cache lookup's log line, a usage counter): after a database crash
    the last fraction of a second of them may be missing; nothing is ever inconsistent."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield
