"""Request bodies are bounded by the application itself, also when Content-Length is missing
or understated (the body is counted as it arrives)."""

from __future__ import annotations

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.asgi import get_asgi_application

from core.asgi_limits import BodySizeLimitMiddleware

LIMIT = 1000


def _scope(headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/documents/upload/", "raw_path": b"/api/documents/upload/", "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip


async def _send_body(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, bytes]:
    app = BodySizeLimitMiddleware(get_asgi_application(), max_bytes=LIMIT)
    communicator = ApplicationCommunicator(app, _scope(headers))
    for i, chunk in enumerate(chunks):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1})
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    await communicator.wait(timeout=10)
    return start["status"], body.get("body", b"")


@pytest.mark.django_db(transaction=True)
async def test_declared_length_over_the_limit_is_refused_at_once() -> None:
    status, body = await _send_body([(b"content-length", str(LIMIT * 10).encode())], [b"x" * 10])
    assert status == 413 and b"limit" in body


@pytest.mark.django_db(transaction=True)
async def test_missing_content_length_is_counted() -> None:
    status, body = await _send_body([], [b"x" * 600, b"x" * 600, b"x" * 600])
    assert status == 413 and b"limit" in body


@pytest.mark.django_db(transaction=True)
async def test_understated_content_length_is_counted() -> None:
    status, _ = await _send_body([(b"content-length", b"10")], [b"x" * 700, b"x" * 700])
    assert status == 413


@pytest.mark.django_db(transaction=True)
async def test_a_body_under_the_limit_reaches_the_app() -> None:
    status, _ = await _send_body([(b"content-length", b"20")], [b"x" * 20])
    assert status == 401  # the API answered (no credentials), so the body went through
