"""An ASGI middleware that bounds request bodies by counting bytes as they arrive.

Django's ASGI handler spools a body of any size to disk before a view runs, and a client may
omit or understate Content-Length. This refuses a declared length over the limit at once, and
cuts off a body that grows past it, answering 413 either way."""

from __future__ import annotations

import json
from typing import Any

ASGIApp = Any
Scope = dict[str, Any]
Receive = Any
Send = Any


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Any:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    # Django treats a disconnect while reading the body as an aborted request
                    # and stops without answering; the 413 is sent below.
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal response_started
            if exceeded and not response_started:
                return  # the app's late response (if any) is replaced by our 413
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)
        if exceeded and not response_started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        limit_mb = self.max_bytes / 1_048_576
        body = json.dumps({"detail": f"request body is larger than the {limit_mb:.0f} MB limit"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
