from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.test import Client, override_settings

from config.settings.base import celery_url, redis_url_with_db
from core import embedded
from tests.factories import user_create

MONITORING_TOKEN = "readyz-monitoring-token-0123456789"


def _readyz(client: Client, **headers: str) -> tuple[int, dict]:
    response = client.get("/readyz", headers=headers)
    return response.status_code, response.json()


def _staff_client() -> Client:
    client = Client()
    client.force_login(user_create(staff=True))
    return client


@pytest.mark.django_db
def test_healthz_answers_without_login(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_each_component_and_503_without_a_worker() -> None:
    # Point the broker at a Redis database no worker listens on, so no worker answers.
    with override_settings(CELERY_BROKER_URL=celery_url(redis_url_with_db(_settings_redis(), 9))):
        status, body = _readyz(_staff_client())
    assert status == 503
    assert set(body["components"]) == {"database", "redis", "celery", "models"}
    assert body["components"]["database"]["ok"] is True
    assert "pgvector" in body["components"]["database"]["detail"]
    assert body["components"]["redis"]["ok"] is True
    assert body["components"]["models"]["ok"] is True
    assert body["failing"] == ["celery"]


def _no_worker_broker() -> str:
    return celery_url(redis_url_with_db(_settings_redis(), 9))


@pytest.mark.django_db
def test_readyz_tells_anonymous_callers_up_or_down_and_nothing_else(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=_no_worker_broker(), VERITY_READYZ_TOKEN=MONITORING_TOKEN):
        status, body = _readyz(client)
    assert status == 503
    assert body == {
        "status": "unavailable",
        "components": {"database": "up", "redis": "up", "celery": "down", "models": "up"},
    }
    # No version, host, socket path or exception text anywhere in what an anonymous caller reads.
    text = json.dumps(body)
    assert "PostgreSQL" not in text and "Redis " not in text and "worker" not in text and "/" not in text


@pytest.mark.django_db
def test_readyz_details_for_staff_but_not_for_other_signed_in_users() -> None:
    reader = Client()
    reader.force_login(user_create())
    with override_settings(CELERY_BROKER_URL=_no_worker_broker()):
        _, reader_body = _readyz(reader)
        _, staff_body = _readyz(_staff_client())
    assert reader_body["components"]["database"] == "up"
    assert "pgvector" in staff_body["components"]["database"]["detail"]
    assert staff_body["failing"] == ["celery"]


@pytest.mark.django_db
def test_readyz_details_with_the_monitoring_token_only_when_it_matches(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=_no_worker_broker(), VERITY_READYZ_TOKEN=MONITORING_TOKEN):
        _, good = _readyz(client, x_readyz_token=MONITORING_TOKEN)
        _, wrong = _readyz(client, x_readyz_token=MONITORING_TOKEN[:-1] + "X")
        _, empty = _readyz(client, x_readyz_token="")
    assert "pgvector" in good["components"]["database"]["detail"]
    assert good["components"]["celery"]["ok"] is False
    assert wrong["components"]["database"] == "up"
    assert empty["components"]["database"] == "up"


@pytest.mark.django_db
def test_readyz_without_a_configured_token_accepts_no_token(client: Client) -> None:
    # An unset token must not match an empty or any presented value.
    with override_settings(VERITY_READYZ_TOKEN=""):
        _, body = _readyz(client, x_readyz_token="")
        _, other = _readyz(client, x_readyz_token="anything")
    assert isinstance(body["components"]["database"], str)
    assert isinstance(other["components"]["database"], str)


def _settings_redis() -> str:
    from django.conf import settings

    return settings.REDIS_URL


@pytest.mark.slow
@pytest.mark.django_db
def test_readyz_names_redis_when_it_stops_and_recovers_when_it_returns(celery_worker_for, tmp_path: Path) -> None:
    client = _staff_client()
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
            assert Client().get("/healthz").status_code == 200
            assert Client().get("/accounts/login/").status_code == 200
            # ...and anonymous callers still learn which component is down (not why).
            assert _readyz(Client())[1]["components"]["redis"] == "down"

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
