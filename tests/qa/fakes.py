"""Test doubles at the model boundary only: scripted language-model providers and a local
server that speaks the OpenAI-compatible streaming protocol."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from providers.llm.base import LLMError, LLMProvider, LLMRequest, StreamStats


class ScriptedProvider(LLMProvider):
    """Streams a fixed text word by word; optionally fails after some words."""

    def __init__(
        self, text: str, *, name: str = "scripted", fail_after: int | None = None, error: str = "boom"
    ) -> None:
        self.text = text
        self.name = name
        self.model_id = f"{name}-model-1"
        self.fail_after = fail_after
        self.error = error
        self.requests: list[LLMRequest] = []

    def _stream(self, request: LLMRequest, stats: StreamStats) -> Iterator[str]:
        self.requests.append(request)
        stats.tokens_in = 100
        for index, word in enumerate(self.text.split(" ")):
            if self.fail_after is not None and index >= self.fail_after:
                raise LLMError(self.error)
            yield ("" if index == 0 else " ") + word
        stats.tokens_out = len(self.text.split())


class FakeOpenAIServer:
    """A loopback HTTP server answering POST /v1/chat/completions with an SSE stream.

    ``script`` is a list of behaviours consumed one request at a time: "ok", "500", "429",
    "401", "slow" (sleeps past the client's timeout), "malformed", "truncated"."""

    def __init__(
        self,
        text: str = "Hello from the model [1].",
        script: list[str] | None = None,
        first_token_delay: float = 0.0,
        tokens_per_second: float = 0.0,
    ) -> None:
        self.text = text
        self.script = list(script or [])
        self.first_token_delay = first_token_delay
        self.tokens_per_second = tokens_per_second
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                # The client may give up first (its timeout), as some tests intend.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                behaviour = server.script.pop(0) if server.script else "ok"
                if behaviour in ("500", "429", "401"):
                    self.send_response(int(behaviour))
                    self.end_headers()
                    self.wfile.write(b'{"error": "scripted"}')
                    return
                if behaviour == "slow":
                    time.sleep(3)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if server.first_token_delay:
                    time.sleep(server.first_token_delay)
                if behaviour == "malformed":
                    self.wfile.write(b"data: {not json\n\n")
                    return
                words = server.text.split(" ")
                for index, word in enumerate(words):
                    piece = ("" if index == 0 else " ") + word
                    event = {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                    if behaviour == "truncated" and index == 1:
                        return
                    if server.tokens_per_second:
                        time.sleep(1 / server.tokens_per_second)
                done = {
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 42, "completion_tokens": len(words)},
                }
                self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
