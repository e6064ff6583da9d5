"""Suite-wide fixtures: real PostgreSQL+pgvector and Redis (embedded unless configured), the
network blocked except for loopback, and helpers to run real Verity processes."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings

from tests.factories import collection_create, document_ingest, user_create
from tests.helpers import (
    ARTIFACTS,
    BENEFITS,
    CHROMIUM,
    CHROMIUM_ARGS,
    HANDBOOK,
    ROOT,
    WELLNESS,
    CSPViolations,
    database_url_for,
    free_port,
    process_env,
    stop_process,
    wait_for_http,
)

# --------------------------------------------------------------------------- network guard
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host = str(address[0])
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise RuntimeError(f"tests may not open network connections (tried {host})")
    return _real_connect(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the test suite's own embedded servers so nothing is left running."""
    if os.environ.get("VERITY_KEEP_TEST_SERVERS"):
        return
    from core import embedded

    if settings.EMBEDDED_REDIS:
        embedded.redis_stop()
    if settings.EMBEDDED_DATABASE:
        embedded.postgres_stop()


@pytest.fixture
def celery_worker_for() -> Iterator[object]:
    """Start real Celery workers (solo pool) against a given Redis URL; stopped at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(redis_url: str, database_url: str | None = None, **extra_env: str) -> subprocess.Popen[bytes]:
        env = process_env(REDIS_URL=redis_url, **({"DATABASE_URL": database_url} if database_url else {}), **extra_env)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                f"--hostname=test-{len(started)}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)


@pytest.fixture
def daphne_server(transactional_db: None) -> Iterator[str]:
    """The real ASGI app (HTTP + websockets) served by daphne against the test database."""
    port = free_port()
    env = process_env(
        DATABASE_URL=database_url_for(settings.DATABASES["default"]["NAME"]),
        REDIS_URL=settings.REDIS_URL,
        DJANGO_ALLOW_ASYNC_UNSAFE="",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", process=process)
        yield url
    finally:
        stop_process(process)


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session", autouse=True)
def _close_stray_connections(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Before the test database is dropped, end sessions left by threads of async tests and by
    killed subprocesses, so the drop succeeds and the next run starts clean."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


# --------------------------------------------------------------------------- the embedding model
@pytest.fixture(scope="session", autouse=True)
def _embeddings_memoised() -> Iterator[None]:
    """The real embedding model, run once per distinct batch of texts in this process. Tests
    ingest the same handbook and ask the same questions again and again; the model is
    deterministic for a given batch, so a repeated batch gets exactly the vectors it got the
    first time (keyed by the whole batch: a text embedded alone and in a larger batch may take
    different code paths, fp32 or bf16, and must not share a vector). Processes the tests start
    (Celery workers, daphne) run the model as usual."""
    from providers.embeddings.sentence_transformers import SentenceTransformerEmbeddings

    original = SentenceTransformerEmbeddings._embed
    memo: dict[tuple[str, bool, tuple[str, ...]], np.ndarray] = {}
    lock = threading.Lock()

    def _embed(self: SentenceTransformerEmbeddings, texts: list[str]) -> Sequence[Sequence[float]]:
        key = (str(self.model_path), self.bf16, tuple(texts))
        with lock:
            known = memo.get(key)
        if known is None:
            known = np.array(original(self, texts), dtype=np.float32)
            with lock:
                memo[key] = known
        return known.copy()

    SentenceTransformerEmbeddings._embed = _embed  # type: ignore[method-assign]
    try:
        yield
    finally:
        SentenceTransformerEmbeddings._embed = original  # type: ignore[method-assign]


# --------------------------------------------------------------------------- corpora
@pytest.fixture
def staff(db: None) -> tuple[Any, Any, dict[str, Any]]:
    """A user of the "staff" group and its handbook collection: travel, benefits, wellness."""
    user = user_create(username="staffer", groups=("staff",))
    collection = collection_create(name="Staff handbook", groups=("staff",))
    docs = {
        "travel": document_ingest(collection, HANDBOOK, "travel.md"),
        "benefits": document_ingest(collection, BENEFITS, "benefits.md"),
        "wellness": document_ingest(collection, WELLNESS, "wellness.md"),
    }
    return user, collection, docs


# --------------------------------------------------------------------------- the browser
@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    # Playwright's sync API runs an event loop; the test's own ORM calls are in plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        violations = CSPViolations()
        violations.watch(page)
        try:
            yield page
        finally:
            context.close()
            browser.close()
        violations.check()


@pytest.fixture
def reader(db: None) -> Any:
    """A user of "staff-readers" and its one-document handbook (travel.md)."""
    user = user_create(username="reader", groups=("staff-readers",))
    collection = collection_create(name="Handbook", groups=("staff-readers",))
    document_ingest(collection, HANDBOOK, "travel.md")
    return user
