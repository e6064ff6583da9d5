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


@contextmanager
def local_setting(name: str, value: str) -> Iterator[None]:
    """A PostgreSQL setting for the statements inside the block only.

    ``SET LOCAL`` alone lasts to the end of the *transaction*: inside an outer transaction (a
    request, a test, an answer written in one transaction) a 40 ms statement timeout set for
    one bounded query went on to cancel every later query of that transaction. Here the
    previous value is read first and restored on the way out (an error rolls the enclosing
    savepoint back, which undoes the setting too). A custom setting (``verity.x``) that was never
    set reads as NULL and is restored as empty."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        row = cursor.fetchone()
        previous = "" if row[0] is None else row[0]
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        yield
        cursor.execute("SELECT set_config(%s, %s, true)", [name, previous])
