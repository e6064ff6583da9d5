"""Django's Redis cache with django-prometheus's cache counters (``django_cache_get_*``):
django-prometheus ships such a backend only for django-redis, which Verity does not use."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)

BACKEND_LABEL = "redis"
_MISSING = object()


class MeteredRedisCache(RedisCache):
    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        django_cache_get_total.labels(backend=BACKEND_LABEL).inc()
        try:
            value = super().get(key, _MISSING, version)
        except Exception:
            django_cache_get_fail_total.labels(backend=BACKEND_LABEL).inc()
            raise
        if value is _MISSING:
            django_cache_misses_total.labels(backend=BACKEND_LABEL).inc()
            return default
        django_cache_hits_total.labels(backend=BACKEND_LABEL).inc()
        return value
