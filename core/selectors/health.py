"""Readiness of each component Verity depends on. Each probe is bounded by a short timeout so
that /readyz answers quickly even when a dependency hangs.

/readyz is public (load balancers probe it without credentials), so what anyone may read is
only up/down per component; versions, host names and exception text help an attacker map the
deployment and are shown to staff or to a caller presenting VERITY_READYZ_TOKEN."""

from __future__ import annotations

import functools
import hmac
import time
from dataclasses import asdict, dataclass
from typing import Any

from celery import Celery
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection

from providers.registry import providers_status


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    ok: bool
    detail: str
    latency_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Readiness:
    components: list[ComponentStatus]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.components)

    @property
    def failing(self) -> list[str]:
        return [c.name for c in self.components if not c.ok]


def _timed(name: str, probe: Any) -> ComponentStatus:
    started = time.perf_counter()
    try:
        ok, detail = probe()
    except Exception as exc:  # noqa: BLE001 - any failure of a probe means "not ready"
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return ComponentStatus(name=name, ok=ok, detail=detail, latency_ms=round((time.perf_counter() - started) * 1000, 1))


def _database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    if row is None:
        return False, f"PostgreSQL {version} reachable but the vector extension is missing (run migrate)"
    return True, f"PostgreSQL {version}, pgvector {row[0]}"


def _redis_client() -> Any:
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.VERITY_HEALTH_TIMEOUT_SECONDS,
        socket_timeout=settings.VERITY_HEALTH_TIMEOUT_SECONDS,
    )


def _redis() -> tuple[bool, str]:
    client = _redis_client()
    try:
        client.ping()
        version = client.info("server").get("redis_version", "?")
    finally:
        client.close()
    return True, f"Redis {version}"


@functools.lru_cache(maxsize=4)
def _probe_app(broker_url: str) -> Celery:
    """A Celery app bound to exactly this broker. The project's app caches its broker
    connection pool on first use, so a ping through it could go to a broker the settings no
    longer name."""
    probe = Celery("verity-readiness", broker=broker_url, set_as_current=False)
    probe.conf.broker_connection_retry = False
    probe.conf.broker_transport_options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    return probe


def _celery() -> tuple[bool, str]:
    probe = _probe_app(settings.CELERY_BROKER_URL)
    with probe.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0, timeout=settings.VERITY_HEALTH_TIMEOUT_SECONDS)
        # limit=1: answer as soon as one worker replies instead of waiting out the timeout.
        replies = probe.control.ping(timeout=settings.VERITY_HEALTH_TIMEOUT_SECONDS, connection=conn, limit=1)
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        return False, "no Celery worker answered a ping"
    return True, f"{len(workers)} worker(s): {', '.join(workers)}"


def _models() -> tuple[bool, str]:
    return providers_status()


def readiness_check() -> Readiness:
    """Probe each component; Celery is only asked when Redis (its broker) answered."""
    database = _timed("database", _database)
    redis_status = _timed("redis", _redis)
    if redis_status.ok:
        celery = _timed("celery", _celery)
    else:
        celery = ComponentStatus(name="celery", ok=False, detail="broker (Redis) unreachable", latency_ms=0.0)
    models = _timed("models", _models)
    return Readiness(components=[database, redis_status, celery, models])


def readiness_details_allowed(*, user: User | AnonymousUser, presented_token: str | None) -> bool:
    """Whether the caller may read each component's detail: staff users, or a caller whose
    token equals VERITY_READYZ_TOKEN (compared in constant time; no token configured: nobody)."""
    if user.is_authenticated and getattr(user, "is_staff", False):
        return True
    expected: str = settings.VERITY_READYZ_TOKEN
    if not expected or not presented_token:
        return False
    return hmac.compare_digest(presented_token.encode(), expected.encode())


def readiness_as_dict(readiness: Readiness, *, detailed: bool) -> dict[str, Any]:
    """The /readyz body: public callers get the overall status and up/down per component."""
    body: dict[str, Any] = {"status": "ok" if readiness.ok else "unavailable"}
    if not detailed:
        body["components"] = {c.name: "up" if c.ok else "down" for c in readiness.components}
        return body
    body["failing"] = readiness.failing
    body["components"] = {c.name: c.as_dict() for c in readiness.components}
    return body
