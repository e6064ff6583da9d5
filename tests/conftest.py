"""Suite-wide fixtures: real PostgreSQL+pgvector and Redis (embedded unless configured), the
network blocked except for loopback, and helpers to run real Verity processes."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"

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


# --------------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
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
def _close_stray_connections(django_db_setup: None, django_db_blocker) -> Iterator[None]:  # noqa: ANN001
    """Before the test database is dropped, end sessions left by threads of async tests and by
    killed subprocesses, so the drop succeeds and the next run starts clean."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
