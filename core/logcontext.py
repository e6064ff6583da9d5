"""What every log line says about where it came from: the request id, the answer id, the trace id
and the user, as a hash (a log line is read by more people than the database; the hash still
groups one person's lines). Context variables, so the values follow a request through async code
and ``sync_to_async`` and stay apart between the requests and answers a process runs at once.

``LogContextFilter`` puts them on each record (the ``LOGGING`` setting attaches it to the
console handler); with ``VERITY_LOG_FORMAT=json`` the handler writes JSON lines
(python-json-logger), otherwise the plain text of local runs."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
from collections.abc import Iterator

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
answer_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("answer_id", default=None)
user_hash_var: contextvars.ContextVar[str] = contextvars.ContextVar("user_hash", default="")


def user_id_hash(user_id: int | None) -> str:
    """sha256 of the secret key and the id, 12 hex digits: stable within a deployment, not
    reversible by counting ids without the key."""
    if user_id is None:
        return ""
    from django.conf import settings

    return hashlib.sha256(f"{settings.SECRET_KEY}{user_id}".encode()).hexdigest()[:12]


@contextlib.contextmanager
def log_context(
    *, request_id: str | None = None, answer_id: int | None = None, user_id: int | None = None
) -> Iterator[None]:
    """Set some of the values for the lines logged inside the block; the others are kept."""
    tokens: list[tuple[contextvars.ContextVar, contextvars.Token]] = []  # type: ignore[type-arg]
    if request_id is not None:
        tokens.append((request_id_var, request_id_var.set(request_id)))
    if answer_id is not None:
        tokens.append((answer_id_var, answer_id_var.set(answer_id)))
    if user_id is not None:
        tokens.append((user_hash_var, user_hash_var.set(user_id_hash(user_id))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class LogContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from core.tracing import trace_id_current

        record.request_id = request_id_var.get()
        record.answer_id = answer_id_var.get()
        record.trace_id = trace_id_current()
        record.user = user_hash_var.get()
        return True
