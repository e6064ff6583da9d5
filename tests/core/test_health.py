from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.test import Client, override_settings

from config.settings.base import celery_url, redis_url_with_db
from core import embedded


def _readyz(client: Client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


@pytest.mark.django_db
def test_healthz_answers_without_login(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_each_component_and_503_without_a_worker(client: Client) -> None:
    # Point the broker at a Redis database no worker listens on, so no worker answers.
    with override_settings(CELERY_BROKER_URL=celery_url(redis_url_with_db(_settings_redis(), 9))):
        status, body = _readyz(client)
    assert status == 503
    assert set(body["components"]) == {"database", "redis", "celery", "models"}
    assert body["components"]["database"]["ok"] is True
    assert "pgvector" in body["components"]["database"]["detail"]
    assert body["components"]["redis"]["ok"] is True
    assert body["components"]["models"]["ok"] is True
    assert body["failing"] == ["celery"]


def _settings_redis() -> str:
    from django.conf import settings

    return settings.REDIS_URL


@pytest.mark.slow
@pytest.mark.django_db
def test_readyz_names_redis_when_it_stops_and_recovers_when_it_returns(
    client: Client, celery_worker_for, tmp_path: Path
) -> None:
    root = tmp_path / "redis-under-test"
    redis_url = embedded.redis_ensure(root)
    celery_worker_for(redis_url)
    broker = celery_url(redis_url_with_db(redis_url, 0))
    try:
        with override_settings(REDIS_URL=redis_url, CELERY_BROKER_URL=broker):
            status, body = _wait_readyz(client, want=200)
            assert status == 200, body
            assert all(c["ok"] for c in body["components"].values())

            embedded.redis_stop(root)
            status, body = _readyz(client)
            assert status == 503
            assert "redis" in body["failing"]
            assert body["components"]["redis"]["ok"] is False
            # Pages that do not need Redis keep working.
            assert client.get("/healthz").status_code == 200
            assert client.get("/accounts/login/").status_code == 200

            embedded.redis_ensure(root)
            status, body = _wait_readyz(client, want=200, timeout=60)
            assert status == 200, body
    finally:
        embedded.redis_stop(root)


def _wait_readyz(client: Client, *, want: int, timeout: float = 45) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    status, body = _readyz(client)
    while status != want and time.monotonic() < deadline:
        time.sleep(0.5)
        status, body = _readyz(client)
    return status, body
