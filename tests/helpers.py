"""Helpers shared by the test modules: the handbook texts, an event recorder, real processes
(ports, waiting, stopping), signed-in websockets, the channel layer and the browser. Test
modules import from here (and from ``tests.factories``), never from a conftest or from each
other."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket as socket_module
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from tests.factories import PASSWORD, user_create

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"

# --------------------------------------------------------------------------- the handbook
HANDBOOK = b"""# Travel Policy

## Hotels

Hotel stays are covered up to 180 euros per night in most cities. In London the limit is 260 euros per night.

## Meals

Meals are covered up to 55 euros per day while travelling. Alcohol is never reimbursed.
"""

BENEFITS = b"""# Benefits

## Bicycle allowance

Staff who cycle to work receive a bicycle allowance of 30 euros per month.

## Training budget

Each employee has a training budget of 1,200 euros per year for courses and conferences.
"""

WELLNESS = b"""# Pain relief at work

Employees who need pain relief at work, such as ibuprofen for back pain, should ask the company nurse
what dose to take. The nurse can be reached at extension 4410.
"""


# --------------------------------------------------------------------------- pipeline events
class Recorder:
    """An ``emit`` callback for the answer pipeline that keeps every event in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event_type: str, payload: dict[str, Any]) -> None:
        self.events.append((event_type, payload))

    def types(self) -> list[str]:
        return [t for t, _ in self.events]

    def tokens(self) -> str:
        return "".join(p["text"] for t, p in self.events if t == "qa.token")


def ask(user: Any, question: str, providers: Any = None, recorder: Recorder | None = None) -> Any:
    """Record a question and run the answer pipeline in-process; the stored answer."""
    from qa.pipeline.orchestrator import answer_create, answer_run

    answer = answer_create(user=user, question=question)
    return answer_run(answer_id=answer.pk, emit=recorder or Recorder(), providers=providers)


def channel_listen(group: str) -> tuple[Any, str]:
    """A new channel on the real channel layer, added to ``group``."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return layer, channel


def channel_receive(layer: Any, channel: str, timeout: float = 10) -> dict[str, Any]:
    async def within() -> dict[str, Any]:
        return await asyncio.wait_for(layer.receive(channel), timeout=timeout)

    return async_to_sync(within)()


# --------------------------------------------------------------------------- real processes
def free_port() -> int:
    with socket_module.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def database_url_for(name: str) -> str:
    """The configured server's URL with another database name (the test database)."""
    parts = urlsplit(settings.DATABASE_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def process_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- websockets
# Through config.asgi.application (origin check, session middleware, routing) with a real
# session in PostgreSQL and the real Redis channel layer.
HOST = "127.0.0.1:8000"
OWN_ORIGIN = "http://127.0.0.1:8000"


def session_cookie_for(user: Any) -> str:
    """A signed-in session, as the login page leaves it (force_login: no password check)."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def socket(
    path: str, *, cookie: str | None, origin: str | None = OWN_ORIGIN, host: str = HOST
) -> WebsocketCommunicator:
    from config.asgi import application

    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def signed_in(username: str, **kwargs: Any) -> tuple[Any, str]:
    user = await sync_to_async(user_create)(username=username, **kwargs)
    return user, await sync_to_async(session_cookie_for)(user)


async def expect_close(communicator: WebsocketCommunicator, code: int) -> None:
    message = await communicator.receive_output(timeout=5)
    assert message == {
        "type": "websocket.close",
        "code": code,
        **({"reason": message["reason"]} if "reason" in message else {}),
    }


# --------------------------------------------------------------------------- the browser
CHROMIUM = os.environ.get("VERITY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


class CSPViolations:
    """Collects the browser's console reports of content-security policy violations on a page;
    the fixtures fail the test if any were seen (a blocked script or style is a broken page
    under the policy, even when the test's own assertions happened to pass)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.messages.append(f"{message.type}: {message.text} ({message.location.get('url', '')})")

    def check(self) -> None:
        if self.messages:
            pytest.fail("Content-Security-Policy violations in the browser console:\n" + "\n".join(self.messages))


def sign_in(page: Any, base: str, username: str, next_url: str) -> None:
    """Sign in through the login form (the factories' password), then go to ``next_url``."""
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


class JudgeServer:
    """A loopback OpenAI-compatible endpoint that answers a judge prompt with fixed JSON."""

    def __init__(self, content: str, status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        server = self
        self.prompts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.prompts.append(body["messages"][0]["content"])
                data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def routed_priced_tier(text: str) -> Iterator[Any]:
    """A loopback OpenAI-compatible model as tier ``small`` (external, priced) that the routing
    policy sends every question to; yields its server (``.requests``)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from qa.models import ModelPrice, ModelTier, RoutingPolicy
    from tests.qa.fakes import FakeOpenAIServer

    with FakeOpenAIServer(text=text) as server:
        ModelTier.objects.create(name="small", rank=1, provider="openai_compatible", model="fake-small-1",
                                 base_url=server.url, external=True)  # fmt: skip
        policy = RoutingPolicy.objects.create(lookup_tier="small", explanation_tier="small", complex_tier="small")
        ModelPrice.objects.create(model="fake-small-1", input_per_million=Decimal("1.00"),
                                  output_per_million=Decimal("4.00"),
                                  effective_from=timezone.now() - timedelta(days=1))  # fmt: skip
        yield server
        policy.delete()
